import Foundation

/// One procedurally rendered object class of the synthetic dataset: a silhouette, a height
/// profile, a two-colour texture and a size. Classes differ in all of these so that a model has
/// distinct objects to tell apart (the Mamba decoder's classifier needs that).
struct SyntheticClass: Sendable {
  enum Shape: String, CaseIterable, Sendable {
    case disc, box, ring, star, blob, cross, hexagon, oval, gear, triangle

    /// 0 at the object's centre line, 1 on its outline, above 1 outside; `p` is in object units
    /// (outline radius about 1), already rotated into the object's frame.
    func extent(_ x: Float, _ y: Float) -> Float {
      let r = (x * x + y * y).squareRoot()
      let theta = atan2(y, x)
      switch self {
      case .disc: return r
      case .box: return max(abs(x) / 0.95, abs(y) / 0.65)
      case .ring: return abs(r - 0.68) / 0.3
      case .star: return r / (0.62 + 0.3 * cos(5 * theta))
      case .blob: return r / (0.8 + 0.12 * sin(3 * theta + 0.5) + 0.08 * cos(5 * theta))
      case .cross: return min(max(abs(x) / 0.36, abs(y) / 0.95), max(abs(x) / 0.95, abs(y) / 0.36))
      case .hexagon:
        return (0..<3).map { k -> Float in
          let a = Float(k) * .pi / 3
          return abs(x * cos(a) + y * sin(a)) / 0.85
        }.max()!
      case .oval: return ((x / 1.0) * (x / 1.0) + (y / 0.55) * (y / 0.55)).squareRoot()
      case .gear: return r / (0.8 + 0.1 * tanh(4 * sin(8 * theta)))
      case .triangle:
        return (0..<3).map { k -> Float in
          let a = -Float.pi / 2 + Float(k) * 2 * .pi / 3
          return (x * cos(a) + y * sin(a)) / 0.48
        }.max()!
      }
    }
  }

  /// Height as a function of `extent` (1 at the outline).
  enum Profile: Sendable {
    case flat, dome, cone

    func height(_ s: Float) -> Float {
      guard s < 1 else { return 0 }
      switch self {
      case .flat: return min(1, 6 * (1 - s))  // steep rim, flat top
      case .dome: return (1 - s * s).squareRoot()
      case .cone: return 0.25 + 0.75 * (1 - s)
      }
    }
  }

  enum Texture: Sendable {
    case solid, stripes(Float), checker(Float), dots(Float), rings(Float), noise(Float)

    /// Mix weight of the second colour at object-frame point (x, y), in [0, 1].
    func weight(_ x: Float, _ y: Float, salt: UInt64) -> Float {
      switch self {
      case .solid: return 0
      case .stripes(let f): return 0.5 + 0.5 * sin(2 * .pi * f * x)
      case .checker(let f): return (Int((x * f + 100).rounded(.down)) + Int((y * f + 100).rounded(.down))) % 2 == 0 ? 0 : 1
      case .dots(let f):
        let fx = x * f - (x * f).rounded(), fy = y * f - (y * f).rounded()
        return fx * fx + fy * fy < 0.09 ? 1 : 0
      case .rings(let f): return 0.5 + 0.5 * cos(2 * .pi * f * (x * x + y * y).squareRoot())
      case .noise(let f): return ValueNoise.sample(x * f, y * f, salt: salt)
      }
    }
  }

  var name: String
  var shape: Shape
  var profile: Profile
  var texture: Texture
  var primary: SIMD3<Float>
  var secondary: SIMD3<Float>
  /// Object height in scene units (the scene is 0.2 units wide).
  var height: Float
  /// Outline radius as a fraction of the image size.
  var radius: Float
  var baseAngle: Float
  var salt: UInt64

  static let palette: [SIMD3<Float>] = [
    [0.80, 0.16, 0.12], [0.92, 0.55, 0.12], [0.90, 0.80, 0.18], [0.22, 0.66, 0.24],
    [0.12, 0.58, 0.60], [0.16, 0.30, 0.82], [0.50, 0.22, 0.70], [0.90, 0.45, 0.62],
    [0.55, 0.36, 0.20], [0.50, 0.55, 0.18], [0.85, 0.84, 0.78], [0.30, 0.30, 0.34],
  ]

  /// The first `count` classes. Beyond the ten shapes, shapes repeat with other colours,
  /// textures and profiles (and a numeric suffix on the name).
  static func catalogue(count: Int) -> [SyntheticClass] {
    let shapes = Shape.allCases
    let textures: [Texture] = [.solid, .stripes(2.5), .checker(3), .dots(3.5), .rings(3), .noise(3)]
    let profiles: [Profile] = [.flat, .dome, .cone]
    return (0..<count).map { k in
      let shape = shapes[k % shapes.count]
      let round = k / shapes.count
      let primary = palette[(k * 5 + round * 3) % palette.count]
      let mixTo: SIMD3<Float> = (k % 2 == 0) ? [0.08, 0.08, 0.08] : [0.97, 0.97, 0.95]
      return SyntheticClass(
        name: round == 0 ? shape.rawValue : "\(shape.rawValue)\(round + 1)",
        shape: shape,
        profile: profiles[(k + round) % profiles.count],
        texture: textures[(k * 7 + round) % textures.count],
        primary: primary,
        secondary: primary * 0.45 + mixTo * 0.55,
        height: 0.012 + 0.004 * Float((k * 3 + round) % 5),
        radius: 0.3 + 0.02 * Float(k % 3),
        baseAngle: Float(k) * 0.7,
        salt: UInt64(k) &* 0x9E37_79B9 &+ 17)
    }
  }
}

/// Smooth deterministic 2-D value noise in [0, 1] (hash-based lattice, bilinear with smoothstep).
enum ValueNoise {
  static func lattice(_ i: Int, _ j: Int, salt: UInt64) -> Float {
    var h = UInt64(bitPattern: Int64(i)) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bitPattern: Int64(j)) &* 0xC2B2_AE3D_27D4_EB4F ^ salt
    h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9
    h ^= h >> 29
    return Float(h >> 40) / Float(1 << 24)
  }

  static func sample(_ x: Float, _ y: Float, salt: UInt64) -> Float {
    let fx = x.rounded(.down), fy = y.rounded(.down)
    let i = Int(fx), j = Int(fy)
    let tx = x - fx, ty = y - fy
    let sx = tx * tx * (3 - 2 * tx), sy = ty * ty * (3 - 2 * ty)
    let a = lattice(i, j, salt: salt), b = lattice(i + 1, j, salt: salt)
    let c = lattice(i, j + 1, salt: salt), d = lattice(i + 1, j + 1, salt: salt)
    return (a + (b - a) * sx) * (1 - sy) + (c + (d - c) * sx) * sy
  }
}
