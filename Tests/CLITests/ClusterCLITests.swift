import Foundation
import Testing
import TestSupport

/// Data-parallel training under real `mpirun` (2 and 4 ranks, oversubscribed), tiny config with
/// dropout, feature jitter and the compression loss all on, global batch 8 in micro-batches of 2:
/// 1 rank × 8, 2 ranks × 4 and 4 ranks × 2 log the same losses every iteration and end with
/// byte-identical parameters and metrics (the issue asks ≤ 1e-5; the pairwise micro-batch sum
/// and the rank-ordered all-reduce make it exact). The same runs then check resuming at another
/// world size and sharded evaluation on 3 ranks.
@Suite("mpirun data parallel", .serialized)
struct ClusterCLITests {
  static let synthesis = synthesize("mpi-data", ["--classes", "2", "--train", "16", "--test", "4", "--size", "64", "--seed", "9"])
  static var data: String { get throws { try synthesis.get() } }

  /// `iumad train` arguments of the cluster tests (dropout, jitter and compression as in tiny.yaml).
  func trainArgs(_ out: String, cache: String) throws -> [String] {
    try [iumadBinary().path, "train", "--config", TrainCLITests.repo.appendingPathComponent("configs/tiny.yaml").path,
     "--data", Self.data, "--out", out, "--resume", "never", "--threads", "1", "--log-iterations",
     "--set", "backbone.cache=\(cache)", "--set", "train.schedule=2-0", "--set", "train.epochs_base=2",
     "--set", "train.batch_size=8", "--set", "train.micro_batch=2", "--set", "train.keep_checkpoints=10",
     "--set", "train.bucket_mb=0.1",  // ~7 buckets, reduced while the backward runs
     "--set", "eval.write_maps=off", "--set", "eval.heatmaps_per_class=0"]
  }

  /// Runs `mpirun -np n` (or the binary alone for n = 1); returns (status, stderr).
  func launch(_ n: Int, _ args: [String]) throws -> (Int32, String) {
    var mpi = ["mpirun", "-np", "\(n)", "--oversubscribe", "--bind-to", "none"]
    if getuid() == 0 { mpi.append("--allow-run-as-root") }
    let command = n == 1 ? args : mpi + args
    let r = try runProcess(command[0], Array(command.dropFirst()), environment: ["OMPI_MCA_btl_vader_single_copy_mechanism": "none"])  // containers forbid CMA
    return (r.status, r.stderr)
  }

  /// Every iteration's "it i/n | … | lr … | losses" from a log, without times and rates.
  static func lossLines(_ path: String) -> [String] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").filter { $0.contains(" it ") && $0.contains("grad_norm") }.map { line in
      let parts = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
      return (parts[0].components(separatedBy: "] ").last ?? "") + " | " + parts[2...3].joined(separator: " | ")
    }
  }

  static func bytes(_ p: String) -> Data { FileManager.default.contents(atPath: p) ?? Data() }

  @Test func oneTwoAndFourRanksAreBitIdentical() throws {
    let root = try temporaryDirectory("mpi")
    let cache = root.appendingPathComponent("cache").path
    let one = root.appendingPathComponent("np1").path
    for n in [1, 2, 4] {
      let out = root.appendingPathComponent("np\(n)").path
      let (status, stderr) = try launch(n, try trainArgs(out, cache: cache) + ["--checkpoint-every", "5"])
      #expect(status == 0, "np \(n): \(stderr.suffix(3000))")
      let rank0 = Self.lossLines(out + "/train.log")
      #expect(rank0.count == 10, "np \(n): 2 epochs × 5 iterations, got \(rank0)")
      #expect(rank0.allSatisfy { $0.contains("compression") }, "the compression loss is on")
      for r in 1..<n {
        #expect(Self.lossLines(out + "/train.rank-\(r).log") == rank0, "np \(n): rank \(r) disagrees with rank 0")
      }
      #expect(!FileManager.default.fileExists(atPath: out + "/train.rank-0.log"))
      #expect(rank0 == Self.lossLines(one + "/train.log"), "np \(n): per-iteration losses differ from one rank")
      #expect(!Self.bytes(out + "/model.safetensors").isEmpty && Self.bytes(out + "/model.safetensors") == Self.bytes(one + "/model.safetensors"),
              "np \(n): final parameters differ from one rank")
      #expect(Self.bytes(out + "/metrics.json") == Self.bytes(one + "/metrics.json"), "np \(n): metrics differ from one rank")
    }

    // Resume at another world size: the 2-rank run's checkpoint after epoch 1, continued by
    // 1 rank and by 4 ranks, ends exactly as the uninterrupted 2-rank run.
    let two = root.appendingPathComponent("np2").path
    let mid = two + "/checkpoints/ckpt-000-00001-000000.iumad"
    #expect(FileManager.default.fileExists(atPath: mid))
    for n in [1, 4] {
      let out = root.appendingPathComponent("resume-np\(n)").path
      let args = try trainArgs(out, cache: cache).map { $0 == "never" ? mid : $0 } + ["--checkpoint-every", "5"]
      let (status, stderr) = try launch(n, args)
      #expect(status == 0 && stderr.contains("resuming from"), "resume np \(n): \(stderr.suffix(3000))")
      #expect(Self.lossLines(out + "/train.log") == Array(Self.lossLines(two + "/train.log").suffix(5)), "resume np \(n): epoch 2 losses")
      #expect(Self.bytes(out + "/model.safetensors") == Self.bytes(two + "/model.safetensors"), "resume np \(n): parameters")
      #expect(Self.bytes(out + "/metrics.json") == Self.bytes(two + "/metrics.json"), "resume np \(n): metrics")
    }

    // Sharded evaluation: the 1-rank run's end-of-training checkpoint evaluated by 3 ranks
    // (a non-power-of-two world; every rank scores its batches, rank 0 gathers) gives exactly
    // the metrics and decision threshold of the 1-rank run.
    let end = one + "/checkpoints/ckpt-000-00002-000000.iumad"
    let out = root.appendingPathComponent("eval-np3").path
    let (status, stderr) = try launch(3, try trainArgs(out, cache: cache).map { $0 == "never" ? end : $0 } + ["--checkpoint-every", "5"])
    #expect(status == 0 && stderr.contains("resuming from"), "eval np 3: \(stderr.suffix(3000))")
    #expect(Self.lossLines(out + "/train.log").isEmpty, "nothing left to train")
    #expect(!Self.bytes(out + "/metrics.json").isEmpty && Self.bytes(out + "/metrics.json") == Self.bytes(one + "/metrics.json"))
    #expect(Self.bytes(out + "/model.safetensors") == Self.bytes(one + "/model.safetensors"))
  }
}

/// `iumad bench allreduce` under mpirun: two ranks time every bucket size and the gradient
/// all-reduce of a preset next to its training step.
@Suite("bench allreduce on 2 ranks", .serialized)
struct BenchAllReduceMPITests {
  @Test func twoRanksReportBucketTimesAndOverhead() throws {
    let json = try temporaryDirectory("bench-ar").appendingPathComponent("ar.json").path
    let args = [try iumadBinary().path, "bench", "allreduce", "--presets", "tiny", "--sizes-mb", "1,4", "--repeats", "2", "--steps", "1", "--json", json]
    let (status, stderr) = try ClusterCLITests().launch(2, args)
    #expect(status == 0, "\(stderr.suffix(2000))")
    let obj = ((try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))) as? [String: Any]) ?? [:]
    #expect((obj["ranks"] as? Int) == 2)
    let buckets = obj["buckets"] as? [[String: Any]] ?? []
    #expect(buckets.count == 2 && buckets.allSatisfy { (($0["seconds_per_call"] as? Double) ?? 0) > 0 && (($0["bus_gb_per_s"] as? Double) ?? 0) > 0 })
    let overhead = (obj["steps"] as? [[String: Any]])?.first?["overhead_fraction"] as? Double ?? 0
    #expect(overhead > 0 && overhead < 1)
  }
}

/// Whether this machine lets us make network namespaces (root with CAP_SYS_ADMIN/NET_ADMIN).
let networkNamespacesAvailable: Bool = {
  let name = "iumad-probe-\(getpid())"
  let add = try? runProcess("/usr/sbin/ip", ["netns", "add", name])
  guard add?.status == 0 else {
    print("multi-host test skipped: cannot create network namespaces (\(add?.stderr ?? "no ip command"))")
    return false
  }
  _ = try? runProcess("/usr/sbin/ip", ["netns", "del", name])
  return true
}()

/// cluster/netns-cluster.sh: two "hosts" (network namespaces joined by veth pairs, TCP only)
/// × 1 rank train `tiny` and end exactly as 2 ranks on one host.
@Suite("multi-host over TCP (netns)", .serialized)
struct MultiHostCLITests {
  @Test(.enabled(if: networkNamespacesAvailable)) func twoHostsMatchOneHost() throws {
    let root = try temporaryDirectory("netns")
    let cache = root.appendingPathComponent("cache").path
    let cluster = ClusterCLITests()
    let single = root.appendingPathComponent("single").path
    let (s0, e0) = try cluster.launch(2, try cluster.trainArgs(single, cache: cache))
    #expect(s0 == 0, "\(e0.suffix(3000))")
    let hosts = root.appendingPathComponent("hosts").path
    let script = TrainCLITests.repo.appendingPathComponent("cluster/netns-cluster.sh").path
    let r = try runProcess("/bin/bash", [script, "run", "2", "--"] + (try cluster.trainArgs(hosts, cache: cache)))
    #expect(r.status == 0, "\(r.stderr.suffix(3000))")
    // The gradients crossed the veths: 10 all-reduces of the tiny model's ~170 k floats.
    let crossed = r.stderr.components(separatedBy: "; ").last?.split(separator: " ").first.flatMap { Int($0) } ?? 0
    #expect(crossed > 10_000_000, "bytes over the hosts' TCP links: \(crossed)\n\(r.stderr.suffix(500))")
    let bytes = ClusterCLITests.bytes
    #expect(!bytes(hosts + "/metrics.json").isEmpty && bytes(hosts + "/metrics.json") == bytes(single + "/metrics.json"))
    #expect(bytes(hosts + "/model.safetensors") == bytes(single + "/model.safetensors"))
  }
}

/// SPEC §9 fault recovery: under cluster/supervise.sh, `kill -9` of rank 1 in the middle of an
/// epoch ends the MPI job; the supervisor relaunches it, it resumes from the last checkpoint and
/// finishes with exactly the parameters and metrics of an uninterrupted 2-rank run.
@Suite("supervised fault recovery", .serialized)
struct FaultRecoveryCLITests {
  @Test func killedRankIsRelaunchedAndTheRunEndsAsIfUninterrupted() throws {
    let root = try temporaryDirectory("fault")
    let cache = root.appendingPathComponent("cache").path
    let cluster = ClusterCLITests()
    func args(_ out: String) throws -> [String] {
      try cluster.trainArgs(out, cache: cache).map { $0 == "never" ? "auto" : $0 }
        + ["--set", "train.epochs_base=8", "--checkpoint-every", "3"]
    }
    let clean = root.appendingPathComponent("clean").path
    let (s0, e0) = try cluster.launch(2, try args(clean))
    #expect(s0 == 0, "\(e0)")

    let faulty = root.appendingPathComponent("faulty").path
    let supervise = TrainCLITests.repo.appendingPathComponent("cluster/supervise.sh").path
    var mpi = ["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none"]
    if getuid() == 0 { mpi.append("--allow-run-as-root") }
    // The supervisor's output is drained while the test polls, so a chatty relaunch cannot block it.
    let p = try RunningProcess("/bin/bash", [supervise, "--retries", "2", "--backoff", "1", "--log", root.appendingPathComponent("supervise.log").path, "--"]
                                 + mpi + (try args(faulty)), environment: ["OMPI_MCA_btl_vader_single_copy_mechanism": "none"])
    // Wait for a mid-run checkpoint, then SIGKILL the rank-1 process of this run.
    let killed = p.poll(timeout: 120) {
      guard listing(of: faulty + "/checkpoints").contains(where: { $0.hasPrefix("ckpt-000-00002") }) else { return false }
      var found = false
      for pid in listing(of: "/proc") where Int32(pid) != nil {
        guard let env = try? String(contentsOfFile: "/proc/\(pid)/environ", encoding: .isoLatin1),
          let cmd = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .isoLatin1),
          cmd.contains(faulty), env.contains("OMPI_COMM_WORLD_RANK=1\u{0}") else { continue }
        kill(Int32(pid)!, SIGKILL)
        found = true
      }
      return found
    }
    let (result, _) = p.wait()
    let text = result.stderr
    #expect(killed, "rank 1 was not found to kill")
    #expect(result.status == 0, "\(text.suffix(3000))")
    let log = (try? String(contentsOfFile: root.appendingPathComponent("supervise.log").path, encoding: .utf8)) ?? ""
    #expect(log.contains("attempt 1 failed") && log.contains("attempt 2 succeeded"), "\(log)")
    #expect(text.contains("resuming from"), "the relaunch must resume from a checkpoint")
    let bytes = ClusterCLITests.bytes
    #expect(!bytes(clean + "/model.safetensors").isEmpty && bytes(clean + "/model.safetensors") == bytes(faulty + "/model.safetensors"))
    #expect(bytes(clean + "/metrics.json") == bytes(faulty + "/metrics.json"))
  }
}

/// `cluster/run-local.sh` from the user's own folder: relative paths keep their meaning, and a
/// setup error of N ranks is printed once, by rank 0.
@Suite("cluster/run-local.sh", .serialized)
struct RunLocalScriptTests {
  @Test func relativePathsWorkAndErrorsArePrintedOnce() throws {
    let dir = try temporaryDirectory("run-local")
    try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("data").path, withDestinationPath: try ClusterCLITests.data)
    let script = packageRoot.appendingPathComponent("cluster/run-local.sh").path
    let tiny = packageRoot.appendingPathComponent("configs/tiny.yaml").path
    let args = ["2", "--config", tiny, "--data", "data", "--out", "out", "--threads", "1", "--set", "backbone.cache=cache",
                "--set", "train.schedule=2-0", "--set", "train.epochs_base=1", "--set", "eval.write_maps=off"]
    let env = ["IUMAD_BIN": try iumadBinary().path]
    let ok = try runProcess(script, args, environment: env, directory: dir)
    #expect(ok.status == 0, "\(ok.stderr.suffix(2000))")
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/metrics.json").path))

    let bad = try runProcess(script, args + ["--set", "train.lr=-1"], environment: env, directory: dir)
    let text = bad.stdout + bad.stderr
    #expect(bad.status != 0)
    #expect(text.components(separatedBy: "train.lr: must be greater than 0.0").count == 2, "printed once: \(text)")
  }
}
