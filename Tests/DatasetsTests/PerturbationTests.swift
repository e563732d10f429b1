import Testing

@testable import Datasets

/// The feature-injection perturbations on their own: Perlin noise, plans, patches.
@Suite struct PerturbationTests {
  static let size = 32

  /// A sample whose every pixel is `value` in image units ([0, 1]), in RGB and depth.
  static func flat(_ value: Float, className: String = "a") -> PreparedSample {
    let sample = Sample(className: className, split: .train, defectType: "good", label: 0, rgbPath: "/d/\(className)/0.png",
                        depthPath: "/d/\(className)/0.tiff", depthKind: .xyzTIFF, maskPath: nil)
    let n = size * size
    let chw = (0..<3).flatMap { c in [Float](repeating: (value - Preprocessor.imagenetMean[c]) / Preprocessor.imagenetStd[c], count: n) }
    return PreparedSample(sample: sample, size: size, rgb: chw, depth: chw, mask: [Float](repeating: 0, count: n))
  }

  /// Per channel and pixel, the change in image units (undoing the ImageNet normalisation).
  static func change(_ before: [Float], _ after: [Float]) -> [Float] {
    let n = before.count / 3
    return (0..<before.count).map { i in (after[i] - before[i]) * Preprocessor.imagenetStd[i / n] }
  }

  @Test func perlinFieldPeaksAtOneAndFollowsItsSeed() {
    let a = PerlinNoise(cells: 4, octaves: 3, seed: 1).field(size: 64)
    #expect(abs(a.map { abs($0) }.max()! - 1) < 1e-6)
    #expect(a == PerlinNoise(cells: 4, octaves: 3, seed: 1).field(size: 64))
    #expect(a != PerlinNoise(cells: 4, octaves: 3, seed: 2).field(size: 64))
    #expect(a != PerlinNoise(cells: 4, octaves: 1, seed: 1).field(size: 64))
    // Gradient noise is smooth: neighbouring pixels differ far less than the peak.
    let steps = (0..<63).map { abs(a[$0 + 1] - a[$0]) }
    #expect(steps.max()! < 0.35, "largest step between neighbours \(steps.max()!)")
    // And it is not a constant: both signs occur.
    #expect(a.contains { $0 > 0.3 } && a.contains { $0 < -0.3 })
  }

  @Test func redundantNoiseHasTheRequestedAmplitudeIndependentlyInRGBAndDepth() {
    for amplitude: Float in [0.05, 0.3] {
      var p = Perturbation()
      p.redundant = amplitude
      p.octaves = 3
      let plan = p.plan(seed: 7, sampleID: "a/train/good/rgb/000.png", inputSize: Self.size, donors: 0)
      #expect(plan.patches.isEmpty && plan.noise.count == 2)
      let before = Self.flat(0.5)  // mid-grey: ±amplitude never clips
      var after = before
      plan.apply(to: &after, pixels: [])
      let n = Self.size * Self.size
      for (name, d) in [("rgb", Self.change(before.rgb, after.rgb)), ("depth", Self.change(before.depth, after.depth))] {
        #expect(abs(d.map { abs($0) }.max()! - amplitude) < 1e-5, "\(name) peak change \(d.map { abs($0) }.max()!) for amplitude \(amplitude)")
        // The same field on every channel of an image.
        for i in 0..<n { #expect(abs(d[i] - d[n + i]) < 1e-5 && abs(d[i] - d[2 * n + i]) < 1e-5) }
      }
      let rgbField = Array(Self.change(before.rgb, after.rgb)[0..<n]), depthField = Array(Self.change(before.depth, after.depth)[0..<n])
      #expect(zip(rgbField, depthField).contains { abs($0 - $1) > amplitude / 4 }, "RGB and depth noise must be independent fields")
    }
  }

  @Test func noiseClipsToValidImages() {
    var p = Perturbation()
    p.redundant = 0.8
    let plan = p.plan(seed: 1, sampleID: "x", inputSize: Self.size, donors: 0)
    var s = Self.flat(0.9)
    plan.apply(to: &s, pixels: [])
    let n = Self.size * Self.size
    for i in 0..<(3 * n) {
      let v = s.rgb[i] * Preprocessor.imagenetStd[i / n] + Preprocessor.imagenetMean[i / n]
      #expect(v >= -1e-5 && v <= 1 + 1e-5)
    }
  }

  @Test func zeroIntensityLeavesSamplesUntouched() {
    var p = Perturbation()
    #expect(!p.isActive && p.patchCount == 0)
    let none = p.plan(seed: 3, sampleID: "a", inputSize: Self.size, donors: 5)
    #expect(none.isEmpty)
    var s = Self.flat(0.4)
    none.apply(to: &s, pixels: [])
    #expect(s.rgb == Self.flat(0.4).rgb && s.depth == Self.flat(0.4).depth)
    // Other keys alone do not switch anything on.
    p.octaves = 6
    p.spuriousPatches = 9
    #expect(!p.isActive && p.plan(seed: 3, sampleID: "a", inputSize: Self.size, donors: 5).isEmpty)
  }

  @Test func intensitySetsThePatchCountAndPlansAreSeeded() {
    var p = Perturbation()
    p.spurious = 0.5
    p.spuriousPatches = 4
    p.spuriousSize = 0.25
    #expect(p.patchCount == 2 && p.patchSide(inputSize: 64) == 16)
    p.spurious = 1
    #expect(p.patchCount == 4)
    p.spurious = 0.1
    #expect(p.patchCount == 1)  // any positive intensity pastes at least one
    p.spurious = 1
    let plan = p.plan(seed: 11, sampleID: "a/1", inputSize: 64, donors: 6)
    #expect(plan.patches.count == 4)
    for patch in plan.patches {
      #expect((0..<6).contains(patch.donor) && patch.side == 16)
      for v in [patch.sourceX, patch.sourceY, patch.targetX, patch.targetY] { #expect(v >= 0 && v + 16 <= 64) }
    }
    // Deterministic per (seed, sample); another seed or sample gives another plan.
    #expect(plan == p.plan(seed: 11, sampleID: "a/1", inputSize: 64, donors: 6))
    #expect(plan != p.plan(seed: 12, sampleID: "a/1", inputSize: 64, donors: 6))
    #expect(plan != p.plan(seed: 11, sampleID: "a/2", inputSize: 64, donors: 6))
    #expect(plan.key != p.plan(seed: 12, sampleID: "a/1", inputSize: 64, donors: 6).key)
    // Spurious and redundant draw from separate streams: adding noise keeps the patches.
    var q = p
    q.redundant = 0.2
    #expect(q.plan(seed: 11, sampleID: "a/1", inputSize: 64, donors: 6).patches == plan.patches)
  }

  @Test func pastedPatchesCarryTheDonorRegionInRGBAndDepth() {
    // Position-coded donor: RGB holds 1000·c + 100·y + x (unique per pixel), depth its negative.
    var donor = Self.flat(0, className: "b")
    let s = Self.size, n = s * s
    donor.rgb = (0..<(3 * n)).map { Float(1000 * ($0 / n) + 100 * (($0 % n) / s) + $0 % s) }
    donor.depth = donor.rgb.map { -$0 }
    let paste = PatchPaste(donor: 0, side: 5, sourceX: 3, sourceY: 7, targetX: 20, targetY: 1)
    let plan = PerturbationPlan(patches: [paste], noise: [], amplitude: 0)
    var target = Self.flat(0.5)
    let before = target
    plan.apply(to: &target, pixels: [PerturbationPlan.cut(paste, from: donor)])
    for c in 0..<3 {
      for y in 0..<s {
        for x in 0..<s {
          let i = c * n + y * s + x
          let inside = (20..<25).contains(x) && (1..<6).contains(y)
          if inside {
            let expected = Float(1000 * c + 100 * (y - 1 + 7) + (x - 20 + 3))
            #expect(target.rgb[i] == expected && target.depth[i] == -expected, "pixel (\(c), \(y), \(x))")
          } else {
            #expect(target.rgb[i] == before.rgb[i] && target.depth[i] == before.depth[i])
          }
        }
      }
    }
  }
}
