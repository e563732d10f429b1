/// Depth preprocessing steps (SPEC §5): hole filling and robust per-image normalisation.
public enum DepthProcessing {
  /// A depth value is valid when finite and non-zero (scanners write 0 or NaN for no return).
  @inlinable
  public static func isValid(_ z: Float) -> Bool { z.isFinite && z != 0 }

  /// For every pixel, the index of its nearest valid pixel (itself if valid), by a breadth-first
  /// search from all valid pixels at once over 8-neighbours, i.e. nearest in chessboard distance;
  /// ties go to the valid pixel first in raster order. Nil if no pixel is valid.
  public static func nearestValidSource(valid: [Bool], width: Int, height: Int) -> [Int]? {
    precondition(valid.count == width * height, "nearestValidSource: \(valid.count) flags for \(width)x\(height)")
    var source = [Int](repeating: -1, count: valid.count)
    var queue: [Int] = []
    queue.reserveCapacity(valid.count)
    for i in valid.indices where valid[i] {
      source[i] = i
      queue.append(i)
    }
    if queue.isEmpty { return nil }
    var head = 0
    while head < queue.count {
      let i = queue[head]
      head += 1
      let x = i % width, y = i / width
      for dy in -1...1 {
        for dx in -1...1 where dx != 0 || dy != 0 {
          let nx = x + dx, ny = y + dy
          guard nx >= 0, nx < width, ny >= 0, ny < height else { continue }
          let n = ny * width + nx
          if source[n] < 0 {
            source[n] = source[i]
            queue.append(n)
          }
        }
      }
    }
    return source
  }

  /// `values` with every invalid pixel replaced by its nearest valid pixel's value.
  public static func fillInvalid(_ values: [Float], source: [Int]) -> [Float] {
    source.map { values[$0] }
  }

  /// The q-th percentile (0...100) of sorted values, interpolating linearly between order
  /// statistics like NumPy's default (`np.percentile(..., method="linear")`).
  public static func percentile(sorted: [Float], _ q: Double) -> Float {
    precondition(!sorted.isEmpty, "percentile of no values")
    let position = q / 100 * Double(sorted.count - 1)
    let lo = Int(position.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    let t = Float(position - Double(lo))
    return sorted[lo] + (sorted[hi] - sorted[lo]) * t
  }

  /// Maps `values` to [0, 1] by the 1st and 99th percentiles of the valid ones (clamping the
  /// rest), so a few outlier points do not squash the object's depth range. A flat map gives 0.
  public static func normalize(_ values: [Float], valid: [Bool]) -> [Float] {
    let chosen = zip(values, valid).compactMap { $1 ? $0 : nil }.sorted()
    guard !chosen.isEmpty else { return [Float](repeating: 0, count: values.count) }
    let lo = percentile(sorted: chosen, 1), hi = percentile(sorted: chosen, 99)
    let span = hi - lo
    guard span > 0 else { return [Float](repeating: 0, count: values.count) }
    return values.map { min(max(($0 - lo) / span, 0), 1) }
  }
}
