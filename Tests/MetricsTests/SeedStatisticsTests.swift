import Foundation
import Testing

@testable import Metrics

/// Mean ± std over seeds and the multi-seed report.
struct SeedStatisticsTests {
  /// ForgettingTests.matrix() with every I-AUROC lowered by `shift` (a second "seed").
  static func shifted(_ shift: Double) -> MetricsMatrix {
    let m = ForgettingTests.matrix()
    var out = MetricsMatrix(evaluationProtocol: m.evaluationProtocol)
    for step in m.steps {
      for c in m.classes(step: step) {
        var v = m.metrics(step: step, class: c)!
        v.iAUROC -= shift * Double(step)  // later steps drop more: FM grows by shift per step
        out.record(step: step, class: c, metrics: v)
      }
    }
    return out
  }

  static func stats() throws -> MetricsAcrossSeeds {
    try MetricsAcrossSeeds(seeds: [0, 1], runs: [ForgettingTests.matrix(), shifted(0.1)])
  }

  @Test func spreadIsTheMeanAndSampleStandardDeviation() throws {
    let s = try #require(Spread([1, 2, 3, 6]))
    #expect(s.mean == 3 && s.n == 4 && abs(s.std! - (14.0 / 3).squareRoot()) < 1e-12)
    #expect(Spread([0.5])!.std == nil && Spread([0.5])!.mean == 0.5)
    #expect(Spread([]) == nil)
  }

  @Test func everyStatisticIsTakenOverPerSeedValues() throws {
    let s = try Self.stats()
    // Class a at step 2 (index 2): 0.70 and 0.50.
    let a = try #require(s.spread(step: 2, class: "a", metric: .iAUROC))
    #expect(abs(a.mean - 0.6) < 1e-12 && abs(a.std! - 0.2 / 2.0.squareRoot()) < 1e-12)
    // Step means per seed first: (0.7 + 0.9 + 1.0)/3 and (0.5 + 0.7 + 0.8)/3.
    let mean = try #require(s.meanSpread(step: 2, metric: .iAUROC))
    #expect(abs(mean.mean - (2.6 / 3 + 2.0 / 3) / 2) < 1e-12)
    // FM per seed: 0.125 (ForgettingTests) and, shifted, a: 0.9 − 0.5 = 0.4, b: 0.85 − 0.7 = 0.15 → 0.275.
    let fm = try #require(s.forgetting(.iAUROC))
    #expect(abs(fm.mean - 0.2) < 1e-12 && abs(fm.std! - 0.15 / 2.0.squareRoot()) < 1e-12)
    // Unchanged metrics have zero spread.
    #expect(s.spread(step: 1, class: "b", metric: .aupro)?.std == 0)
    #expect(abs(s.meanMatrix.metrics(step: 2, class: "a")!.iAUROC - 0.6) < 1e-12)
    #expect(try MetricsAcrossSeeds(seeds: [0], runs: [ForgettingTests.matrix()]).forgetting(.iAUROC)?.std == nil)
  }

  @Test func runsOfDifferentSchedulesCannotBeCombined() {
    var short = MetricsMatrix(evaluationProtocol: .uniad)
    short.record(step: 0, class: "a", metrics: ClassMetrics(iAUROC: 1, pAUROC: 1, aupro: 1))
    #expect(throws: MetricsError.self) { try MetricsAcrossSeeds(seeds: [0, 7], runs: [ForgettingTests.matrix(), short]) }
    do { _ = try MetricsAcrossSeeds(seeds: [0, 7], runs: [ForgettingTests.matrix(), short]) } catch {
      #expect("\(error)".contains("seed 7 against seed 0"))
    }
    #expect(throws: MetricsError.self) { try MetricsAcrossSeeds(seeds: [0, 1], runs: [short]) }
  }

  @Test func seedFilesHoldMeanAndStd() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-seeds-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    try ReportFiles.write(runDirectory: dir, seeds: try Self.stats(), title: "two seeds")
    let md = try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8)
    #expect(md.contains("2 seeds (0, 1)"))
    #expect(md.contains("| a | 90.0 ± 0.0 | 95.0 ± 0.0 | 50.0 ± 0.0 | 75.0 ± 7.1 |"), "\(md)")
    #expect(md.contains("FM: I-AUROC 20.0 ± 10.6 · P-AUROC 1.5 ± 0.0 · AUPRO 5.0 ± 0.0"), "\(md)")
    #expect(md.contains("| [1](seed-1/report.md) | 66.7 | 96.0 | 73.3 | 27.5 |"), "\(md)")
    let csv = try String(contentsOf: dir.appendingPathComponent("metrics-seeds.csv"), encoding: .utf8)
    #expect(csv.hasPrefix("step,class,metric,mean,std,n\n1,a,i_auroc,0.9,0.0,2\n"))
    let fmRow = try #require(csv.split(separator: "\n").first { $0.hasPrefix("fm,(mean),i_auroc,") }).split(separator: ",")
    #expect(abs(Double(fmRow[3])! - 0.2) < 1e-12 && abs(Double(fmRow[4])! - 0.15 / 2.0.squareRoot()) < 1e-12 && fmRow[5] == "2")
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("metrics-seeds.json"))) as? [String: Any]
    let fm = (json?["forgetting"] as? [String: Any])?["i_auroc"] as? [String: Any]
    #expect((fm?["mean"] as? Double).map { abs($0 - 0.2) < 1e-12 } == true && fm?["n"] as? Int == 2)
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("plots/i_auroc_per_class.svg").path))
  }
}
