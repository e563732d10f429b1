import Foundation
import Testing

@testable import Metrics

@Suite("Per-defect-kind metrics and their place in metrics.json")
struct DefectKindMetricsTests {
  /// A 2×2 image: `defect` marks pixel 0 (scored `defectPixel`), the other pixels score 0.1.
  static func image(score: Float, defectPixel: Float? = nil) -> PreparedImage {
    PreparedImage(map: [defectPixel ?? 0.1, 0.1, 0.1, 0.1], mask: [defectPixel == nil ? 0 : 1, 0, 0, 0], width: 2, height: 2, score: score)
  }

  /// Two good images; kind "a" scores above every good image, kind "b" below; the kinds interleaved.
  static let set: (images: [PreparedImage], labels: [Int], kinds: [String]) = (
    [image(score: 0.9, defectPixel: 0.9), image(score: 0.3), image(score: 0.1, defectPixel: 0.05),
     image(score: 0.4), image(score: 0.8, defectPixel: 0.8), image(score: 0.2, defectPixel: 0.02)],
    [1, 0, 1, 0, 1, 1],
    ["a", "good", "b", "good", "a", "b"]
  )

  @Test func eachKindIsScoredAgainstTheGoodImagesWithoutFlipping() throws {
    let (images, labels, kinds) = Self.set
    let byKind = try Evaluation.byDefectKind(className: "cookie", images: images, labels: labels, kinds: kinds)
    #expect(Set(byKind.keys) == ["a", "b"], "kinds with metrics (good excluded): \(byKind.keys.sorted())")
    let a = try #require(byKind["a"], "metrics of kind a")
    let b = try #require(byKind["b"], "metrics of kind b")
    #expect(a.iAUROC == 1, "I-AUROC of kind a (scores above every good image) vs 1: \(a.iAUROC)")
    #expect(b.iAUROC == 0, "I-AUROC of kind b (scores below every good image) vs 0, not flipped to 1: \(b.iAUROC)")
    #expect(a.pAUROC == 1, "P-AUROC of kind a (defect pixels above all others) vs 1: \(a.pAUROC)")
    #expect(b.pAUROC == 0, "P-AUROC of kind b (defect pixels below all others) vs 0: \(b.pAUROC)")
    // Kind a's metrics are those of the class restricted to the good images and a's.
    let idx = [1, 3, 0, 4]
    let direct = try Evaluation.evaluate(try ClassScores(className: "cookie/a", images: idx.map { images[$0] }, labels: idx.map { labels[$0] }))
    #expect(a == direct, "kind a's metrics vs Evaluation.evaluate on good + a images: \(a) vs \(direct)")
  }

  @Test func kindsWithoutGoodImagesGiveNothing() throws {
    let (images, labels, kinds) = Self.set
    let defective = labels.indices.filter { labels[$0] == 1 }
    let none = try Evaluation.byDefectKind(className: "cookie", images: defective.map { images[$0] },
                                           labels: defective.map { labels[$0] }, kinds: defective.map { kinds[$0] })
    #expect(none.isEmpty, "per-kind metrics of a class without good images: \(none)")
    let onlyGood = try Evaluation.byDefectKind(className: "cookie", images: [images[1], images[3]], labels: [0, 0], kinds: ["good", "good"])
    #expect(onlyGood.isEmpty, "per-kind metrics of a class without defective images: \(onlyGood)")
  }

  // MARK: MetricsMatrix

  static func metrics(_ i: Double, _ p: Double, _ a: Double) -> ClassMetrics { ClassMetrics(iAUROC: i, pAUROC: p, aupro: a) }

  @Test func metricsMatrixJSONKeepsDefectKinds() throws {
    var m = ForgettingTests.matrix()
    m.record(step: 1, class: "a", kinds: ["dent": Self.metrics(0.9, 0.8, 0.7), "stain": Self.metrics(0.5, 0.25, 0.125)])
    m.record(step: 1, class: "b", kinds: ["dent": Self.metrics(0.7, 0.6, 0.5)])
    m.record(step: 2, class: "c", kinds: ["crack": Self.metrics(1, 1, 1)])
    let data = try m.jsonData()
    let back = try MetricsMatrix(json: data)
    #expect(back == m, "MetricsMatrix with defect kinds after a JSON round trip vs the original")
    #expect(back.kinds(step: 1, class: "a") == m.kinds(step: 1, class: "a"), "step 1 class a kinds after the round trip")
    #expect(back.kinds(step: 0, class: "a").isEmpty, "kinds of a step that has none")
    let dentMean = try #require(back.kindMeans(step: 1)["dent"], "mean of kind dent over step 1's classes")
    #expect(abs(dentMean.iAUROC - 0.8) < 1e-12, "dent's mean I-AUROC over a and b vs 0.8: \(dentMean.iAUROC)")

    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "metrics.json as an object")
    let steps = try #require(object["steps"] as? [[String: Any]], "metrics.json steps")
    #expect(steps[0]["defect_kinds"] == nil, "step 0 (no kinds recorded) has no defect_kinds key")
    let kinds = try #require(steps[1]["defect_kinds"] as? [String: [String: [String: Double]]], "step 1 defect_kinds")
    #expect(kinds["a"]?["stain"]?["aupro"] == 0.125, "step 1 defect_kinds.a.stain.aupro vs 0.125: \(kinds)")
    let means = try #require(steps[1]["defect_kind_means"] as? [String: [String: Double]], "step 1 defect_kind_means")
    #expect(abs((means["dent"]?["i_auroc"] ?? 0) - 0.8) < 1e-12, "step 1 defect_kind_means.dent.i_auroc vs 0.8: \(means)")
  }

  @Test func metricsFilesWithoutDefectKindsStillDecode() throws {
    let plain = ForgettingTests.matrix()
    let text = String(decoding: try plain.jsonData(), as: UTF8.self)
    #expect(!text.contains("defect_kind"), "metrics.json of a matrix without kinds has no defect_kind keys")
    #expect(try MetricsMatrix(json: Data(text.utf8)) == plain, "matrix without kinds after a JSON round trip")
    let legacy = #"{"protocol":"uniad","classes":["a"],"steps":[{"step":0,"classes":{"a":{"i_auroc":0.5,"p_auroc":0.75,"aupro":0.25}}}]}"#
    let old = try MetricsMatrix(json: Data(legacy.utf8))
    #expect(old.metrics(step: 0, class: "a") == Self.metrics(0.5, 0.75, 0.25), "metrics read from a file written before defect kinds")
    #expect(old.kinds(step: 0, class: "a").isEmpty && old.kindMeans(step: 0).isEmpty, "kinds read from a file without defect_kinds")
  }
}
