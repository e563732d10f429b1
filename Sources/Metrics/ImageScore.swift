/// Image-level anomaly scores derived from an anomaly map.
public enum ImageScore {
  /// The largest value of the map (MVTec's official protocol). NaN values are skipped.
  public static func maximum(_ map: [Float]) -> Float {
    map.reduce(-Float.infinity) { $1 > $0 ? $1 : $0 }
  }

  /// The largest mean over every `kernel × kernel` window (stride 1, no padding) of a row-major
  /// `height × width` map: UniAD's `max(avg_pool2d(map, k, stride=1))`, which ignores isolated
  /// single-pixel peaks. Uses a summed-area table, so the cost does not grow with `kernel`.
  public static func maxOfAveragePooled(_ map: [Float], width: Int, height: Int, kernel: Int) throws -> Float {
    guard map.count == width * height else {
      throw MetricsError.countMismatch(what: "average pooling of a \(width)x\(height) map", expected: width * height, found: map.count)
    }
    guard kernel >= 1 && kernel <= min(width, height) else {
      throw MetricsError.invalidArgument(what: "average pooling",
                                         reason: "kernel \(kernel) must be in 1...\(min(width, height)) for a \(width)x\(height) map")
    }
    // sat[(y) * (w+1) + x] = sum of map[0..<y, 0..<x], in Double so large maps do not lose digits.
    let w1 = width + 1
    var sat = [Double](repeating: 0, count: w1 * (height + 1))
    for y in 0..<height {
      var row = 0.0
      for x in 0..<width {
        row += Double(map[y * width + x])
        sat[(y + 1) * w1 + x + 1] = sat[y * w1 + x + 1] + row
      }
    }
    var best = -Double.infinity
    for y in 0...(height - kernel) {
      for x in 0...(width - kernel) {
        let s = sat[(y + kernel) * w1 + x + kernel] - sat[y * w1 + x + kernel] - sat[(y + kernel) * w1 + x] + sat[y * w1 + x]
        best = max(best, s)
      }
    }
    return Float(best / Double(kernel * kernel))
  }
}
