import ImageIO
import Tensor
import Testing

@testable import Datasets

/// The generator's promises: defects change exactly the masked pixels, colour defects only RGB,
/// dents only depth, and by clearly more than the rendering noise.
@Suite struct SyntheticRendererTests {
  static let size = 96

  func render(_ classIndex: Int, _ defect: SyntheticDefect) -> SyntheticSample {
    let cls = SyntheticClass.catalogue(count: 10)[classIndex]
    var rng = RNG(seed: 11, stream: UInt64(classIndex))
    var defectRNG = RNG(seed: 11, stream: 1000 + UInt64(classIndex))
    return SyntheticRenderer(size: Self.size).render(cls, defect: defect, rng: &rng, defectRNG: &defectRNG)
  }

  @Test(arguments: 0..<10)
  func colourDefectChangesRGBExactlyUnderItsMask(classIndex: Int) {
    let good = render(classIndex, .good), bad = render(classIndex, .color)
    #expect(good.mask.samples.allSatisfy { $0 == 0 })
    #expect(bad.xyz == good.xyz, "a colour defect must not touch depth")
    let n = Self.size * Self.size
    var masked = 0, changed = 0, change: Float = 0
    for i in 0..<n {
      let diff = (0..<3).map { abs(Float(bad.rgb.samples[3 * i + $0]) - Float(good.rgb.samples[3 * i + $0])) }.reduce(0, +)
      if bad.mask.samples[i] == 0 {
        #expect(diff == 0, "pixel \(i) changed outside the mask")
      } else {
        masked += 1
        if diff > 0 { changed += 1 }
        change += diff / (3 * 255)
      }
    }
    #expect(masked > 40, "defect too small: \(masked) pixels")
    #expect(changed == masked)
    #expect(change / Float(masked) > 0.15, "stain too faint: mean change \(change / Float(masked))")
  }

  @Test(arguments: 0..<10)
  func dentChangesDepthExactlyUnderItsMask(classIndex: Int) {
    let good = render(classIndex, .good), bad = render(classIndex, .dent)
    #expect(bad.rgb == good.rgb, "a dent must not change the RGB image")
    let cls = SyntheticClass.catalogue(count: 10)[classIndex]
    var masked = 0
    for i in 0..<(Self.size * Self.size) {
      let dz = bad.xyz.data[3 * i + 2] - good.xyz.data[3 * i + 2]
      let missing = good.xyz.data[3 * i + 2] == 0
      if bad.mask.samples[i] == 0 || missing {
        #expect(dz == 0, "pixel \(i) moved outside the mask")
      } else {
        masked += 1
        // At least 30% of the dent depth, itself at least half the object's height.
        #expect(dz >= 0.3 * 0.5 * cls.height * 0.999, "pixel \(i) barely moved: \(dz)")
      }
    }
    #expect(masked > 40)
  }

  @Test func combinedHasBothKindsAndMasksAreBinary() {
    for k in 0..<10 {
      let good = render(k, .good), both = render(k, .combined)
      #expect(both.rgb != good.rgb && both.xyz != good.xyz)
      #expect(Set(both.mask.samples).isSubset(of: [0, 255]))
    }
  }

  @Test func pointMapHasMissingBorderAndPlausibleValidFraction() {
    let s = render(3, .good)
    let z = (0..<(Self.size * Self.size)).map { s.xyz.data[3 * $0 + 2] }
    #expect(z[0] == 0 && z[Self.size * Self.size - 1] == 0, "scanner border should be missing")
    let valid = Double(z.filter { $0 != 0 }.count) / Double(z.count)
    #expect(valid > 0.85 && valid < 0.99)
  }

  @Test func classesAreDistinct() {
    let names = SyntheticDataset.classNames(count: 25)
    #expect(Set(names).count == 25)
    #expect(Array(names.prefix(3)) == ["disc", "box", "ring"])
  }
}
