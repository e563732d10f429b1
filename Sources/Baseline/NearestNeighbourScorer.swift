import Tensor

/// A token's anomaly under PatchCore: its mean Euclidean distance to the k nearest tokens of a
/// memory bank, from blockwise GEMM distances (`PairwiseDistances`).
public struct NearestNeighbourScorer {
  public let k: Int
  public var distances: PairwiseDistances

  public init(dim: Int, k: Int) {
    check(k >= 1, "NearestNeighbourScorer: k must be at least 1, got \(k)")
    self.k = k
    distances = PairwiseDistances(dim: dim)
  }

  /// Mean distance of each row of `queries` ([n, dim]) to its k nearest rows of `bank`
  /// ([m, dim], m ≥ k). `bankNorms` (‖b‖² per bank row) saves recomputing them per call.
  public func score(_ queries: [Float], bank: [Float], bankNorms: [Float]? = nil) -> [Float] {
    let dim = distances.dim, n = queries.count / dim, m = bank.count / dim
    check(m >= k, "NearestNeighbourScorer: the bank has \(m) tokens, fewer than k = \(k)")
    // Per query, its k smallest squared distances so far, ascending.
    var best = [Float](repeating: .infinity, count: n * k)
    best.withUnsafeMutableBufferPointer { top in
      distances.forEachBlock(queries, bank, bNorms: bankNorms) { rows, cols, block in
        for (i, r) in rows.enumerated() {
          let row = top.baseAddress! + r * k
          for j in 0..<cols.count {
            let d2 = block[i * cols.count + j]
            if d2 >= row[k - 1] { continue }
            // Insertion into the sorted list (k is small).
            var p = k - 1
            while p > 0 && row[p - 1] > d2 { row[p] = row[p - 1]; p -= 1 }
            row[p] = d2
          }
        }
      }
    }
    return Self.meanOfRoots(best, k: k)
  }

  /// The plain reference: every distance by a loop, sorted, the k smallest averaged.
  public static func reference(_ queries: [Float], bank: [Float], dim: Int, k: Int) -> [Float] {
    let m = bank.count / dim
    let all = PairwiseDistances.reference(queries, bank, dim: dim)
    return meanOfRoots((0..<(queries.count / dim)).flatMap { Array(all[($0 * m)..<(($0 + 1) * m)].sorted().prefix(k)) }, k: k)
  }

  static func meanOfRoots(_ squared: [Float], k: Int) -> [Float] {
    (0..<(squared.count / k)).map { q in
      var s: Float = 0
      for j in 0..<k { s += squared[q * k + j].squareRoot() }
      return s / Float(k)
    }
  }
}
