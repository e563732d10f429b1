import Foundation
import Testing

@testable import Metrics

/// FM (Eq. 1) and the step × class matrix that carries it.
struct ForgettingTests {
  /// Steps 0, 1, 2 learning a, then b, then c.
  static func matrix() -> MetricsMatrix {
    var m = MetricsMatrix(evaluationProtocol: .uniad)
    let rows: [(Int, String, Double, Double, Double)] = [
      (0, "a", 0.90, 0.95, 0.50),
      (1, "a", 0.80, 0.94, 0.60), (1, "b", 0.95, 0.99, 0.80),
      (2, "a", 0.70, 0.93, 0.70), (2, "b", 0.90, 0.98, 0.60), (2, "c", 1.00, 0.97, 0.90),
    ]
    for (step, name, i, p, a) in rows {
      m.record(step: step, class: name, metrics: ClassMetrics(iAUROC: i, pAUROC: p, aupro: a))
    }
    return m
  }

  @Test func forgettingByHand() throws {
    let fm = Self.matrix().forgetting()
    // I-AUROC: a max(0.90, 0.80) − 0.70 = 0.20; b 0.95 − 0.90 = 0.05; c learned last → (0.20 + 0.05)/2.
    #expect(abs(try #require(fm[.iAUROC] ?? nil) - 0.125) < 1e-12)
    // P-AUROC: a 0.95 − 0.93, b 0.99 − 0.98 → 0.015.
    #expect(abs(try #require(fm[.pAUROC] ?? nil) - 0.015) < 1e-12)
    // AUPRO: a only improved, max(0.5, 0.6) − 0.7 = −0.1 (not clamped); b 0.8 − 0.6 = 0.2 → 0.05.
    #expect(abs(try #require(fm[.aupro] ?? nil) - 0.05) < 1e-12)
  }

  @Test func forgettingIsUndefinedWithOneStep() {
    var m = MetricsMatrix(evaluationProtocol: .official)
    m.record(step: 0, class: "a", metrics: ClassMetrics(iAUROC: 1, pAUROC: 1, aupro: 1))
    m.record(step: 0, class: "b", metrics: ClassMetrics(iAUROC: 1, pAUROC: 1, aupro: 1))
    for metric in MetricName.allCases { #expect(m.forgetting()[metric]! == nil) }
    #expect(Forgetting.measure([:]) == nil)
  }

  @Test func forgettingAfterTheMiddleStepUsesThatStepAsLast() {
    // Measured after step 1: only a counts, 0.90 − 0.80.
    let scores: [Int: [String: Double]] = [0: ["a": 0.90], 1: ["a": 0.80, "b": 0.95]]
    #expect(abs(Forgetting.measure(scores)! - 0.10) < 1e-12)
  }

  @Test func meansOverSeenClassesPerStep() throws {
    let m = Self.matrix()
    #expect(m.steps == [0, 1, 2])
    #expect(m.classes == ["a", "b", "c"])
    #expect(m.classes(step: 1) == ["a", "b"])
    #expect(m.metrics(step: 0, class: "b") == nil)
    let mean1 = try #require(m.mean(step: 1))
    #expect(abs(mean1.iAUROC - 0.875) < 1e-12 && abs(mean1.aupro - 0.7) < 1e-12)
    #expect(abs(try #require(m.mean(step: 2)).iAUROC - 2.6 / 3) < 1e-12)
    #expect(m.mean(step: 7) == nil)
  }

  @Test func jsonRoundTripAndDerivedFields() throws {
    let m = Self.matrix()
    let data = try m.jsonData()
    #expect(try MetricsMatrix(json: data) == m)
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    #expect(object["protocol"] as? String == "uniad")
    let fm = try #require(object["forgetting"] as? [String: Any])
    #expect(abs((fm["i_auroc"] as? Double ?? 0) - 0.125) < 1e-12)
    let steps = try #require(object["steps"] as? [[String: Any]])
    #expect(steps.map { $0["step"] as? Int } == [1, 2, 3] && object["first_step"] as? Int == 1, "steps numbered as in report.md")
    let mean = try #require(steps[1]["mean"] as? [String: Double])
    #expect(abs(mean["i_auroc"]! - 0.875) < 1e-12)

    // Undefined FM is written as null, and a single-step matrix reads back too.
    var one = MetricsMatrix(evaluationProtocol: .official)
    one.record(step: 0, class: "a", metrics: ClassMetrics(iAUROC: 0.5, pAUROC: 0.5, aupro: 0.25))
    let text = String(decoding: try one.jsonData(), as: UTF8.self)
    #expect(text.contains("\"i_auroc\" : null"), "\(text)")
    #expect(try MetricsMatrix(json: one.jsonData()) == one)
  }

  @Test func jsonNamingAnUnknownClassIsRejected() {
    let bad = #"{"protocol":"uniad","classes":["a"],"steps":[{"step":0,"classes":{"z":{"i_auroc":1,"p_auroc":1,"aupro":1}}}]}"#
    #expect(throws: DecodingError.self) { try MetricsMatrix(json: Data(bad.utf8)) }
  }

  @Test func csvIsLongFormat() throws {
    let lines = Self.matrix().csv().split(separator: "\n").map(String.init)
    #expect(lines.first == "step,class,metric,value")
    #expect(lines.count == 1 + 6 * 3)
    #expect(lines[1] == "1,a,i_auroc,0.9")
    #expect(lines.contains("3,c,aupro,0.9"))
    var quoted = MetricsMatrix(evaluationProtocol: .uniad)
    quoted.record(step: 0, class: "cable, gland", metrics: ClassMetrics(iAUROC: 1, pAUROC: 1, aupro: 1))
    #expect(quoted.csv().contains("1,\"cable, gland\",i_auroc,1.0"))
  }
}
