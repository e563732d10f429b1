import Tensor

/// Greedy k-center selection (Gonzalez 1985; PatchCore's coreset): start from one point, then
/// repeatedly take the point farthest from everything taken so far. The taken points cover the
/// set with a radius at most twice the optimal one, which is what a memory bank needs: every
/// training token stays close to some bank token.
public enum GreedyKCenter {
  /// Indices of `keep` rows of `points` ([count, dim], row-major), in the order taken, starting
  /// with `first`. Ties go to the lowest index, so the result depends only on the input.
  /// Squared distances are ‖p‖² + ‖c‖² − 2p·c with lane dot products; the one O(count·dim) pass
  /// per taken point runs in parallel chunks.
  public static func select(_ points: [Float], count n: Int, dim d: Int, keep: Int, first: Int) -> [Int] {
    check(points.count == n * d, "GreedyKCenter.select: \(points.count) values are not \(n) rows of \(d)")
    check(first >= 0 && first < n, "GreedyKCenter.select: first index \(first) is not in 0..<\(n)")
    let k = min(max(keep, 0), n)
    guard k > 0 else { return [] }
    var taken = [first]
    taken.reserveCapacity(k)
    // Distance² of each point to its nearest taken point; −1 marks taken points, so duplicates
    // of a taken point (distance 0) are still chosen before it is chosen again.
    var nearest = [Float](repeating: .infinity, count: n)
    points.withUnsafeBufferPointer { p in
      let norms = (0..<n).map { laneDot(p.baseAddress! + $0 * d, p.baseAddress! + $0 * d, d) }
      nearest.withUnsafeMutableBufferPointer { near in
        var centre = first
        while true {
          near[centre] = -1
          if taken.count == k { break }
          let c = p.baseAddress! + centre * d, cn = norms[centre]
          Threading.parallelFor(n, grain: 2048) { range in
            for j in range where near[j] >= 0 {
              let d2 = max(0, norms[j] + cn - 2 * laneDot(p.baseAddress! + j * d, c, d))
              if d2 < near[j] { near[j] = d2 }
            }
          }
          var best = -1, bestValue: Float = -1
          for j in 0..<n where near[j] > bestValue { best = j; bestValue = near[j] }
          centre = best
          taken.append(centre)
        }
      }
    }
    return taken
  }
}
