import Testing

@testable import Metrics

/// AUPRO on maps built so that FPR(t) and PRO(t) have closed forms.
struct AUPROTests {
  /// One image, one row: `region` defect pixels (columns 0..<region, one 8-connected region) then
  /// `defectFree` pixels. Defect-free pixel j scores 1 − j/defectFree (a linear ramp); defect pixel
  /// j ties with defect-free pixel j. Each threshold therefore adds ΔFPR = 1/defectFree and
  /// ΔPRO = 1/region until the region is covered: PRO(FPR) = min(1, s · FPR), s = defectFree/region.
  static func tiedRamp(region: Int, defectFree: Int) -> (map: [Float], mask: [UInt8]) {
    let ramp = (0..<defectFree).map { 1 - Float($0) / Float(defectFree) }
    return (Array(ramp.prefix(region)) + ramp, [UInt8](repeating: 1, count: region) + [UInt8](repeating: 0, count: defectFree))
  }

  /// ∫₀ᴸ min(1, s·x) dx / L.
  static func closedForm(slope s: Double, limit l: Double) -> Double {
    if s * l <= 1 { return s * l / 2 }
    let knee = 1 / s
    return (knee / 2 + (l - knee)) / l
  }

  static func aupro(_ maps: [[Float]], _ masks: [[UInt8]], width: Int, height: Int, limit: Double = 0.3) throws -> Double {
    try PixelMetrics.compute(maps: maps, masks: masks, width: width, height: height, fprLimit: limit).aupro
  }

  @Test(arguments: [(10, 10), (4, 12), (2, 10), (3, 7), (5, 40)])
  func linearRampMatchesClosedForm(region: Int, defectFree: Int) throws {
    let (map, mask) = Self.tiedRamp(region: region, defectFree: defectFree)
    let got = try Self.aupro([map], [mask], width: map.count, height: 1)
    let want = Self.closedForm(slope: Double(defectFree) / Double(region), limit: 0.3)
    #expect(abs(got - want) < 1e-12, "region \(region), defect-free \(defectFree): \(got) vs \(want)")
  }

  @Test func interpolationAtTheLimitMatters() throws {
    // Region 4, 12 defect-free: points (k/12, k/4); FPR 0.3 falls between 0.25 and 0.333…, where
    // the curve is PRO = 3·FPR = 0.9 → area 0.135, normalised 0.45. Stopping at the last point
    // before 0.3 would give 0.3125, running on to the next point 0.556.
    let (map, mask) = Self.tiedRamp(region: 4, defectFree: 12)
    let got = try Self.aupro([map], [mask], width: 16, height: 1)
    #expect(abs(got - 0.45) < 1e-12, "\(got)")
    // Other limits on the same curve: 0.2 (PRO 0.6, normalised area 0.3) and 1.0.
    #expect(abs(try Self.aupro([map], [mask], width: 16, height: 1, limit: 0.2) - 0.3) < 1e-12)
    #expect(abs(try Self.aupro([map], [mask], width: 16, height: 1, limit: 1) - Self.closedForm(slope: 3, limit: 1)) < 1e-12)
  }

  @Test func regionAboveAFractionOfTheRamp() throws {
    // 10 defect-free pixels 0.05…0.95; one 3-pixel region at 0.8: PRO jumps 0 → 1 at FPR 0.2
    // (0.85 and 0.95 are above it), so AUPRO = (0.3 − 0.2) / 0.3.
    let ramp = (0..<10).map { Float($0) / 10 + 0.05 }
    let map = [Float](repeating: 0.8, count: 3) + ramp
    let mask = [UInt8](repeating: 1, count: 3) + [UInt8](repeating: 0, count: 10)
    #expect(abs(try Self.aupro([map], [mask], width: 13, height: 1) - 1.0 / 3) < 1e-12)
  }

  @Test func regionsWeighEquallyWhateverTheirSize() throws {
    // Row: region A (1 px, score 1) | defect-free gap | region B (9 px, score 0) | 19 defect-free
    // pixels ramped in (0.1, 0.9). Above B's score PRO = (1 + 0) / 2 = 0.5 from FPR 0 on, so
    // AUPRO = 0.5; weighting pixels instead of regions would give 0.1.
    var map: [Float] = [1, 0.5] + [Float](repeating: 0, count: 9)
    var mask: [UInt8] = [1, 0] + [UInt8](repeating: 1, count: 9)
    for j in 0..<19 {
      map.append(0.1 + 0.8 * Float(j) / 19)
      mask.append(0)
    }
    #expect(abs(try Self.aupro([map], [mask], width: map.count, height: 1) - 0.5) < 1e-12)
  }

  @Test func diagonalNeighboursFormOneRegion() throws {
    // 5×5: a diagonal chain (0,0), (1,1), (2,2) scored 1, 1, 0 and a lone pixel (row 4, col 0)
    // scored 0; defect-free pixels ramp in (0.1, 0.9). 8-connected regions: chain (2/3 covered)
    // and the lone pixel (0) → PRO = 1/3. Four-connectivity would make four regions → 1/2.
    var map = [Float](repeating: 0, count: 25), mask = [UInt8](repeating: 0, count: 25)
    for (p, s) in [(0, Float(1)), (6, 1), (12, 0), (20, 0)] {
      mask[p] = 1
      map[p] = s
    }
    var k = 0
    for p in 0..<25 where mask[p] == 0 {
      map[p] = 0.1 + 0.8 * Float(k) / 21
      k += 1
    }
    #expect(ConnectedRegions(mask: mask, width: 5, height: 5).sizes == [3, 1])
    #expect(abs(try Self.aupro([map], [mask], width: 5, height: 5) - 1.0 / 3) < 1e-12)
  }

  @Test func falsePositivesCountPixelsOfGoodImagesToo() throws {
    // Image 1: a 2-pixel region at 0.5 among 2 defect-free pixels at 0.1. Image 2 (good): 4
    // pixels at 0.9, 0.9, 0.1, 0.1. FPR before the region's threshold = 2/6; AUPRO = 0 (the
    // region is found only past FPR 0.3). Without the good image it would be 1.
    let maps: [[Float]] = [[0.5, 0.5, 0.1, 0.1], [0.9, 0.9, 0.1, 0.1]]
    let masks: [[UInt8]] = [[1, 1, 0, 0], [0, 0, 0, 0]]
    #expect(try Self.aupro(maps, masks, width: 2, height: 2) == 0)
    #expect(try Self.aupro([maps[0]], [masks[0]], width: 2, height: 2) == 1)
  }

  @Test func perfectDetectorScoresExactlyOne() throws {
    // Regions of 3, 7 and 11 pixels (1/3, 1/7, 1/11 are inexact in binary), found whole at the
    // first threshold, and partly at varied scores in a second image: PRO must reach 1.0 exactly.
    var mask = [UInt8](repeating: 0, count: 60)
    for p in [0, 1, 2] + Array(10..<17) + Array(40..<51) { mask[p] = 1 }
    #expect(ConnectedRegions(mask: mask, width: 20, height: 3).sizes == [3, 7, 11])
    let map = mask.map { Float($0) }
    let graded = mask.enumerated().map { $0.element == 1 ? 1 + Float($0.offset % 5) : 0 }
    let pixel = try PixelMetrics.compute(maps: [map, graded], masks: [mask, mask], width: 20, height: 3)
    #expect(pixel.aupro == 1 && pixel.pAUROC == 1)
  }

  @Test func pixelAUROCComesFromTheSameSort() throws {
    let (map, mask) = Self.tiedRamp(region: 4, defectFree: 12)
    let pixel = try PixelMetrics.compute(maps: [map], masks: [mask], width: 16, height: 1)
    #expect(pixel.pAUROC == (try AUROC.compute(scores: map, labels: mask.map(Int.init))))
  }

  @Test func undefinedOrBadInputThrows() {
    #expect(throws: MetricsError.noDefectRegion(what: "pixel scores")) {
      try Self.aupro([[0.1, 0.2]], [[0, 0]], width: 2, height: 1)
    }
    #expect(throws: MetricsError.noDefectFreePixel(what: "pixel scores")) {
      try Self.aupro([[0.1, 0.2]], [[1, 1]], width: 2, height: 1)
    }
    #expect(throws: MetricsError.countMismatch(what: "pixel scores: map of image 0 (2x2)", expected: 4, found: 3)) {
      try Self.aupro([[0.1, 0.2, 0.3]], [[1, 0, 0, 0]], width: 2, height: 2)
    }
    #expect(throws: MetricsError.nanScore(what: "pixel scores: map of image 0", index: 1)) {
      try Self.aupro([[0.1, .nan]], [[1, 0]], width: 2, height: 1)
    }
  }
}
