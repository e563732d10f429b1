import ImageIO

/// Heatmap PNGs for looking at results (`heatmaps/*.png`): three panels side by side —
/// the image | the anomaly map in the jet colour map | the ground-truth contour drawn on the image.
public enum Heatmap {
  /// Contour colour: pure green, rare on the objects and absent from the jet map's ends.
  static let contourColour: (r: Float, g: Float, b: Float) = (0, 1, 0)

  /// `image`: RGB in [0, 1]. `map`: 1 channel, any size (resized bilinearly to the image's).
  /// `mask`: 1 channel, nonzero = defect, any size (resized nearest); nil draws no contour.
  /// `range` maps scores to the colour scale (pass one range for all images of a run to make
  /// them comparable); nil uses the map's own min…max.
  public static func compose(image: Image, map: Image, mask: Image?, range: ClosedRange<Float>? = nil) throws -> PixelImage {
    guard image.channels == 3 else {
      throw MetricsError.invalidArgument(what: "heatmap", reason: "image must be RGB (3 channels), got \(image.channels)")
    }
    guard map.channels == 1, mask?.channels ?? 1 == 1 else {
      throw MetricsError.invalidArgument(what: "heatmap", reason: "map and mask must have 1 channel")
    }
    let w = image.width, h = image.height
    let colours = ColorMap.render(Resize.bilinear(map, width: w, height: h), range: range).normalized()
    var withContour = image
    if let mask {
      let gt = Resize.nearest(mask, width: w, height: h)
      for p in contourPixels(gt) {
        withContour.data[3 * p] = contourColour.r
        withContour.data[3 * p + 1] = contourColour.g
        withContour.data[3 * p + 2] = contourColour.b
      }
    }
    var out = Image(width: 3 * w, height: h, channels: 3)
    for (panel, source) in [image, colours, withContour].enumerated() {
      for y in 0..<h {
        for x in 0..<w {
          for c in 0..<3 { out[x: panel * w + x, y: y, c: c] = source[x: x, y: y, c: c] }
        }
      }
    }
    return PixelImage(quantizing: out, bitDepth: 8)
  }

  /// Writes `compose(...)` as an 8-bit RGB PNG.
  public static func write(image: Image, map: Image, mask: Image?, range: ClosedRange<Float>? = nil, to path: String) throws {
    try PNG.write(try compose(image: image, map: map, mask: mask, range: range), to: path)
  }

  /// Defect pixels within `thickness` (Chebyshev distance) of a defect-free pixel or the border:
  /// a band on the inside of each region, about 1/200 of the image side wide so it stays visible
  /// on 800-pixel images.
  static func contourPixels(_ mask: Image) -> [Int] {
    let w = mask.width, h = mask.height
    let d = max(1, min(w, h) / 200)
    var out: [Int] = []
    for y in 0..<h {
      for x in 0..<w where mask.data[y * w + x] != 0 {
        var edge = false
        outer: for ny in (y - d)...(y + d) {
          for nx in (x - d)...(x + d) where nx < 0 || ny < 0 || nx >= w || ny >= h || mask.data[ny * w + nx] == 0 {
            edge = true
            break outer
          }
        }
        if edge { out.append(y * w + x) }
      }
    }
    return out
  }
}
