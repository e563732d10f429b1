/// The area under a PRO curve (per-region overlap against false-positive rate) up to an FPR limit,
/// built point by point in order of increasing FPR, normalised by the limit.
///
/// The curve starts at (0, 0). Segments are integrated with the trapezoid rule; the segment that
/// crosses the limit is cut there, its end value linearly interpolated — the same as MVTec's
/// `trapezoid(fprs, pros, x_max=limit)`. A point exactly at the limit needs no interpolation.
struct PROCurve {
  let limit: Double
  private var lastFPR = 0.0
  private var lastPRO = 0.0
  private var area = 0.0
  private(set) var reachedLimit = false

  init(limit: Double) {
    precondition(limit > 0 && limit <= 1, "PROCurve: limit must be in (0, 1], got \(limit)")
    self.limit = limit
  }

  /// Adds the next point; `fpr` must not decrease. Points past the limit are ignored.
  mutating func addPoint(fpr: Double, pro: Double) {
    guard !reachedLimit else { return }
    precondition(fpr >= lastFPR, "PROCurve: FPR must not decrease (\(lastFPR) then \(fpr))")
    if fpr <= limit {
      area += 0.5 * (lastPRO + pro) * (fpr - lastFPR)
      reachedLimit = fpr == limit
    } else {
      let proAtLimit = lastPRO + (pro - lastPRO) * (limit - lastFPR) / (fpr - lastFPR)
      area += 0.5 * (lastPRO + proAtLimit) * (limit - lastFPR)
      reachedLimit = true
    }
    lastFPR = fpr
    lastPRO = pro
  }

  /// The normalised area in [0, 1]; valid once a point at or past the limit was added.
  var normalizedArea: Double {
    precondition(reachedLimit, "PROCurve: the curve ended before FPR \(limit)")
    return area / limit
  }
}
