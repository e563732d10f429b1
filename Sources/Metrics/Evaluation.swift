/// What the trainer (or `iumad evaluate`) has for one class after scoring its test set: one image
/// score and one anomaly map per test image, with the ground truth, all at one resolution (which
/// one is the protocol's business, see `EvaluationProtocol`).
public struct ClassScores: Sendable {
  public var className: String
  public var imageScores: [Float]
  /// 1 = defect, 0 = good.
  public var imageLabels: [Int]
  /// One `height × width` map per image, row-major; higher = more anomalous.
  public var maps: [[Float]]
  /// One `height × width` ground-truth mask per image, row-major; nonzero = defect.
  public var masks: [[UInt8]]
  public var height: Int
  public var width: Int

  public init(className: String, imageScores: [Float], imageLabels: [Int], maps: [[Float]], masks: [[UInt8]],
              height: Int, width: Int) {
    self.className = className
    self.imageScores = imageScores
    self.imageLabels = imageLabels
    self.maps = maps
    self.masks = masks
    self.height = height
    self.width = width
  }
}

public enum Evaluation {
  /// I-AUROC, P-AUROC and AUPRO (to FPR 0.3) of one class; definitions in `AUROC` and
  /// `PixelMetrics`. A pure function of its input, safe to call from several threads at once.
  /// Throws a `MetricsError` naming the class when the input is inconsistent or a metric is
  /// undefined (e.g. a test set without defective or without good images).
  public static func evaluate(_ scores: ClassScores) throws -> ClassMetrics {
    let what = "class '\(scores.className)'"
    guard scores.maps.count == scores.imageScores.count else {
      throw MetricsError.countMismatch(what: "\(what) anomaly maps (one per image score)",
                                       expected: scores.imageScores.count, found: scores.maps.count)
    }
    let image = try AUROC.compute(scores: scores.imageScores, labels: scores.imageLabels, what: "\(what) image scores")
    let pixel = try PixelMetrics.compute(maps: scores.maps, masks: scores.masks, width: scores.width,
                                         height: scores.height, what: "\(what) pixel scores")
    return ClassMetrics(iAUROC: image, pAUROC: pixel.pAUROC, aupro: pixel.aupro)
  }
}
