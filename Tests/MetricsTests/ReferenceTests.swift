import Foundation
import Testing

@testable import Metrics

/// Cross-check against NumPy/scipy on random maps (Scripts/make_fixtures_metrics.py): AUROC from
/// scipy's average ranks, regions from scipy.ndimage.label, AUPRO from MVTec's algorithm.
struct ReferenceTests {
  struct Case: Decodable {
    let name: String
    let width, height: Int
    let maps: [[Float]]
    let masks: [[UInt8]]
    let image_scores: [Float]
    let labels: [Int]
    let region_counts: [Int]
    let i_auroc, p_auroc, aupro, aupro_mvtec: Double
  }

  struct Fixture: Decodable {
    let fpr_limit: Double
    let cases: [Case]
  }

  static func load() throws -> Fixture {
    let url = Bundle.module.resourceURL!.appendingPathComponent("metrics/reference.json")
    return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
  }

  @Test func matchesNumPyReference() throws {
    let fixture = try Self.load()
    #expect(fixture.cases.map(\.name) == ["continuous", "quantized"])
    for c in fixture.cases {
      for (mask, count) in zip(c.masks, c.region_counts) {
        #expect(ConnectedRegions(mask: mask, width: c.width, height: c.height).count == count, "\(c.name) regions")
      }
      let metrics = try Evaluation.evaluate(ClassScores(className: c.name, imageScores: c.image_scores, imageLabels: c.labels,
                                                        maps: c.maps, masks: c.masks, height: c.height, width: c.width))
      #expect(abs(metrics.iAUROC - c.i_auroc) < 1e-12, "\(c.name) I-AUROC \(metrics.iAUROC) vs \(c.i_auroc)")
      #expect(abs(metrics.pAUROC - c.p_auroc) < 1e-12, "\(c.name) P-AUROC \(metrics.pAUROC) vs \(c.p_auroc)")
      #expect(abs(metrics.aupro - c.aupro) < 1e-9, "\(c.name) AUPRO \(metrics.aupro) vs \(c.aupro)")
    }
    // Without ties our per-threshold curve is MVTec's per-pixel curve; with defect/defect-free
    // ties the two differ (the fixture's quantised case shows by how much).
    let continuous = fixture.cases[0], quantized = fixture.cases[1]
    #expect(abs(continuous.aupro - continuous.aupro_mvtec) < 1e-12)
    #expect(abs(quantized.aupro - quantized.aupro_mvtec) > 1e-3)
  }
}
