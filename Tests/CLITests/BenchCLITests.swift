import Foundation
import Testing
import TestSupport

@Suite("iumad CLI: version, help, bench gemm", .serialized)
struct BenchCLITests {
  @Test func versionAndHelp() throws {
    let v = try runIUMAD(["--version"])
    #expect(v.status == 0)
    #expect(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    let h = try runIUMAD(["--help"])
    #expect(h.status == 0 && h.stdout.contains("bench"))
  }

  @Test func benchGEMMPrintsAndWritesJSON() throws {
    let dir = try temporaryDirectory("bench")
    let json = dir.appendingPathComponent("gemm.json").path
    let r = try runIUMAD(["bench", "gemm", "--sizes", "64,128", "--threads", "1", "--seconds", "0.05", "--json", json])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("GFLOP/s") && r.stdout.contains("best:"))
    let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
    let results = obj?["results"] as? [[String: Any]]
    #expect(results?.count == 2)
    #expect(((obj?["best_gflops"] as? Double) ?? 0) > 0)
  }

  @Test func benchStepReportsThroughputAndFLOPs() throws {
    let dir = try temporaryDirectory("bench-step")
    let json = dir.appendingPathComponent("step.json").path
    let r = try runIUMAD(["bench", "step", "--presets", "tiny", "--batches", "2", "--steps", "1", "--json", json])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("samples/s") && r.stdout.contains("tiny"))
    let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
    let row = (obj?["results"] as? [[String: Any]])?.first
    #expect(((row?["flops_per_step"] as? Int) ?? 0) > 0 && ((row?["gflops"] as? Double) ?? 0) > 0)
    #expect(((row?["peak_rss_mib"] as? Double) ?? 0) > 0)
    let bad = try runIUMAD(["bench", "step", "--presets", "huge"])
    #expect(bad.status == 64 && bad.stderr.contains("unknown preset 'huge'"))
  }

  @Test func badOptionIsAUsageErrorNotATrap() throws {
    let r = try runIUMAD(["bench", "gemm", "--sizes", "12,abc"])
    #expect(r.status == 64)  // EX_USAGE from swift-argument-parser
    #expect(r.stderr.contains("--sizes") && r.stderr.contains("12,abc"))
  }
}
