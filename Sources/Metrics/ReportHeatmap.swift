import ImageIO

/// Heatmap PNGs for looking at results (`heatmaps/*.png`, `iumad infer`): a caption line (what
/// the image is, its score and, where known, the decision), then panels side by side — the image |
/// the anomaly map in the jet colour map | the ground-truth contour drawn on the image | the depth
/// (when given: a geometry-only defect is invisible in RGB) — and a colour bar with the map's range.
public enum Heatmap {
  /// Contour colour: pure green, rare on the objects and absent from the jet map's ends.
  static let contourColour: (r: Float, g: Float, b: Float) = (0, 1, 0)

  /// `image`: RGB in [0, 1]. `map`: 1 channel, any size (resized bilinearly to the image's).
  /// `mask`: 1 channel, nonzero = defect, any size (resized nearest); nil draws no contour.
  /// `range` maps scores to the colour scale (pass one range for all images of a run to make
  /// them comparable); nil uses the map's own min…max. `depth`: 1 channel (z), drawn grey over
  /// its valid (finite, nonzero) points. `caption`: the line above the panels.
  public static func compose(image: Image, map: Image, mask: Image?, range: ClosedRange<Float>? = nil,
                             depth: Image? = nil, caption: String? = nil) throws -> PixelImage {
    guard image.channels == 3 else {
      throw MetricsError.invalidArgument(what: "heatmap", reason: "image must be RGB (3 channels), got \(image.channels)")
    }
    guard map.channels == 1, mask?.channels ?? 1 == 1, depth?.channels ?? 1 == 1 else {
      throw MetricsError.invalidArgument(what: "heatmap", reason: "map, mask and depth must have 1 channel")
    }
    let w = image.width, h = image.height
    let finite = map.data.filter { $0.isFinite }
    let shown = range ?? ((finite.min() ?? 0)...max(finite.max() ?? 1, (finite.min() ?? 0) + 1e-6))
    let colours = ColorMap.render(Resize.bilinear(map, width: w, height: h), range: shown).normalized()
    var withContour = image
    if let mask {
      let gt = Resize.nearest(mask, width: w, height: h)
      for p in contourPixels(gt) {
        withContour.data[3 * p] = contourColour.r
        withContour.data[3 * p + 1] = contourColour.g
        withContour.data[3 * p + 2] = contourColour.b
      }
    }
    var panels = [image, colours, withContour]
    if let depth { panels.append(grey(Resize.nearest(depth, width: w, height: h))) }
    // Text at a size that stays legible from 64-pixel to 800-pixel images.
    let scale = max(1, h / 112), pad = 2 * scale, lineH = PixelFont.height(scale: scale) + 2 * pad
    let labels = [label(shown.upperBound), label(shown.lowerBound)]
    let barW = 3 * pad, barBlock = pad + barW + pad + labels.map { PixelFont.width($0, scale: scale) }.max()! + pad
    let top = caption == nil ? 0 : lineH
    var out = Image(width: panels.count * w + barBlock, height: h + top, channels: 3, fill: 1)
    for (k, source) in panels.enumerated() {
      for y in 0..<h { for x in 0..<w { for c in 0..<3 { out[x: k * w + x, y: top + y, c: c] = source[x: x, y: y, c: c] } } }
    }
    // The colour bar: the jet scale from the range's top to its bottom, labelled at both ends.
    let x0 = panels.count * w + pad
    let ramp = ColorMap.render(Image(width: 1, height: h, channels: 1, data: (0..<h).map { Float(h - 1 - $0) / Float(max(h - 1, 1)) }),
                               range: 0...1).normalized()
    for y in 0..<h { for x in 0..<barW { for c in 0..<3 { out[x: x0 + x, y: top + y, c: c] = ramp[x: 0, y: y, c: c] } } }
    PixelFont.draw(labels[0], into: &out, x: x0 + barW + pad, y: top, scale: scale, colour: (0, 0, 0))
    PixelFont.draw(labels[1], into: &out, x: x0 + barW + pad, y: top + h - PixelFont.height(scale: scale), scale: scale, colour: (0, 0, 0))
    if let caption { PixelFont.draw(caption, into: &out, x: pad, y: pad, scale: scale, colour: (0, 0, 0)) }
    return PixelImage(quantizing: out, bitDepth: 8)
  }

  /// Writes `compose(...)` as an 8-bit RGB PNG.
  public static func write(image: Image, map: Image, mask: Image?, range: ClosedRange<Float>? = nil,
                           depth: Image? = nil, caption: String? = nil, to path: String) throws {
    try PNG.write(try compose(image: image, map: map, mask: mask, range: range, depth: depth, caption: caption), to: path)
  }

  /// A score for the colour bar: three significant digits.
  static func label(_ v: Float) -> String {
    abs(v) >= 1000 || (abs(v) < 0.01 && v != 0) ? String(format: "%.1e", v) : String(format: abs(v) >= 100 ? "%.0f" : abs(v) >= 10 ? "%.1f" : "%.2f", v)
  }

  /// Depth as grey: near = light, far = dark, missing points black.
  static func grey(_ z: Image) -> Image {
    let valid = z.data.filter { $0.isFinite && $0 != 0 }
    let lo = valid.min() ?? 0, hi = valid.max() ?? 1, span = hi > lo ? hi - lo : 1
    var out = Image(width: z.width, height: z.height, channels: 3)
    for i in 0..<z.data.count where z.data[i].isFinite && z.data[i] != 0 {
      let g = 0.15 + 0.85 * (1 - (z.data[i] - lo) / span)
      for c in 0..<3 { out.data[3 * i + c] = g }
    }
    return out
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
