/// The area under a ROC curve built threshold by threshold, highest threshold first.
///
/// Each threshold adds the positives and negatives scoring exactly that value; the curve moves
/// from (FPR, TPR) before to after in a straight line, so a tie between positives and negatives
/// counts one half — the trapezoid rule over distinct thresholds equals the Mann–Whitney U
/// statistic with ties split. Counts are integers and the doubled area is accumulated exactly in
/// integer arithmetic; only the final division rounds.
struct ROCCurve {
  private(set) var positives = 0
  private(set) var negatives = 0
  /// Σ ΔFP · (TP_before + TP_after): twice the area in count units (≤ 2·P·N, fits in Int64 for
  /// any test set that fits in memory).
  private var doubledArea = 0

  mutating func addThreshold(positives p: Int, negatives n: Int) {
    doubledArea += n * (2 * positives + p)
    positives += p
    negatives += n
  }

  /// The AUROC once every threshold has been added; throws when one class is absent.
  func area(what: String) throws -> Double {
    guard positives > 0 && negatives > 0 else {
      throw MetricsError.oneClassOnly(what: what, positives: positives, negatives: negatives)
    }
    return Double(doubledArea) / (2 * Double(positives) * Double(negatives))
  }
}

public enum AUROC {
  /// The area under the ROC curve of `scores` against `labels` (1 = defect = positive, higher score
  /// = more anomalous), exact with ties (a tied positive/negative pair counts one half).
  ///
  /// Never flipped: a detector that ranks every defect below every good sample gets 0, not 1.
  /// Throws `MetricsError.oneClassOnly` when either class is absent (AUROC is undefined there),
  /// `.nanScore`, `.invalidLabel` or `.countMismatch` for bad input. `what` names the data in errors.
  public static func compute(scores: [Float], labels: [Int], what: String = "AUROC") throws -> Double {
    guard scores.count == labels.count else {
      throw MetricsError.countMismatch(what: "\(what) labels", expected: scores.count, found: labels.count)
    }
    var entries = [UInt64]()
    entries.reserveCapacity(scores.count)
    for (i, (s, l)) in zip(scores, labels).enumerated() {
      guard !s.isNaN else { throw MetricsError.nanScore(what: what, index: i) }
      guard l == 0 || l == 1 else { throw MetricsError.invalidLabel(what: what, index: i, value: l) }
      entries.append(RankedScores.entry(score: s, tag: UInt32(l)))
    }
    var roc = ROCCurve()
    RankedScores(entries: entries).forEachThreshold { group in
      var p = 0
      for e in group where RankedScores.tag(e) == 1 { p += 1 }
      roc.addThreshold(positives: p, negatives: group.count - p)
    }
    return try roc.area(what: what)
  }
}
