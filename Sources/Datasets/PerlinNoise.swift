import Foundation
import Tensor

/// Fractal Perlin (gradient) noise on a square image, the "redundant feature" of the paper's
/// feature-injection study (Section 2, there spelled "Berlin noise"): `octaves` layers of 2-D
/// gradient noise, each at twice the lattice frequency and half the amplitude of the one before,
/// summed and scaled so that the largest |value| of the field is exactly 1. A caller multiplies
/// the field by the intensity it wants, which is then the noise's peak amplitude.
public struct PerlinNoise: Equatable, Sendable {
  /// Lattice cells across the image in the first octave (the coarsest blobs are size/cells wide).
  public var cells: Int
  public var octaves: Int
  /// Everything random (the lattice gradients) derives from this seed.
  public var seed: UInt64

  public init(cells: Int, octaves: Int, seed: UInt64) {
    precondition(cells >= 1 && octaves >= 1, "PerlinNoise: cells and octaves must be at least 1, got \(cells), \(octaves)")
    self.cells = cells
    self.octaves = octaves
    self.seed = seed
  }

  /// The field at `size` × `size` pixels (row-major), peak |value| 1; all zeros only if every
  /// pixel centre falls on a lattice point (then there is no noise at this resolution).
  public func field(size: Int) -> [Float] {
    var out = [Float](repeating: 0, count: size * size)
    var amplitude: Float = 1
    for octave in 0..<octaves {
      let frequency = cells << octave
      // One unit gradient per lattice point, from this octave's own stream.
      var rng = RNG(seed: seed, name: "perlin/octave/\(octave)")
      let gradients = (0..<((frequency + 1) * (frequency + 1))).map { _ -> SIMD2<Float> in
        let angle = rng.uniform(0, 2 * .pi)
        return SIMD2(cos(angle), sin(angle))
      }
      for y in 0..<size {
        let v = (Float(y) + 0.5) / Float(size) * Float(frequency)
        for x in 0..<size {
          let u = (Float(x) + 0.5) / Float(size) * Float(frequency)
          out[y * size + x] += amplitude * Self.gradientNoise(u, v, gradients: gradients, stride: frequency + 1)
        }
      }
      amplitude *= 0.5
    }
    let peak = out.reduce(0) { max($0, abs($1)) }
    return peak > 0 ? out.map { $0 / peak } : out
  }

  /// Classic Perlin noise at lattice coordinates (u, v): dot products of the four corner
  /// gradients with the offsets to the point, blended with the quintic fade 6t⁵ − 15t⁴ + 10t³.
  static func gradientNoise(_ u: Float, _ v: Float, gradients: [SIMD2<Float>], stride: Int) -> Float {
    let i = min(Int(u), stride - 2), j = min(Int(v), stride - 2)
    let fx = u - Float(i), fy = v - Float(j)
    func corner(_ di: Int, _ dj: Int) -> Float {
      let g = gradients[(j + dj) * stride + i + di]
      return g.x * (fx - Float(di)) + g.y * (fy - Float(dj))
    }
    func fade(_ t: Float) -> Float { t * t * t * (t * (t * 6 - 15) + 10) }
    let sx = fade(fx), sy = fade(fy)
    let top = corner(0, 0) + sx * (corner(1, 0) - corner(0, 0))
    let bottom = corner(0, 1) + sx * (corner(1, 1) - corner(0, 1))
    return top + sy * (bottom - top)
  }
}
