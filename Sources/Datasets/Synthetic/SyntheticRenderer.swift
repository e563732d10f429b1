import Foundation
import ImageIO
import Tensor

/// What a test sample is given: nothing, a colour stain, a dent, or both.
enum SyntheticDefect: String, CaseIterable, Sendable {
  case good, color, dent, combined

  var hasStain: Bool { self == .color || self == .combined }
  var hasDent: Bool { self == .dent || self == .combined }
}

/// One rendered sample: the three files of the MVTec 3D-AD layout.
struct SyntheticSample {
  var rgb: PixelImage   // 8-bit RGB
  var xyz: Image        // float32 x, y, z; 0 where the "scanner" has no point
  var mask: PixelImage  // 8-bit gray, 255 = defect
}

/// Renders one view of an object on a tilted background plane, seen from above by a camera
/// whose depth grows away from it (z = plane − height). Pose, lighting and noise come from `rng`;
/// defects draw only from `defectRNG`. So a defective sample is its good twin (same `rng` state)
/// with exactly the masked pixels changed — in RGB only for `color`, in depth only for `dent`.
struct SyntheticRenderer {
  let size: Int
  /// Scene units per pixel: the scene is 0.2 units wide, like a 20 cm field of view in metres.
  var unit: Float { 0.2 / Float(size) }

  func render(_ cls: SyntheticClass, defect: SyntheticDefect, rng: inout RNG, defectRNG: inout RNG) -> SyntheticSample {
    let n = size * size
    let s = Float(size)
    // Normal variation: pose, scale, lighting, plane tilt, background shade.
    let angle = cls.baseAngle + rng.uniform(-0.35, 0.35)
    let cx = s / 2 + rng.uniform(-0.05, 0.05) * s, cy = s / 2 + rng.uniform(-0.05, 0.05) * s
    let radius = cls.radius * s * rng.uniform(0.92, 1.08)
    let azimuth = rng.uniform(0, 2 * .pi), elevation = rng.uniform(0.8, 1.2)
    let brightness = rng.uniform(0.88, 1.12)
    let z0 = 0.6 + rng.uniform(-0.005, 0.005), tiltX = rng.uniform(-0.02, 0.02), tiltY = rng.uniform(-0.02, 0.02)
    let background = SIMD3<Float>(0.42, 0.42, 0.40) * rng.uniform(0.95, 1.05)

    // Object: extent, height and albedo per pixel, in the object's rotated frame.
    let (ca, sa) = (cos(angle), sin(angle))
    var extent = [Float](repeating: 2, count: n)
    var height = [Float](repeating: 0, count: n)
    var albedo = [SIMD3<Float>](repeating: background, count: n)
    for v in 0..<size {
      for u in 0..<size {
        let px = (Float(u) + 0.5 - cx) / radius, py = (Float(v) + 0.5 - cy) / radius
        let qx = ca * px + sa * py, qy = -sa * px + ca * py
        let e = cls.shape.extent(qx, qy)
        let i = v * size + u
        extent[i] = e
        guard e < 1 else { continue }
        height[i] = cls.height * cls.profile.height(e)
        let w = cls.texture.weight(qx, qy, salt: cls.salt)
        albedo[i] = cls.primary * (1 - w) + cls.secondary * w
      }
    }
    let inside = extent.map { $0 < 1 }

    // Defects: regions well inside the object, with exact masks.
    var isDefect = [Bool](repeating: false, count: n)
    var dentDepth = [Float](repeating: 0, count: n)
    var taken: [(x: Float, y: Float, r: Float)] = []
    if defect.hasStain {
      let r = s * defectRNG.uniform(0.06, 0.09)
      let c = pickCentre(extent: extent, avoiding: taken, radius: r, rng: &defectRNG)
      taken.append((c.x, c.y, r))
      let phase = defectRNG.uniform(0, 2 * .pi)
      let stain = Self.stainColour(against: cls)
      forEachPixel(near: c, within: r * 1.3) { i, dx, dy in
        let reach = r * (1 + 0.25 * sin(3 * atan2(dy, dx) + phase))
        if inside[i] && (dx * dx + dy * dy).squareRoot() < reach {
          isDefect[i] = true
          albedo[i] = stain
        }
      }
    }
    if defect.hasDent {
      let r = s * defectRNG.uniform(0.06, 0.09)
      let c = pickCentre(extent: extent, avoiding: taken, radius: r, rng: &defectRNG)
      let depth = cls.height * defectRNG.uniform(0.5, 0.8)
      forEachPixel(near: c, within: r) { i, dx, dy in
        let d = (dx * dx + dy * dy).squareRoot()
        if inside[i] && d < r {
          isDefect[i] = true
          // Flat floor and a steep wall that never tapers to nothing, so every masked pixel moves.
          dentDepth[i] = depth * max(0.3, min(1, 3 * (1 - d / r)))
        }
      }
    }

    // RGB: Lambert shading of the *undented* surface, so a dent changes depth only.
    let light = SIMD3<Float>(cos(elevation) * cos(azimuth), cos(elevation) * sin(azimuth), sin(elevation))
    var rgb = [Float](repeating: 0, count: n * 3)
    for v in 0..<size {
      for u in 0..<size {
        let i = v * size + u
        let hx = (height[v * size + min(u + 1, size - 1)] - height[v * size + max(u - 1, 0)]) / (2 * unit)
        let hy = (height[min(v + 1, size - 1) * size + u] - height[max(v - 1, 0) * size + u]) / (2 * unit)
        let normal = SIMD3<Float>(-hx, -hy, 1) / (hx * hx + hy * hy + 1).squareRoot()
        let lambert = max(0, (normal * light).sum()) / light.z  // flat surfaces: 1
        let shade = (0.35 + 0.65 * lambert) * brightness
        for c in 0..<3 {
          rgb[3 * i + c] = albedo[i][c] * shade + 0.01 * rng.normal()
        }
      }
    }

    // Point map: plane minus height, with a scanner's missing border and silhouette points.
    var xyz = [Float](repeating: 0, count: n * 3)
    let border = (0..<4).map { _ in 1 + rng.int(below: 3) }  // left, right, top, bottom
    for v in 0..<size {
      for u in 0..<size {
        let i = v * size + u
        let x = (Float(u) + 0.5 - s / 2) * unit, y = (Float(v) + 0.5 - s / 2) * unit
        let silhouette = inside[i] != inside[v * size + min(u + 2, size - 1)] || inside[i] != inside[min(v + 2, size - 1) * size + u]
        let dropped = silhouette && rng.uniform() < 0.3
        if u < border[0] || u >= size - border[1] || v < border[2] || v >= size - border[3] || dropped { continue }
        xyz[3 * i] = x
        xyz[3 * i + 1] = y
        xyz[3 * i + 2] = z0 + tiltX * x + tiltY * y - height[i] + dentDepth[i] + 0.0001 * rng.normal()
      }
    }

    return SyntheticSample(
      rgb: PixelImage(quantizing: Image(width: size, height: size, channels: 3, data: rgb), bitDepth: 8),
      xyz: Image(width: size, height: size, channels: 3, data: xyz),
      mask: PixelImage(width: size, height: size, channels: 1, bitDepth: 8, samples: isDefect.map { $0 ? 255 : 0 }))
  }

  /// A random centre deep inside the object (extent < 0.55) and clear of earlier defects.
  private func pickCentre(extent: [Float], avoiding taken: [(x: Float, y: Float, r: Float)], radius: Float,
                          rng: inout RNG) -> (x: Float, y: Float) {
    var fallback: (x: Float, y: Float)?
    for _ in 0..<400 {
      let i = rng.int(below: extent.count)
      guard extent[i] < 0.55 else { continue }
      let c = (x: Float(i % size) + 0.5, y: Float(i / size) + 0.5)
      if fallback == nil { fallback = c }
      if taken.allSatisfy({ (($0.x - c.x) * ($0.x - c.x) + ($0.y - c.y) * ($0.y - c.y)).squareRoot() > $0.r + radius }) {
        return c
      }
    }
    // Tiny or thin objects: accept overlap rather than fail; the object centre as a last resort.
    return fallback ?? (Float(size) / 2, Float(size) / 2)
  }

  private func forEachPixel(near c: (x: Float, y: Float), within r: Float, _ body: (Int, Float, Float) -> Void) {
    let lo = { (v: Float) in max(0, Int((v - r).rounded(.down))) }
    let hi = { (v: Float) in min(size - 1, Int((v + r).rounded(.up))) }
    for v in lo(c.y)...hi(c.y) {
      for u in lo(c.x)...hi(c.x) {
        body(v * size + u, Float(u) + 0.5 - c.x, Float(v) + 0.5 - c.y)
      }
    }
  }

  /// The candidate colour farthest from both texture colours, so a stain never blends in.
  static func stainColour(against cls: SyntheticClass) -> SIMD3<Float> {
    let candidates: [SIMD3<Float>] = [[0.05, 0.05, 0.05], [0.95, 0.1, 0.9], [0.1, 0.95, 0.15], [0.1, 0.15, 0.95], [0.98, 0.98, 0.98]]
    func distance(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float { ((a - b) * (a - b)).sum() }
    return candidates.max { min(distance($0, cls.primary), distance($0, cls.secondary)) < min(distance($1, cls.primary), distance($1, cls.secondary)) }!
  }
}
