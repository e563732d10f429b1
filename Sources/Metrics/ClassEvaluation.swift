import Datasets

/// One class's part of an evaluation: AUROC and AUPRO are defined per class, so every caller
/// (training's evaluation, learning curves, `iumad evaluate`) scores class by class the same way.
public struct ClassEvaluation {
  public let className: String
  /// Positions of the class's samples in the evaluated sample list.
  public let indices: [Int]
  /// The protocol-prepared map of each of those samples.
  public let images: [PreparedImage]
  public let metrics: ClassMetrics

  /// The same metrics per defect kind, each kind against the class's good images.
  public func byDefectKind(_ samples: [Sample]) throws -> [String: ClassMetrics] {
    try Evaluation.byDefectKind(className: className, images: images, labels: indices.map { samples[$0].label },
                                kinds: indices.map { samples[$0].defectType })
  }
}

extension Evaluation {
  /// Every class of `classes`, in order: its samples' prepared maps (`prepare(i)` for sample i)
  /// and their metrics.
  public static func byClass(_ classes: [String], samples: [Sample], prepare: (Int) throws -> PreparedImage) throws -> [ClassEvaluation] {
    try classes.map { c in
      let idx = samples.indices.filter { samples[$0].className == c }
      let images = try idx.map(prepare)
      let metrics = try evaluate(try ClassScores(className: c, images: images, labels: idx.map { samples[$0].label }))
      return ClassEvaluation(className: c, indices: idx, images: images, metrics: metrics)
    }
  }
}
