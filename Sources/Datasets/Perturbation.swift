import Foundation
import Tensor

/// The paper's feature-injection study (Section 2, Figure 2): training inputs are perturbed to
/// see how spurious and redundant features drive forgetting.
///
/// - *spurious*: square patches cut from other classes' training images (the RGB region and
///   the depth region at the same coordinates) are pasted at random positions; the intensity
///   sets how many: ⌈intensity · `spuriousPatches`⌉ patches of side `spuriousSize` · input size.
/// - *redundant*: fractal Perlin noise (`PerlinNoise`) is added to the RGB image and, with an
///   independent field, to the depth map; the intensity is the noise's peak amplitude in image
///   units (RGB and normalised depth both span [0, 1]), results clipped to [0, 1].
///
/// Perturbations act on preprocessed samples (`PreparedSample`, at input size, so the patches
/// of RGB and depth line up) and only on training data; a sample's perturbation depends only on
/// the run's seed and the sample's identity, so the perturbed training set is fixed for a run and
/// its backbone features can be cached.
public struct Perturbation: Equatable, Sendable {
  /// Spurious-feature intensity (0 = off).
  public var spurious: Float = 0
  /// Patches pasted per image at intensity 1.
  public var spuriousPatches = 4
  /// Patch side as a fraction of the input size.
  public var spuriousSize: Float = 0.25
  /// Redundant-feature intensity: peak amplitude of the Perlin noise (0 = off).
  public var redundant: Float = 0
  public var octaves = 4
  /// Perlin lattice cells across the image in the first octave.
  public var noiseCells = 4

  public init() {}

  public var isActive: Bool { spurious > 0 || redundant > 0 }

  /// Patches pasted into each training image.
  public var patchCount: Int { spurious > 0 ? Int((spurious * Float(spuriousPatches)).rounded(.up)) : 0 }

  public func patchSide(inputSize: Int) -> Int {
    min(inputSize, max(1, Int((spuriousSize * Float(inputSize)).rounded())))
  }

  /// What is done to one training sample: drawn from streams named by `sampleID` under `seed`
  /// (spurious and redundant draw from separate streams, so changing one leaves the other as
  /// it was). `donors` is the number of images patches may come from (other classes' training
  /// images); the plan's `PatchPaste.donor` indexes them.
  public func plan(seed: UInt64, sampleID: String, inputSize: Int, donors: Int) -> PerturbationPlan {
    var patches: [PatchPaste] = []
    if patchCount > 0 && donors > 0 {
      var rng = RNG(seed: seed, name: "perturb/spurious/\(sampleID)")
      let side = patchSide(inputSize: inputSize), room = inputSize - side + 1
      for _ in 0..<patchCount {
        patches.append(PatchPaste(donor: rng.int(below: donors), side: side,
                                  sourceX: rng.int(below: room), sourceY: rng.int(below: room),
                                  targetX: rng.int(below: room), targetY: rng.int(below: room)))
      }
    }
    var noise: (rgb: PerlinNoise, depth: PerlinNoise)?
    if redundant > 0 {
      var rng = RNG(seed: seed, name: "perturb/redundant/\(sampleID)")
      noise = (PerlinNoise(cells: noiseCells, octaves: octaves, seed: rng.next()),
               PerlinNoise(cells: noiseCells, octaves: octaves, seed: rng.next()))
    }
    return PerturbationPlan(patches: patches, noise: noise.map { [$0.rgb, $0.depth] } ?? [], amplitude: redundant)
  }
}

/// One spurious patch: the `side` × `side` square at (sourceX, sourceY) of donor image `donor`
/// is pasted with its top-left corner at (targetX, targetY), in RGB and in depth.
public struct PatchPaste: Equatable, Hashable, Sendable {
  public var donor: Int
  public var side: Int
  public var sourceX: Int, sourceY: Int
  public var targetX: Int, targetY: Int
}

/// The pixels of one cut patch, CHW with 3 channels each: ImageNet-normalised RGB and depth.
public struct PatchPixels: Equatable, Sendable {
  public var rgb: [Float]
  public var depth: [Float]
}

/// The perturbation of one sample, fixed before any pixel is touched (see `Perturbation.plan`).
public struct PerturbationPlan: Equatable, Sendable {
  public var patches: [PatchPaste]
  /// Empty (no noise) or [RGB field, depth field].
  public var noise: [PerlinNoise]
  public var amplitude: Float

  public var isEmpty: Bool { patches.isEmpty && noise.isEmpty }

  /// Everything the plan does, as text: with the donors' file contents it determines the
  /// perturbed image, so it goes into the feature-cache key.
  public var key: String {
    let p = patches.map { "\($0.side)@\($0.sourceX),\($0.sourceY)>\($0.targetX),\($0.targetY)" }.joined(separator: ";")
    let n = noise.map { "\($0.seed)/\($0.cells)/\($0.octaves)" }.joined(separator: ";")
    return "spurious[\(p)]redundant[\(amplitude)|\(n)]"
  }

  /// Cuts `paste`'s source square out of its donor (which must be `paste.donor`'s image).
  public static func cut(_ paste: PatchPaste, from donor: PreparedSample) -> PatchPixels {
    func region(_ chw: [Float]) -> [Float] {
      var out: [Float] = []
      out.reserveCapacity(3 * paste.side * paste.side)
      for c in 0..<3 {
        for y in paste.sourceY..<(paste.sourceY + paste.side) {
          let row = c * donor.size * donor.size + y * donor.size
          out += chw[(row + paste.sourceX)..<(row + paste.sourceX + paste.side)]
        }
      }
      return out
    }
    return PatchPixels(rgb: region(donor.rgb), depth: region(donor.depth))
  }

  /// Pastes `pixels[k]` (cut for `patches[k]`) in order, then adds the noise.
  public func apply(to sample: inout PreparedSample, pixels: [PatchPixels]) {
    precondition(pixels.count == patches.count, "PerturbationPlan.apply: \(patches.count) patches but \(pixels.count) cut")
    let s = sample.size
    for (paste, cut) in zip(patches, pixels) {
      for c in 0..<3 {
        for y in 0..<paste.side {
          let to = c * s * s + (paste.targetY + y) * s + paste.targetX, from = (c * paste.side + y) * paste.side
          sample.rgb.replaceSubrange(to..<(to + paste.side), with: cut.rgb[from..<(from + paste.side)])
          sample.depth.replaceSubrange(to..<(to + paste.side), with: cut.depth[from..<(from + paste.side)])
        }
      }
    }
    guard noise.count == 2 else { return }
    Self.addNoise(noise[0].field(size: s), amplitude: amplitude, to: &sample.rgb)
    Self.addNoise(noise[1].field(size: s), amplitude: amplitude, to: &sample.depth)
  }

  /// Adds amplitude · field to every channel of an ImageNet-normalised CHW image, in image units
  /// ([0, 1] before normalisation), clipping to [0, 1] so the result is still a valid image.
  static func addNoise(_ field: [Float], amplitude: Float, to chw: inout [Float]) {
    let n = field.count
    for c in 0..<3 {
      let mean = Preprocessor.imagenetMean[c], std = Preprocessor.imagenetStd[c]
      for i in 0..<n {
        let v = min(max(chw[c * n + i] * std + mean + amplitude * field[i], 0), 1)
        chw[c * n + i] = (v - mean) / std
      }
    }
  }
}
