import Tensor

/// Squared Euclidean distances between the rows of A [na, dim] and B [nb, dim], computed block
/// by block as ‖a‖² + ‖b‖² − 2·A·Bᵀ (one GEMM per block), so memory stays at one block per
/// thread however large A and B are.
public struct PairwiseDistances {
  public let dim: Int
  /// Rows of A and of B per block. Fixed sizes, not derived from the thread count, so every
  /// distance comes from the same GEMM shape and has the same bits on any number of threads.
  public var rowsPerBlock = 256
  public var columnsPerBlock = 2048

  public init(dim: Int) {
    check(dim >= 1, "PairwiseDistances: dim must be positive, got \(dim)")
    self.dim = dim
  }

  /// ‖row‖² of every row of `x` ([n, dim]).
  public func norms(_ x: [Float]) -> [Float] { x.withUnsafeBufferPointer { norms($0) } }

  func norms(_ x: UnsafeBufferPointer<Float>) -> [Float] {
    (0..<(x.count / dim)).map { laneDot(x.baseAddress! + $0 * dim, x.baseAddress! + $0 * dim, dim) }
  }

  /// Calls `body(rows, columns, block)` for every block of the na × nb distance matrix; `block`
  /// holds rows.count × columns.count squared distances (row-major, clamped at 0 against
  /// rounding). Blocks of different row ranges run in parallel (each on one thread), those of
  /// one row range in column order: `body` may keep per-row state without locking.
  public func forEachBlock(_ a: [Float], _ b: [Float], bNorms: [Float]? = nil,
                           _ body: (Range<Int>, Range<Int>, UnsafeBufferPointer<Float>) -> Void) {
    check(a.count % dim == 0 && b.count % dim == 0, "PairwiseDistances: inputs are not rows of \(dim)")
    let na = a.count / dim, nb = b.count / dim
    guard na > 0 && nb > 0 else { return }
    a.withUnsafeBufferPointer { ap in
      b.withUnsafeBufferPointer { bp in
        let an = norms(ap), bn = bNorms ?? norms(bp)
        check(bn.count == nb, "PairwiseDistances: \(bn.count) norms for \(nb) rows")
        let blocks = (na + rowsPerBlock - 1) / rowsPerBlock
        Threading.parallelFor(blocks) { range in
          var tile = [Float](repeating: 0, count: rowsPerBlock * columnsPerBlock)
          for blockIndex in range {
            let rows = (blockIndex * rowsPerBlock)..<min(na, (blockIndex + 1) * rowsPerBlock)
            for c0 in stride(from: 0, to: nb, by: columnsPerBlock) {
              let cols = c0..<min(nb, c0 + columnsPerBlock)
              tile.withUnsafeMutableBufferPointer { t in
                // Inside a parallel chunk this GEMM runs on the chunk's thread; a lone block may
                // split it among threads, which `sgemm` does without changing its bits.
                sgemm(transB: true, m: rows.count, n: cols.count, k: dim, alpha: -2,
                      a: ap.baseAddress! + rows.lowerBound * dim, b: bp.baseAddress! + cols.lowerBound * dim,
                      c: t.baseAddress!, ldc: cols.count)
                for (i, r) in rows.enumerated() {
                  for (j, c) in cols.enumerated() { t[i * cols.count + j] = max(0, t[i * cols.count + j] + an[r] + bn[c]) }
                }
                body(rows, cols, UnsafeBufferPointer(start: t.baseAddress, count: rows.count * cols.count))
              }
            }
          }
        }
      }
    }
  }

  /// The plain reference: Σ (a − b)² per pair, [na, nb], for tests.
  public static func reference(_ a: [Float], _ b: [Float], dim: Int) -> [Float] {
    let na = a.count / dim, nb = b.count / dim
    var out = [Float](repeating: 0, count: na * nb)
    for i in 0..<na {
      for j in 0..<nb {
        var s: Double = 0
        for t in 0..<dim { let x = Double(a[i * dim + t]) - Double(b[j * dim + t]); s += x * x }
        out[i * nb + j] = Float(s)
      }
    }
    return out
  }
}
