import Foundation
import Testing

@testable import Metrics

@Suite("Learning curves (eval.every_epochs)")
struct LearningCurvesTests {
  static func point(_ step: Int, _ epoch: Int, _ i: Double, _ aupro: Double = 0.5) -> LearningCurves.Point {
    LearningCurves.Point(step: step, epoch: epoch, metrics: ClassMetrics(iAUROC: i, pAUROC: 0.9, aupro: aupro))
  }

  static var curves: LearningCurves {
    var c = LearningCurves()
    for p in [point(0, 2, 0.6), point(2, 4, 0.7), point(0, 1, 0.55), point(2, 2, 0.65), point(0, 4, 0.8)] { c.record(p) }
    return c
  }

  @Test func recordKeepsPointsSortedAndReplacesTheSameStepAndEpoch() {
    var c = Self.curves
    #expect(c.points.map { [$0.step, $0.epoch] } == [[0, 1], [0, 2], [0, 4], [2, 2], [2, 4]],
            "(step, epoch) order after recording out of order: \(c.points.map { ($0.step, $0.epoch) })")
    c.record(Self.point(0, 2, 0.75, 0.3))  // a resume re-measured step 0 epoch 2
    #expect(c.points.count == 5, "points after re-recording (0, 2) vs 5: \(c.points.count)")
    #expect(c.points.filter { $0.step == 0 && $0.epoch == 2 }.map(\.metrics.iAUROC) == [0.75],
            "I-AUROC of the one point (0, 2) vs the re-recorded 0.75")
    #expect(c.points.map { [$0.step, $0.epoch] } == [[0, 1], [0, 2], [0, 4], [2, 2], [2, 4]], "order after replacing (0, 2)")
    c.record(Self.point(1, 3, 0.5))
    #expect(c.points.map { [$0.step, $0.epoch] } == [[0, 1], [0, 2], [0, 4], [1, 3], [2, 2], [2, 4]], "order after adding (1, 3)")
    #expect(LearningCurves().isEmpty && !c.isEmpty, "isEmpty of new and recorded curves")
  }

  @Test func jsonRoundTrip() throws {
    let c = Self.curves
    let data = try c.jsonData()
    #expect(try JSONDecoder().decode(LearningCurves.self, from: data) == c, "learning curves after a JSON round trip vs the original")
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "learning curves JSON as an object")
    let points = try #require(object["points"] as? [[String: Any]], "learning curves JSON points")
    #expect(points.count == 5, "points in the JSON vs 5")
    let metrics = try #require(points[0]["metrics"] as? [String: Double], "first point's metrics")
    #expect(metrics["i_auroc"] == 0.55 && points[0]["epoch"] as? Int == 1, "first point in the JSON vs step 0 epoch 1 I-AUROC 0.55: \(points[0])")
  }

  @Test func svgHasOneSeriesPerStepAndMetric() {
    let svg = Self.curves.svg()
    func occurrences(_ s: String) -> Int { svg.components(separatedBy: s).count - 1 }
    for name in ["Step 1 I-AUROC", "Step 1 AUPRO", "Step 3 I-AUROC", "Step 3 AUPRO"] {
      #expect(occurrences(">\(name)<") == 1, "legend entries named '\(name)' vs 1")
    }
    #expect(occurrences(">Step 2 ") == 0, "series of step 2 (no points) vs 0")
    #expect(occurrences("<polyline") == 4, "polylines (2 steps × I-AUROC, AUPRO) vs 4")
    #expect(occurrences("<circle") == 10, "point markers (5 points × 2 metrics) vs 10")
    #expect(svg.hasPrefix("<?xml") && svg.hasSuffix("</svg>\n"), "svg document framing")
    #expect(LearningCurves().svg().contains("no data"), "empty learning curves draw 'no data'")
  }
}
