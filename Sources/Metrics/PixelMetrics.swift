/// Pixel-level metrics of one class's test set: P-AUROC over all pixels and AUPRO (SPEC §8),
/// computed from a single sort of every pixel.
///
/// AUPRO definition. Regions are the 8-connected components of each image's ground truth.
/// A pixel is predicted anomalous at threshold t when its score is ≥ t. For every distinct score t,
/// highest first:
///   FPR(t) = (defect-free pixels, of all images including good ones, with score ≥ t) / (all defect-free pixels)
///   PRO(t) = mean over all regions R of (pixels of R with score ≥ t) / |R|
/// The curve (0, 0), (FPR(t), PRO(t))… is integrated with the trapezoid rule up to FPR = `limit`
/// (interpolated there) and divided by `limit`. Each region weighs the same, whatever its size.
///
/// One point per distinct threshold differs from MVTec's reference code (one point per pixel in
/// sort order) only where a defect-free pixel ties with a defect pixel: there MVTec's staircase
/// depends on the order argsort leaves the tie in, ours takes the straight line (docs/metrics.md).
public struct PixelMetrics: Equatable, Sendable {
  public var pAUROC: Double
  public var aupro: Double

  /// The paper's and MVTec's AUPRO integration limit.
  public static let defaultFPRLimit = 0.3

  /// `maps[i]` and `masks[i]` are image i's scores and ground truth (nonzero = defect), row-major
  /// `height × width`. `what` names the data in errors.
  public static func compute(maps: [[Float]], masks: [[UInt8]], width: Int, height: Int,
                             fprLimit: Double = defaultFPRLimit, what: String = "pixel scores") throws -> PixelMetrics {
    guard fprLimit > 0 && fprLimit <= 1 else {
      throw MetricsError.invalidArgument(what: what, reason: "FPR limit must be in (0, 1], got \(fprLimit)")
    }
    guard width > 0 && height > 0 else {
      throw MetricsError.invalidArgument(what: what, reason: "map size \(width)x\(height) must be positive")
    }
    guard maps.count == masks.count else {
      throw MetricsError.countMismatch(what: "\(what): masks", expected: maps.count, found: masks.count)
    }
    let pixels = width * height
    // Tag 0 = defect-free; tag k ≥ 1 = global region k of regionSize[k] pixels.
    var entries = [UInt64]()
    entries.reserveCapacity(maps.count * pixels)
    var regionSize: [Int] = [0]
    var defectPixels = 0
    for (i, (map, mask)) in zip(maps, masks).enumerated() {
      guard map.count == pixels else {
        throw MetricsError.countMismatch(what: "\(what): map of image \(i) (\(width)x\(height))", expected: pixels, found: map.count)
      }
      guard mask.count == pixels else {
        throw MetricsError.countMismatch(what: "\(what): mask of image \(i) (\(width)x\(height))", expected: pixels, found: mask.count)
      }
      let regions = ConnectedRegions(mask: mask, width: width, height: height)
      let offset = UInt32(regionSize.count - 1)
      regionSize += regions.sizes
      defectPixels += regions.sizes.reduce(0, +)
      for p in 0..<pixels {
        let s = map[p]
        guard !s.isNaN else { throw MetricsError.nanScore(what: "\(what): map of image \(i)", index: p) }
        let local = regions.labels[p]
        entries.append(RankedScores.entry(score: s, tag: local == 0 ? 0 : offset + local))
      }
    }
    let regionCount = regionSize.count - 1
    guard regionCount > 0 else { throw MetricsError.noDefectRegion(what: what) }
    let ranked = RankedScores(entries: entries)
    let defectFree = ranked.count - defectPixels
    guard defectFree > 0 else { throw MetricsError.noDefectFreePixel(what: what) }

    var roc = ROCCurve()
    var pro = PROCurve(limit: fprLimit)
    var coverage = PROCoverage(regionSize: regionSize)
    ranked.forEachThreshold { group in
      var negatives = 0
      for e in group {
        let tag = Int(RankedScores.tag(e))
        if tag == 0 { negatives += 1 } else { coverage.cover(region: tag) }
      }
      roc.addThreshold(positives: group.count - negatives, negatives: negatives)
      pro.addPoint(fpr: Double(roc.negatives) / Double(defectFree), pro: coverage.pro)
    }
    return PixelMetrics(pAUROC: try roc.area(what: what), aupro: pro.normalizedArea)
  }
}

/// Σ over regions of (covered pixels / region size), kept so that fully covered regions count
/// exactly 1: a detector that finds every region whole reaches PRO = 1.0, not 1 − 1e-16.
/// Completed regions are an integer count; only partly covered ones go through a float sum,
/// which is reset to exactly 0 whenever no region is partly covered.
struct PROCoverage {
  private let regionSize: [Int]
  private var covered: [Int]
  private var complete = 0
  private var partlyCovered = 0
  private var partial = 0.0

  /// `regionSize[k]` for regions 1...R; index 0 is unused.
  init(regionSize: [Int]) {
    self.regionSize = regionSize
    covered = [Int](repeating: 0, count: regionSize.count)
  }

  mutating func cover(region k: Int) {
    covered[k] += 1
    let n = regionSize[k]
    if covered[k] == n {
      complete += 1
      if n > 1 {
        partlyCovered -= 1
        partial -= Double(n - 1) / Double(n)
      }
      if partlyCovered == 0 { partial = 0 }
    } else {
      if covered[k] == 1 { partlyCovered += 1 }
      partial += 1 / Double(n)
    }
  }

  /// The current PRO: mean coverage over all regions.
  var pro: Double { (Double(complete) + partial) / Double(regionSize.count - 1) }
}
