import Tensor

/// A Johnson–Lindenstrauss projection: a fixed Gaussian matrix W [input, output] with entries
/// N(0, 1/output), so that distances after projection approximate the original ones. PatchCore
/// searches its coreset on such a projection (to 128 dimensions) because the greedy search's
/// cost grows with the dimension and the selection needs only approximate distances.
public struct RandomProjection {
  public let input: Int
  public let output: Int
  /// [input, output], row-major.
  public let matrix: [Float]

  /// The same (input, output, seed) always give the same matrix.
  public init(input: Int, output: Int, seed: UInt64) {
    check(input >= 1 && output >= 1, "RandomProjection: dimensions must be positive, got \(input) → \(output)")
    self.input = input
    self.output = output
    var rng = RNG(seed: seed, name: "baseline.projection")
    let scale = 1 / Float(output).squareRoot()
    matrix = (0..<(input * output)).map { _ in rng.normal() * scale }
  }

  /// `rows` [n, input] → [n, output].
  public func apply(_ rows: [Float], count n: Int) -> [Float] {
    check(rows.count == n * input, "RandomProjection.apply: \(rows.count) values are not \(n) rows of \(input)")
    var out = [Float](repeating: 0, count: n * output)
    rows.withUnsafeBufferPointer { a in
      matrix.withUnsafeBufferPointer { w in
        out.withUnsafeMutableBufferPointer { c in
          sgemm(m: n, n: output, k: input, a: a.baseAddress!, b: w.baseAddress!, c: c.baseAddress!)
        }
      }
    }
    return out
  }
}
