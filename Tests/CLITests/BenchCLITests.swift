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

  /// Reads a bench JSON file (`nil` fields make the expectations fail).
  func benchJSON(_ path: String) -> [String: Any] {
    ((try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))) as? [String: Any]) ?? [:]
  }

  @Test func benchStepProfileListsTheOps() throws {
    let r = try runIUMAD(["bench", "step", "--presets", "tiny", "--batches", "2", "--steps", "1", "--profile"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("profile of one step") && r.stdout.contains("attention") && r.stdout.contains("selective_scan"))
  }

  @Test func benchScanAndAttentionCompareFusedWithPlain() throws {
    let dir = try temporaryDirectory("bench-kernels")
    let scan = dir.appendingPathComponent("scan.json").path, attention = dir.appendingPathComponent("attention.json").path
    for softplus in [false, true] {
      let s = try runIUMAD(["bench", "scan", "--batch", "2", "--length", "16", "--channels", "8", "--state", "4", "--repeats", "1", "--json", scan]
                           + (softplus ? ["--softplus"] : []))
      #expect(s.status == 0 && s.stdout.contains("speed-up"), "stderr: \(s.stderr)")
      let sj = benchJSON(scan)
      #expect(((sj["fused_seconds"] as? Double) ?? 0) > 0 && ((sj["max_relative_difference"] as? Double) ?? 1) < 1e-4)
      #expect(sj["softplus"] as? Bool == softplus)
    }
    let a = try runIUMAD(["bench", "attention", "--batch", "1", "--repeats", "1", "--json", attention])
    #expect(a.status == 0, "stderr: \(a.stderr)")
    let rows = benchJSON(attention)["results"] as? [[String: Any]] ?? []
    #expect(rows.map { $0["case"] as? String } == ["mrn", "mamba"])
    #expect(rows.allSatisfy { (($0["max_relative_difference"] as? Double) ?? 1) < 1e-4 && (($0["speedup"] as? Double) ?? 0) > 0 })
  }

  @Test func benchInferReadsRealFiles() throws {
    let dir = try temporaryDirectory("bench-infer")
    let json = dir.appendingPathComponent("infer.json").path
    let r = try runIUMAD(["bench", "infer", "--preset", "tiny", "--batch", "2", "--repeats", "1", "--json", json])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let j = benchJSON(json)
    #expect((j["files"] as? Int) == 2 && ((j["end_to_end_fps"] as? Double) ?? 0) > 0 && ((j["from_features_fps"] as? Double) ?? 0) > 0)
  }

  @Test func benchAllReduceAloneIsAWorldOfOne() throws {
    let dir = try temporaryDirectory("bench-allreduce")
    let json = dir.appendingPathComponent("ar.json").path
    let r = try runIUMAD(["bench", "allreduce", "--presets", "tiny", "--sizes-mb", "1", "--repeats", "1", "--steps", "1", "--json", json])
    #expect(r.status == 0 && r.stdout.contains("1 rank(s)"), "stderr: \(r.stderr)")
    let steps = benchJSON(json)["steps"] as? [[String: Any]] ?? []
    // Nothing crosses a wire in a world of one: what is left is setting up the gradient buffer.
    let overhead = steps.first?["overhead_fraction"] as? Double ?? 1
    #expect(steps.count == 1 && overhead >= 0 && overhead < 0.05, "overhead \(overhead)")
  }

  @Test func badOptionIsAUsageErrorNotATrap() throws {
    let r = try runIUMAD(["bench", "gemm", "--sizes", "12,abc"])
    #expect(r.status == 64)  // EX_USAGE from swift-argument-parser
    #expect(r.stderr.contains("--sizes") && r.stderr.contains("12,abc"))
  }
}
