import Foundation
import Testing
import TestSupport

/// A run directory holds one run: reused with other data or another configuration it refuses,
/// `--resume never` clears the old run before the new one writes (a crash then resumes the new
/// run, never the old), and a checkpoint with any damaged header byte is skipped for the older
/// one. Real runs of the binary, real SIGKILL, real files.
@Suite("iumad train: run identity and checkpoint integrity", .serialized)
struct RunIdentityCLITests {
  static func synth(_ seed: Int) -> Result<String, FixtureFailure> {
    synthesize("identity-\(seed)", ["--classes", "3", "--train", "20", "--test", "6", "--size", "64", "--seed", "\(seed)"])
  }
  static let synthesisA = synth(31), synthesisB = synth(32)
  static var dataA: String { get throws { try synthesisA.get() } }
  static var dataB: String { get throws { try synthesisB.get() } }

  func args(_ data: String, _ out: String, cache: String, epochs: Int = 4) -> [String] {
    ["train", "--config", packageRoot.appendingPathComponent("configs/tiny.yaml").path, "--data", data, "--out", out,
     "--set", "backbone.cache=\(cache)", "--set", "train.schedule=2-1", "--set", "train.epochs_base=\(epochs)",
     "--set", "train.epochs_incremental=2", "--set", "train.keep_checkpoints=3", "--checkpoint-every", "3"]
  }

  func bytes(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

  @Test func reusedWithOtherDataOrConfigRefusesAndNeverStartsOver() throws {
    let root = try temporaryDirectory("identity-reuse")
    let cache = root.appendingPathComponent("cache").path, run = root.appendingPathComponent("run").path
    let first = try runIUMAD(args(Self.dataA, run, cache: cache))
    #expect(first.status == 0, "stderr: \(first.stderr)")
    let metricsA = bytes(run + "/metrics.json"), configA = bytes(run + "/config.yaml")

    // Same command, other data: an error naming what differs; nothing of the run changes.
    let other = try runIUMAD(args(Self.dataB, run, cache: cache))
    #expect(other.status == 1 && other.stderr.contains("holds another run") && other.stderr.contains("data: class")
              && other.stderr.contains("--resume never") && !other.stderr.contains("Usage:"), "\(other.stderr)")
    #expect(bytes(run + "/metrics.json") == metricsA && bytes(run + "/config.yaml") == configA)

    // Another configuration (fewer epochs than the run has trained): refused, no trap.
    let fewer = try runIUMAD(args(Self.dataA, run, cache: cache, epochs: 2))
    #expect(fewer.status == 1 && fewer.stderr.contains("train.epochs_base: 4 → 2"), "\(fewer.stderr)")
    let oldest = try FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints").filter { $0.hasSuffix(".iumad") }.sorted()[0]
    let fromFile = try runIUMAD(args(Self.dataA, root.appendingPathComponent("elsewhere").path, cache: cache, epochs: 2)
                                  + ["--resume", run + "/checkpoints/" + oldest])
    #expect(fromFile.status == 1 && fromFile.stderr.contains("written by another run") && fromFile.stderr.contains("train.epochs_base: 4 → 2"),
            "\(fromFile.stderr)")

    // The same run again: finished, same results, exit 0.
    let again = try runIUMAD(args(Self.dataA, run, cache: cache))
    #expect(again.status == 0 && bytes(run + "/metrics.json") == metricsA, "\(again.stderr)")

    // --resume never with the other data: the old outputs are removed (and said so), B trained.
    let fresh = root.appendingPathComponent("fresh-b").path
    #expect(try runIUMAD(args(Self.dataB, fresh, cache: cache)).status == 0)
    let never = try runIUMAD(args(Self.dataB, run, cache: cache) + ["--resume", "never"])
    #expect(never.status == 0 && never.stderr.contains("--resume never: removed the previous run's checkpoints"), "\(never.stderr)")
    #expect(bytes(run + "/metrics.json") == bytes(fresh + "/metrics.json"))
    #expect(bytes(run + "/model.safetensors") == bytes(fresh + "/model.safetensors"))
  }

  @Test func neverThenCrashThenAutoResumesTheNewRun() throws {
    let root = try temporaryDirectory("identity-crash")
    let cache = root.appendingPathComponent("cache").path, run = root.appendingPathComponent("run").path
    let reference = root.appendingPathComponent("reference").path
    // The old run (data A) has checkpoints at later positions than the new run's first ones.
    #expect(try runIUMAD(args(Self.dataA, run, cache: cache)).status == 0)
    #expect(try runIUMAD(args(Self.dataB, reference, cache: cache, epochs: 12)).status == 0)

    let p = try RunningProcess(try iumadBinary().path, try args(Self.dataB, run, cache: cache, epochs: 12) + ["--resume", "never"])
    _ = p.poll(timeout: 120) {
      guard listing(of: run + "/checkpoints").contains(where: { $0.hasPrefix("ckpt-000-0000") && $0 >= "ckpt-000-00003" && $0.hasSuffix(".iumad") })
      else { return false }
      kill(p.processIdentifier, SIGKILL)
      return true
    }
    #expect(p.wait().killedBySignal, "the run finished before it could be killed")

    let resumed = try runIUMAD(args(Self.dataB, run, cache: cache, epochs: 12))
    #expect(resumed.status == 0 && resumed.stderr.contains("resuming from \(run)/checkpoints/ckpt-000-"), "\(resumed.stderr)")
    #expect(bytes(run + "/metrics.json") == bytes(reference + "/metrics.json"), "the resumed run mixed in the old run")
    #expect(bytes(run + "/model.safetensors") == bytes(reference + "/model.safetensors"))
  }

  @Test func everyDamagedHeaderFieldFallsBackToTheOlderCheckpoint() throws {
    let root = try temporaryDirectory("identity-header")
    let cache = root.appendingPathComponent("cache").path, run = root.appendingPathComponent("run").path
    #expect(try runIUMAD(args(Self.dataA, run, cache: cache)).status == 0)
    let dir = run + "/checkpoints"
    let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".iumad") }.sorted()
    #expect(files.count == 3)
    let newest = dir + "/" + files[2], original = bytes(newest)
    let (model, metrics) = (bytes(run + "/model.safetensors"), bytes(run + "/metrics.json"))
    // magic 0..<8 | version 8..<12 | config hash | shape hash | raw size | packed size | checksum
    let fields = [("magic", 3), ("version", 8), ("config hash", 13), ("shape hash", 21), ("raw size", 32), ("raw size high", 35),
                  ("packed size", 40), ("checksum", 50)]
    for (field, offset) in fields {
      var damaged = [UInt8](original)
      damaged[offset] ^= 0x40
      try Data(damaged).write(to: URL(fileURLWithPath: newest))
      let r = try runIUMAD(args(Self.dataA, run, cache: cache))
      #expect(r.status == 0 && r.stderr.contains("skipping unusable checkpoint \(newest)")
                && r.stderr.contains("resuming from \(dir)/\(files[1])"), "\(field): \(r.stderr)")
      // The resumed run ends exactly where the uninterrupted one did.
      #expect(bytes(run + "/model.safetensors") == model && bytes(run + "/metrics.json") == metrics, "\(field)")
    }
    // A leftover temporary file of a killed write is removed and named.
    FileManager.default.createFile(atPath: newest + ".tmp-99999", contents: Data([1, 2, 3]))
    let r = try runIUMAD(args(Self.dataA, run, cache: cache))
    #expect(r.status == 0 && r.stderr.contains("removed \(newest).tmp-99999"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: newest + ".tmp-99999"))
  }

  @Test func defaultRotationKeepsTwoAndTheLogSaysWhatWasRemovedAndTheSize() throws {
    let root = try temporaryDirectory("identity-rotation")
    let run = root.appendingPathComponent("run").path
    let r = try runIUMAD(["train", "--config", packageRoot.appendingPathComponent("configs/tiny.yaml").path, "--data", Self.dataA,
                          "--out", run, "--set", "backbone.cache=\(root.path)/cache", "--set", "train.schedule=2-1",
                          "--set", "train.epochs_base=2", "--set", "train.epochs_incremental=1", "--checkpoint-every", "1"])
    #expect(r.status == 0, "\(r.stderr)")
    let files = try FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints").filter { $0.hasSuffix(".iumad") }
    #expect(files.count == 2, "\(files)")
    let log = try String(contentsOfFile: run + "/train.log", encoding: .utf8)
    #expect(log.contains("saved; removed ckpt-000-") && log.contains("(train.keep_checkpoints: 2)"), "\(log)")
    #expect(log.contains("the run directory holds ") && log.contains(" MB in "), "\(log)")
  }

  @Test func configCheckShowsEachStepsClassesOrWhyTheyDoNotFit() throws {
    let tiny = packageRoot.appendingPathComponent("configs/tiny.yaml").path
    let ok = try runIUMAD(["config", "check", tiny, "--set", "data.root=\(Self.dataA)", "--set", "train.schedule=2-1"])
    #expect(ok.status == 0 && ok.stderr.contains("step 1: ") && ok.stderr.contains("step 2: ") && ok.stdout.contains("schedule: 2-1"), "\(ok.stderr)")
    let tooMany = try runIUMAD(["config", "check", tiny, "--set", "data.root=\(Self.dataA)", "--set", "train.schedule=9-1"])
    #expect(tooMany.status == 1 && tooMany.stderr.contains("needs 10 classes but the dataset has 3"), "\(tooMany.stderr)")
  }
}
