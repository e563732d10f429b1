import Baseline
import Tensor
import Testing
import TestSupport

@Suite struct NearestNeighbourTests {
  /// Blocks smaller than the matrices and not dividing them, so edge blocks are covered.
  @Test func blockwiseGEMMDistancesMatchAPlainLoop() throws {
    let d = 37, na = 53, nb = 29
    let a = randn([na, d], seed: 1).data, b = randn([nb, d], seed: 2, std: 2).data
    var pd = PairwiseDistances(dim: d)
    pd.rowsPerBlock = 8
    pd.columnsPerBlock = 5
    var full = [Float](repeating: -1, count: na * nb)
    full.withUnsafeMutableBufferPointer { out in
      pd.forEachBlock(a, b) { rows, cols, block in
        for (i, r) in rows.enumerated() { for (j, c) in cols.enumerated() { out[r * nb + c] = block[i * cols.count + j] } }
      }
    }
    let reference = PairwiseDistances.reference(a, b, dim: d)
    #expect(full.allSatisfy { $0 >= 0 }, "every pair visited")
    if let failure = closenessFailure(full, reference, atol: 1e-3, rtol: 1e-4, "pairwise distances") { Issue.record("\(failure)") }
  }

  @Test func identicalRowsAreAtDistanceZero() {
    let a = randn([10, 24], seed: 4, std: 30).data
    var pd = PairwiseDistances(dim: 24)
    pd.rowsPerBlock = 3
    var diagonal = [Float](repeating: -1, count: 10)
    diagonal.withUnsafeMutableBufferPointer { out in
      pd.forEachBlock(a, a) { rows, cols, block in
        for (i, r) in rows.enumerated() where cols.contains(r) { out[r] = block[i * cols.count + r - cols.lowerBound] }
      }
    }
    // Cancellation in ‖a‖² + ‖a‖² − 2a·a leaves at most rounding noise, never a negative value.
    #expect(diagonal.allSatisfy { $0 >= 0 && $0.squareRoot() < 0.1 }, "\(diagonal)")
  }

  @Test(arguments: [1, 3]) func kNearestDistancesMatchBruteForce(k: Int) throws {
    let d = 20, nq = 300, nb = 70
    let q = randn([nq, d], seed: 7).data, bank = randn([nb, d], seed: 8).data
    var scorer = NearestNeighbourScorer(dim: d, k: k)
    scorer.distances.rowsPerBlock = 64
    scorer.distances.columnsPerBlock = 16
    let fast = scorer.score(q, bank: bank)
    let slow = NearestNeighbourScorer.reference(q, bank: bank, dim: d, k: k)
    #expect(fast.count == nq)
    if let failure = closenessFailure(fast, slow, atol: 1e-4, rtol: 1e-4, "k=\(k) mean distances") { Issue.record("\(failure)") }
  }

  @Test func scoresAreTheSameOnAnyThreadCount() {
    let d = 64, nq = 2000, nb = 3000
    let q = randn([nq, d], seed: 11).data, bank = randn([nb, d], seed: 12).data
    let scorer = NearestNeighbourScorer(dim: d, k: 2)
    let one = Threading.withThreads(1) { scorer.score(q, bank: bank) }
    let four = Threading.withThreads(4) { scorer.score(q, bank: bank) }
    #expect(one == four)
  }
}
