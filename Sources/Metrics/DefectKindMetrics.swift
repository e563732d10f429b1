/// Metrics per defect kind: a model can find colour stains and miss dents (or the reverse) while
/// the class mean hides it. Each kind is scored against the class's good images alone.
extension Evaluation {
  /// For every kind other than `good` among `kinds` (one per image, parallel to `images`):
  /// I-AUROC, P-AUROC and AUPRO over the good images plus that kind's images.
  /// Kinds are skipped when the class has no good images to compare them with.
  public static func byDefectKind(className: String, images: [PreparedImage], labels: [Int],
                                  kinds: [String]) throws -> [String: ClassMetrics] {
    let good = images.indices.filter { labels[$0] == 0 }
    guard !good.isEmpty else { return [:] }
    var out: [String: ClassMetrics] = [:]
    for kind in Set(kinds.indices.filter { labels[$0] == 1 }.map { kinds[$0] }).sorted() {
      let idx = good + images.indices.filter { labels[$0] == 1 && kinds[$0] == kind }
      let scores = try ClassScores(className: "\(className)/\(kind)", images: idx.map { images[$0] }, labels: idx.map { labels[$0] })
      out[kind] = try evaluate(scores)
    }
    return out
  }
}
