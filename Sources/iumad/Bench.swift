import ArgumentParser
import Foundation
import Tensor

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure speed: GEMM ceiling, backbone, training step, S6 scan, attention, inference, all-reduce.",
    subcommands: [BenchGEMM.self, BenchBackbone.self, BenchStep.self, BenchScan.self, BenchAttention.self, BenchInfer.self, BenchAllReduce.self]
  )
}

struct BenchGEMM: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gemm",
    abstract: "OpenBLAS sgemm GFLOP/s for square sizes and thread counts: the machine's ceiling.",
    discussion: """
      With more than one thread each case runs twice: 'ours' splits C among our threads with \
      OpenBLAS single-threaded in each block (what the model uses), 'openblas' is one call on \
      OpenBLAS's own thread pool. The best of all rows is the ceiling.
      """
  )

  @Option(help: "Comma-separated square matrix sizes.")
  var sizes: String = "256,512,1024,2048"

  @Option(help: "Comma-separated thread counts (default: 1 and all cores).")
  var threads: String?

  @Option(help: "Minimum seconds to time each case.")
  var seconds: Double = 0.5

  @Option(help: "Also write the results as JSON to this file.")
  var json: String?

  func run() throws {
    let sizeList = try parseIntList(sizes, option: "--sizes")
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let threadList = try threads.map { try parseIntList($0, option: "--threads") }
      ?? Array(Set([1, cores])).sorted()
    var rows: [[String: Any]] = []
    print(tableRow([("size", 8), ("threads", 8), ("engine", 9), ("GFLOP/s", 12), ("ms/call", 10)]))
    for t in threadList {
      Threading.setThreads(t)
      for n in sizeList {
        for engine in GEMMBenchmark.Engine.allCases where t > 1 || engine == .ours {
          let r = GEMMBenchmark.run(size: n, minSeconds: seconds, engine: engine)
          print(tableRow([("\(n)", 8), ("\(t)", 8), (engine.rawValue, 9), (String(format: "%.1f", r.gflops), 12),
                          (String(format: "%.3f", r.secondsPerCall * 1e3), 10)]))
          rows.append(["size": n, "threads": t, "engine": engine.rawValue, "gflops": r.gflops, "seconds_per_call": r.secondsPerCall])
        }
      }
    }
    let best = rows.compactMap { $0["gflops"] as? Double }.max() ?? 0
    print(String(format: "best: %.1f GFLOP/s", best))
    if let json {
      let obj: [String: Any] = ["bench": "gemm", "results": rows, "best_gflops": best]
      try writeJSON(obj, to: json)
    }
  }
}

func parseIntList(_ s: String, option: String) throws -> [Int] {
  let parts = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
  let ints = parts.compactMap { Int($0) }
  guard ints.count == parts.count, !ints.isEmpty, ints.allSatisfy({ $0 > 0 }) else {
    throw ValidationError("\(option): expected comma-separated positive integers, got '\(s)'")
  }
  return ints
}

/// The options the `iumad bench` commands that time our kernels share.
struct BenchOptions: ParsableArguments {
  @Option(help: "Threads (default: all cores).") var threads: Int?
  @Option(help: "Also write the results as JSON to this file.") var json: String?

  /// Our kernels' width for the measurement: --threads, else every core.
  func applyThreads() { Threading.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount) }

  /// The results as JSON, when --json asked for them.
  func write(_ obj: Any) throws { if let json { try writeJSON(obj, to: json) } }
}

func writeJSON(_ obj: Any, to path: String) throws {
  let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
  do { try data.write(to: URL(fileURLWithPath: path)) } catch {
    throw ValidationError("cannot write JSON to '\(path)': \(error.localizedDescription)")
  }
}

/// One table line: each cell padded to its width, the first left-aligned, the rest right-aligned
/// (String(format:) does not pad %@ in swift-corelibs-foundation).
func tableRow(_ cells: [(String, Int)]) -> String {
  cells.enumerated().map { i, c in
    let pad = String(repeating: " ", count: max(0, c.1 - c.0.count))
    return i == 0 ? c.0 + pad : pad + c.0
  }.joined(separator: " ")
}
