import Datasets
import Foundation
import ImageIO
import Incremental
import Metrics
import Model
import Tensor

/// `eval.compare_maps`: after each step, every map the model can make — each residual alone and
/// every sum of them, raw and normalised by good-image statistics — scored on the same test
/// images as the run's own map. The evidence for choosing `model.anomaly_map` and
/// `model.map_normalization` (docs/quality.md). Runs on rank 0 only; costs one extra forward
/// pass over the step's good images per normalisation and one over the test images.
struct MapComparison {
  /// Good-image statistics of every source, pooled over the steps so far, per normalisation.
  var statistics: [MapNormalization: MapStatistics] = [:]

  /// Every non-empty sum of `sources` under each normalisation (a single source is the same
  /// map raw or z-scored, so it appears raw and channel-normalised only).
  static func variants(_ sources: [MapSource]) -> [MapVariant] {
    var out: [MapVariant] = []
    for mask in 1..<(1 << sources.count) {
      let subset = sources.indices.filter { mask & (1 << $0) != 0 }.map { sources[$0] }
      for n in MapNormalization.allCases where subset.count > 1 || n != .source {
        out.append(MapVariant(sources: subset, normalization: n))
      }
    }
    return out
  }

  /// Pools the statistics of `pool` (good images of the step just trained) into `statistics`.
  mutating func add(_ pool: PreparedSet, trainer: IncrementalTrainer, batchSize: Int) {
    let sources = trainer.model.availableMapSources
    for n in [MapNormalization.source, .channel] {
      let s = trainer.model.measureMapStatistics(sources: sources, normalization: n) { body in
        trainer.forEachOutput(pool, batchSize: batchSize) { body(trainer.model.residuals($0, sources: sources)) }
      }
      statistics[n, default: MapStatistics()].merge(s)
    }
  }

  /// Mean metrics (and per-defect-kind means) of every variant over the classes of `test`.
  func evaluate(_ test: PreparedSet, masks: [Image], trainer: IncrementalTrainer, settings: ProtocolSettings,
                eval: EvalConfig, batchSize: Int) throws -> [(variant: MapVariant, mean: ClassMetrics, kinds: [String: ClassMetrics])] {
    let model = trainer.model
    let sources = model.availableMapSources
    let variants = Self.variants(sources)
    let s = model.config.inputSize
    var prepared = [[PreparedImage]](repeating: [], count: variants.count)
    var start = 0
    try trainer.forEachOutput(test, batchSize: batchSize) { out in
      let r = model.residuals(out, sources: sources)
      for (v, variant) in variants.enumerated() {
        let am = model.anomalyMaps(r, variant: variant, blurSigma: eval.mapBlurSigma,
                                   poolKernel: eval.mapPoolKernel, statistics: statistics[variant.normalization])
        for b in 0..<(am.maps.shape[0]) {
          let map = Image(width: s, height: s, channels: 1, data: Array(am.maps.data[(b * s * s)..<((b + 1) * s * s)]))
          prepared[v].append(try settings.prepare(map: map, mask: masks[start + b]))
        }
      }
      start += out.targets.values.first!.shape[0]
    }
    let classes = Array(Set(test.samples.map(\.className))).sorted()
    return try variants.indices.map { v in
      let perClass = try Evaluation.byClass(classes, samples: test.samples) { prepared[v][$0] }
      var kinds: [String: [ClassMetrics]] = [:]
      for result in perClass {
        for (k, m) in try result.byDefectKind(test.samples) { kinds[k, default: []].append(m) }
      }
      return (variants[v], ClassMetrics.mean(perClass.map(\.metrics))!, kinds.compactMapValues { ClassMetrics.mean($0) })
    }
  }

  /// RUN/map-comparison/step-N.json and .md: one row per variant, best I-AUROC first.
  static func write(_ rows: [(variant: MapVariant, mean: ClassMetrics, kinds: [String: ClassMetrics])], step: Int,
                    configured: MapVariant, runDirectory: URL) throws -> String {
    let dir = runDirectory.appendingPathComponent("map-comparison")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let sorted = rows.sorted { ($0.mean.iAUROC, $0.mean.aupro) > ($1.mean.iAUROC, $1.mean.aupro) }
    let json: [[String: Any]] = sorted.map { r in
      ["map": r.variant.sources.map(\.rawValue).joined(separator: "+"), "normalization": r.variant.normalization.rawValue,
       "i_auroc": r.mean.iAUROC, "p_auroc": r.mean.pAUROC, "aupro": r.mean.aupro,
       "defect_kinds": r.kinds.mapValues { ["i_auroc": $0.iAUROC, "p_auroc": $0.pAUROC, "aupro": $0.aupro] }]
    }
    try JSONSerialization.data(withJSONObject: ["step": step + 1, "variants": json], options: [.prettyPrinted, .sortedKeys])
      .write(to: dir.appendingPathComponent("step-\(step + 1).json"))
    let kinds = Set(rows.flatMap { $0.kinds.keys }).sorted()
    var md = "| map | normalization | I-AUROC | P-AUROC | AUPRO | " + kinds.map { "I-AUROC \($0)" }.joined(separator: " | ") + " |\n"
    md += "|---|---|---:|---:|---:|" + kinds.map { _ in "---:|" }.joined() + "\n"
    for r in sorted {
      let mark = r.variant == configured ? " (configured)" : ""
      md += "| \(r.variant.sources.map(\.rawValue).joined(separator: "+"))\(mark) | \(r.variant.normalization.rawValue) | "
      md += [r.mean.iAUROC, r.mean.pAUROC, r.mean.aupro].map { String(format: "%.3f", $0) }.joined(separator: " | ")
      md += " | " + kinds.map { k in r.kinds[k].map { String(format: "%.3f", $0.iAUROC) } ?? "–" }.joined(separator: " | ") + " |\n"
    }
    try Data(md.utf8).write(to: dir.appendingPathComponent("step-\(step + 1).md"))
    return md
  }
}
