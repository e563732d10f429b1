/// Scores sorted once, highest first, each carrying a 32-bit tag (a 0/1 label, or the id of the
/// ground-truth region a pixel belongs to), walked as groups of equal scores: one group per
/// distinct threshold. Every ranking metric here (AUROC, P-AUROC, AUPRO) is a walk over these
/// groups, so ties are handled in one place.
///
/// Each element is packed into one `UInt64` (order-preserving score bits high, tag low) so the
/// sort is a plain integer sort of 8 bytes per pixel: fast and small enough for the hundreds of
/// millions of pixels a full-resolution test set has.
struct RankedScores {
  private var entries: [UInt64]

  /// `entries` from `entry(score:tag:)`, in any order.
  init(entries: [UInt64]) {
    self.entries = entries
    self.entries.sort()
  }

  /// Packs a score and its tag. Equal floats (including +0 and −0) get equal keys; NaN must be
  /// rejected by the caller (`isNaN` check) since it has no place in the order.
  @inline(__always)
  static func entry(score: Float, tag: UInt32) -> UInt64 {
    let v = score == 0 ? Float(0) : score  // −0 == +0
    let bits = v.bitPattern
    // Flip negatives entirely and set the sign bit of positives: unsigned order = float order.
    let key = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    return UInt64(key) << 32 | UInt64(tag)
  }

  @inline(__always)
  static func tag(_ entry: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: entry) }

  var count: Int { entries.count }

  /// Calls `body` once per distinct score, from the highest to the lowest, with the entries that
  /// hold that score (read their tags with `tag(_:)`).
  func forEachThreshold(_ body: (Slice<UnsafeBufferPointer<UInt64>>) -> Void) {
    entries.withUnsafeBufferPointer { all in
      var end = all.count
      while end > 0 {
        let key = all[end - 1] >> 32
        var start = end - 1
        while start > 0 && all[start - 1] >> 32 == key { start -= 1 }
        body(all[start..<end])
        end = start
      }
    }
  }
}
