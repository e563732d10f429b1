import ArgumentParser
import Cluster
import Foundation
import Model
import Tensor

struct BenchAllReduce: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "allreduce",
    abstract: "Gradient all-reduce time per bucket size, and its share of a training step, across the ranks of this job.",
    discussion: """
      Run it under mpirun with the ranks you train with, e.g.
        mpirun -np 2 iumad bench allreduce --presets tiny,demo
      (alone it is a world of one, where the all-reduce is free). Part 1 times the all-reduce \
      (rank-ordered recursive halving/doubling, or MPI_Allreduce for non-power-of-two worlds) \
      of one bucket per size, slowest rank, with the bus bandwidth 2·(P−1)/P·bytes/time. \
      Part 2 times, per preset, one training step on each rank's share of the global batch \
      and the all-reduce of the whole gradient in buckets of --bucket-mb, and reports the \
      all-reduce's fraction of step + all-reduce (no overlap). docs/scaling.md projects these \
      numbers to 8–64 nodes.
      """
  )

  @Option(help: "Comma-separated bucket sizes in MiB.")
  var sizesMb: String = "1,4,16,64"

  @Option(help: "Timed repetitions per bucket size (after one warm-up).")
  var repeats: Int = 5

  @Option(help: "Comma-separated presets for the step-overhead part (empty: skip it).")
  var presets: String = "tiny,demo"

  @Option(help: "Global batch of the step-overhead part (split over the ranks).")
  var batch: Int = 8

  @Option(help: "Bucket size in MiB for the whole-gradient all-reduce.")
  var bucketMb: Int = 16

  @Option(help: "Timed training steps per preset.")
  var steps: Int = 2

  @Option(help: "Also write the results as JSON to this file (rank 0).")
  var json: String?

  func run() throws {
    let sizes = try parseIntList(sizesMb, option: "--sizes-mb")
    guard repeats >= 1, steps >= 1, batch >= 1, bucketMb >= 1 else {
      throw ValidationError("--repeats, --steps, --batch and --bucket-mb must be positive")
    }
    let names = presets.split(separator: ",").map(String.init)
    for n in names where ModelConfig.preset(n) == nil { throw ValidationError("--presets: unknown preset '\(n)' (tiny, demo, paper)") }
    let comm = processCommunicator()
    Threading.setThreads(Threading.defaultThreads(ranksOnNode: comm.localSize))
    let p = comm.size
    func say(_ s: String) { if comm.isCoordinator { print(s) } }
    /// The slowest rank's seconds for `body` (every rank runs it).
    func slowest(_ body: () -> Void) -> Double {
      comm.barrier()
      let start = DispatchTime.now().uptimeNanoseconds
      body()
      var times = [Float](repeating: 0, count: p)
      times[comm.rank] = Float(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
      comm.allReduceSum(&times)
      return Double(times.max() ?? 0)
    }
    say("\(p) rank(s), \(Threading.threads) thread(s) per rank")
    say(tableRow([("bucket MiB", 10), ("ms/call", 12), ("bus GB/s", 12)]))
    var bucketRows: [[String: Any]] = []
    for mb in sizes {
      var buffer = [Float](repeating: 1, count: mb << 18)
      comm.allReduceSum(&buffer)
      let t = slowest { for _ in 0..<repeats { comm.allReduceSum(&buffer) } } / Double(repeats)
      let bus = p > 1 && t > 0 ? 2 * Double(p - 1) / Double(p) * Double(mb << 20) / t / 1e9 : 0
      say(String(format: "%10d %12.3f %12.2f", mb, t * 1e3, bus))
      bucketRows.append(["bucket_mib": mb, "seconds_per_call": t, "bus_gb_per_s": bus])
    }
    var presetRows: [[String: Any]] = []
    if !names.isEmpty {
      say(tableRow([("preset", 8), ("params", 10), ("local batch", 12), ("s/step", 12), ("allreduce s", 14), ("overhead", 10)]))
    }
    for name in names {
      let local = max(1, batch / p)
      let probe = StepProbe(preset: name, batch: local)
      probe.step()
      let step = slowest { for _ in 0..<steps { probe.step() } } / Double(steps)
      let counts = probe.model.parameters.tensors.map(\.count)
      func reduce() { GradientAllReduce(communicator: comm, counts: counts, extra: 0, bucketElements: bucketMb << 18).finish() }
      reduce()
      let t = slowest { for _ in 0..<repeats { reduce() } } / Double(repeats)
      let overhead = t / (step + t)
      say(tableRow([(name, 8), ("\(probe.parameterCount)", 10), ("\(local)", 12), (String(format: "%.3f", step), 12),
                    (String(format: "%.4f", t), 14), (String(format: "%.2f%%", overhead * 100), 10)]))
      presetRows.append(["preset": name, "parameters": probe.parameterCount, "local_batch": local, "seconds_per_step": step,
                         "allreduce_seconds": t, "overhead_fraction": overhead])
    }
    if let json, comm.isCoordinator {
      try writeJSON(["bench": "allreduce", "ranks": p, "threads_per_rank": Threading.threads, "buckets": bucketRows,
                     "steps": presetRows, "bucket_mib": bucketMb], to: json)
    }
  }
}
