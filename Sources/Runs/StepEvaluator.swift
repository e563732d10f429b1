import Datasets
import Foundation
import ImageIO
import Incremental
import Metrics
import Model
import Tensor

/// What turns an evaluation's anomaly maps into results, for any method that produces maps
/// (the trained model in `IncrementalRun`, the PatchCore baseline): per-class I-AUROC, P-AUROC
/// and AUPRO under `eval.protocol` into a `MetricsMatrix`, heatmap PNGs, float32 TIFF maps in
/// the MVTec 3D-AD layout, and the run directory's report files (SPEC §8). One type, so every
/// method's numbers and files mean exactly the same.
public struct StepEvaluator {
  public let runDirectory: URL
  let inputSize: Int
  public let settings: ProtocolSettings
  let heatmapsPerClass: Int
  let writeMaps: Bool

  public init(config: RunConfig, runDirectory: URL) throws {
    self.runDirectory = runDirectory
    inputSize = config.model.inputSize
    heatmapsPerClass = config.eval.heatmapsPerClass
    writeMaps = config.eval.writeMaps
    settings = try ProtocolSettings(config.eval.protocol, inputSize: config.model.inputSize,
                                    pool: config.eval.pool > 0 ? config.eval.pool : config.model.inputSize / config.model.grid)
  }

  /// Metrics of every class in `classes` from `maps` (one inputSize² map per sample, in sample
  /// order) recorded into `matrix` at `step`, plus heatmaps and TIFF maps of step `step + 1`.
  public func record(step: Int, classes: [String], samples: [Sample], maps: [[Float]], into matrix: inout MetricsMatrix) throws {
    let s = inputSize
    // Ground truth and images at the original size (the protocol decides the resolution).
    let loaded = try Threading.parallelMap(samples.count) { try SampleLoader.load(samples[$0]) }
    let mapImages = maps.map { Image(width: s, height: s, channels: 1, data: $0) }
    let masks = loaded.map { l in l.mask ?? Image(width: l.rgb.width, height: l.rgb.height, channels: 1) }
    let range = (maps.flatMap { $0 }.min() ?? 0)...(max(maps.flatMap { $0 }.max() ?? 1, (maps.flatMap { $0 }.min() ?? 0) + 1e-6))
    for result in try Evaluation.byClass(classes, samples: samples, prepare: { try settings.prepare(map: mapImages[$0], mask: masks[$0]) }) {
      let (c, idx, prepared) = (result.className, result.indices, result.images)
      matrix.record(step: step, class: c, metrics: result.metrics)
      matrix.record(step: step, class: c, kinds: try result.byDefectKind(samples))
      // A few heatmaps per class, defective samples first.
      // (k: position in the class, whose prepared image holds the score; i: position in `samples`)
      let chosen = (idx.indices.filter { samples[idx[$0]].label == 1 } + idx.indices.filter { samples[idx[$0]].label == 0 }).prefix(heatmapsPerClass)
      for k in chosen {
        let i = idx[k], score = prepared[k].score
        let stem = URL(fileURLWithPath: samples[i].rgbPath).deletingPathExtension().lastPathComponent
        let path = runDirectory.appendingPathComponent("heatmaps/step-\(step + 1)/\(c)_\(samples[i].defectType)_\(stem).png").path
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        try Heatmap.write(image: loaded[i].rgb.leadingChannels(3), map: mapImages[i], mask: masks[i], range: range, depth: loaded[i].xyz.zImage,
                          caption: "\(c) \(samples[i].defectType) \(stem)  score \(String(format: "%.3f", score))", to: path)
      }
      if writeMaps {
        let root = runDirectory.appendingPathComponent("maps/step-\(step + 1)").path
        for i in idx {
          try AnomalyMapFiles.write(mapImages[i], originalWidth: masks[i].width, originalHeight: masks[i].height, root: root, sample: samples[i])
        }
      }
    }
  }

  /// The mean metrics over `classes` from `maps` (as `record`, without writing anything): a
  /// learning-curve point.
  public func meanMetrics(classes: [String], samples: [Sample], maps: [[Float]]) throws -> ClassMetrics? {
    let s = inputSize
    let masks = try Self.masks(samples)
    return ClassMetrics.mean(try Evaluation.byClass(classes, samples: samples) {
      try settings.prepare(map: Image(width: s, height: s, channels: 1, data: maps[$0]), mask: masks[$0])
    }.map(\.metrics))
  }

  /// Each sample's ground truth at its original size (all zero for good images).
  public static func masks(_ samples: [Sample]) throws -> [Image] {
    try Threading.parallelMap(samples.count) { i -> Image in
      let l = try SampleLoader.load(samples[i])
      return l.mask ?? Image(width: l.rgb.width, height: l.rgb.height, channels: 1)
    }
  }

  /// metrics.json, metrics.csv, report.md and plots/ of the run directory; `method` and
  /// `modality` label the paper-style summary row.
  public func writeReports(matrix: MetricsMatrix, method: String, modality: String, schedule: Schedule,
                           lossCurves: [(name: String, values: [Double])] = [], learningCurves: LearningCurves = LearningCurves(),
                           training: [String] = []) throws {
    let entry = SummaryEntry(modality: modality, method: method, setting: schedule.description, matrix: matrix)
    try ReportFiles.write(runDirectory: runDirectory, matrix: matrix, summary: [entry], lossCurves: lossCurves, learningCurves: learningCurves,
                          title: "IUMAD run: \(method), \(modality), \(schedule)", training: training)
  }

  /// The modality column of the paper's tables.
  public static func modalityLabel(_ modalities: [Modality]) -> String {
    let ms = Set(modalities)
    return ms == [.rgb, .depth] ? "RGB + depth" : ms.contains(.rgb) ? "RGB" : "Depth"
  }
}
