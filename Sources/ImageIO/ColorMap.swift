/// Colour maps for heatmaps.
public enum ColorMap {
  /// The classic jet map: t in [0, 1] (clamped) from dark blue through cyan, yellow to dark red.
  public static func jet(_ t: Float) -> (r: Float, g: Float, b: Float) {
    let v = t.isNaN ? 0 : min(max(t, 0), 1)
    func ramp(_ x: Float) -> Float { min(max(1.5 - abs(4 * v - x), 0), 1) }
    return (ramp(3), ramp(2), ramp(1))
  }

  /// Renders a single-channel map as an 8-bit RGB image with `jet`, mapping `range` to [0, 1]
  /// (default: the map's own finite min...max; a constant map renders as the bottom colour).
  public static func render(_ map: Image, range: ClosedRange<Float>? = nil) -> PixelImage {
    precondition(map.channels == 1, "ColorMap.render: expected 1 channel, got \(map.channels)")
    let finite = map.data.filter { $0.isFinite }
    let lo = range?.lowerBound ?? finite.min() ?? 0
    let hi = range?.upperBound ?? finite.max() ?? 1
    let span = hi > lo ? hi - lo : 1
    var rgb = [Float](repeating: 0, count: map.pixelCount * 3)
    for (i, v) in map.data.enumerated() {
      let c = jet((v - lo) / span)
      rgb[3 * i] = c.r
      rgb[3 * i + 1] = c.g
      rgb[3 * i + 2] = c.b
    }
    return PixelImage(quantizing: Image(width: map.width, height: map.height, channels: 3, data: rgb), bitDepth: 8)
  }
}
