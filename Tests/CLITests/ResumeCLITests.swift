import Foundation
import Testing
import TestSupport

/// Checkpoints on disk, a real SIGKILL in the middle of a step, `--resume auto`, and damaged
/// checkpoint files: the resumed run must end bit-identical to an uninterrupted one.
@Suite("iumad train: checkpoints and exact resume", .serialized)
struct ResumeCLITests {
  static let synthesis = synthesize("resume-data", ["--classes", "3", "--train", "20", "--test", "6", "--size", "64", "--seed", "5"])
  static var data: String { get throws { try synthesis.get() } }

  func args(_ out: String, cache: String) throws -> [String] {
    try ["train", "--config", TrainCLITests.repo.appendingPathComponent("configs/tiny.yaml").path, "--data", Self.data, "--out", out,
     "--set", "backbone.cache=\(cache)", "--set", "train.schedule=2-1", "--set", "train.epochs_base=12",
     "--set", "train.epochs_incremental=3", "--set", "train.keep_checkpoints=3", "--checkpoint-every", "4"]
  }

  func bytes(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

  @Test func killedRunResumesBitIdenticallyAndSkipsDamagedCheckpoints() throws {
    let root = try temporaryDirectory("resume")
    let cache = root.appendingPathComponent("cache").path
    let a = root.appendingPathComponent("a").path, b = root.appendingPathComponent("b").path
    let full = try runIUMAD(args(a, cache: cache))
    #expect(full.status == 0, "stderr: \(full.stderr)")

    // Run b is killed with SIGKILL once a mid-base-step checkpoint exists.
    let p = try RunningProcess(try iumadBinary().path, try args(b, cache: cache))
    var killedAt: [String] = []
    _ = p.poll(timeout: 120) {
      let ckpts = listing(of: b + "/checkpoints").filter { $0.hasPrefix("ckpt-000-0000") && $0.hasSuffix(".iumad") }
      guard ckpts.contains(where: { $0 >= "ckpt-000-00003" }) else { return false }
      kill(p.processIdentifier, SIGKILL)
      killedAt = ckpts.sorted()
      return true
    }
    #expect(p.wait().killedBySignal, "the run finished before it could be killed")
    #expect(!killedAt.isEmpty)
    #expect(!FileManager.default.fileExists(atPath: b + "/model.safetensors"), "killed before the first step ended")

    let resumed = try runIUMAD(args(b, cache: cache))
    #expect(resumed.status == 0, "stderr: \(resumed.stderr)")
    #expect(resumed.stderr.contains("resuming from"), "\(resumed.stderr)")
    #expect(bytes(a + "/model.safetensors") == bytes(b + "/model.safetensors") && !bytes(a + "/model.safetensors").isEmpty,
            "resumed parameters differ from the uninterrupted run")
    #expect(bytes(a + "/metrics.json") == bytes(b + "/metrics.json"))

    // Damage the two newest checkpoints of run a: a truncated file and a flipped byte.
    let files = try FileManager.default.contentsOfDirectory(atPath: a + "/checkpoints").filter { $0.hasSuffix(".iumad") }.sorted()
    #expect(files.count == 3)
    let newest = a + "/checkpoints/" + files[2], second = a + "/checkpoints/" + files[1]
    let whole = bytes(newest)
    try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: newest))
    var flipped = [UInt8](bytes(second))
    flipped[flipped.count - 10] ^= 0x40
    try Data(flipped).write(to: URL(fileURLWithPath: second))
    let again = try runIUMAD(args(a, cache: cache))
    #expect(again.status == 0, "stderr: \(again.stderr)")
    #expect(again.stderr.contains("skipping unusable checkpoint \(newest)") && again.stderr.contains("truncated"), "\(again.stderr)")
    #expect(again.stderr.contains("skipping unusable checkpoint \(second)") && again.stderr.contains("checksum"), "\(again.stderr)")
    #expect(again.stderr.contains("resuming from \(a)/checkpoints/\(files[0])"), "\(again.stderr)")
    #expect(bytes(a + "/model.safetensors") == bytes(b + "/model.safetensors"))

    // A checkpoint of another configuration (here: another model shape) is refused, saying what differs.
    let other = try runIUMAD(args(a, cache: cache) + ["--resume", a + "/checkpoints/" + files[0], "--set", "model.hidden=16"])
    #expect(other.status == 1 && other.stderr.contains("model.hidden: 32 → 16"), "\(other.stderr)")
  }

  /// A checkpoint written in the middle of an incremental step (θ_old, the SGD state and the
  /// projection travel in it) resumes to the same parameters as the uninterrupted run.
  @Test func resumesInsideAnIncrementalStep() throws {
    let root = try temporaryDirectory("resume-inc")
    let cache = root.appendingPathComponent("cache").path
    let a = root.appendingPathComponent("a").path, b = root.appendingPathComponent("b").path
    let rule = ["--set", "train.incremental_lr=1"]
    let full = try runIUMAD(args(a, cache: cache) + rule)
    #expect(full.status == 0, "stderr: \(full.stderr)")
    // ckpt-001-EEEEE-IIIIII: step 2 (the incremental one), written after an update inside it.
    let inside = try FileManager.default.contentsOfDirectory(atPath: a + "/checkpoints")
      .filter { $0.hasPrefix("ckpt-001-") && $0.hasSuffix(".iumad") }.sorted().first
    let checkpoint = try #require(inside, "no checkpoint inside the incremental step")
    let resumed = try runIUMAD(args(b, cache: cache) + rule + ["--resume", a + "/checkpoints/" + checkpoint])
    #expect(resumed.status == 0, "stderr: \(resumed.stderr)")
    #expect(resumed.stderr.contains("resuming from"), "\(resumed.stderr)")
    #expect(bytes(a + "/model.safetensors") == bytes(b + "/model.safetensors") && !bytes(b + "/model.safetensors").isEmpty,
            "resumed parameters differ from the uninterrupted run")
  }
}
