import ArgumentParser
import Foundation
import Tensor

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure speed: GEMM ceiling, backbone images/s, training step, all-reduce.",
    subcommands: [BenchGEMM.self, BenchBackbone.self, BenchStep.self, BenchAllReduce.self]
  )
}

struct BenchGEMM: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gemm",
    abstract: "OpenBLAS sgemm GFLOP/s for square sizes and thread counts: the machine's ceiling."
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
    print(String(format: "%8@ %8@ %12@ %10@", "size", "threads", "GFLOP/s", "ms/call"))
    for t in threadList {
      Threading.setThreads(t)
      for n in sizeList {
        let r = GEMMBenchmark.run(size: n, minSeconds: seconds)
        print(String(format: "%8d %8d %12.1f %10.3f", n, t, r.gflops, r.secondsPerCall * 1e3))
        rows.append(["size": n, "threads": t, "gflops": r.gflops, "seconds_per_call": r.secondsPerCall])
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

func writeJSON(_ obj: Any, to path: String) throws {
  let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
  do { try data.write(to: URL(fileURLWithPath: path)) } catch {
    throw ValidationError("cannot write JSON to '\(path)': \(error.localizedDescription)")
  }
}
