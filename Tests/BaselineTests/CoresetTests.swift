import Baseline
import Tensor
import Testing
import TestSupport

@Suite struct CoresetTests {
  /// Five points on a plane: from (0,0) the farthest is (10,0), then (0,5) (25 from its nearest
  /// taken point, against 4 and 1), then (2,0), then (1,0).
  @Test func greedyKCenterTakesTheFarthestPointEachTime() {
    let points: [Float] = [0, 0, 1, 0, 10, 0, 0, 5, 2, 0]
    #expect(GreedyKCenter.select(points, count: 5, dim: 2, keep: 5, first: 0) == [0, 2, 3, 4, 1])
    #expect(GreedyKCenter.select(points, count: 5, dim: 2, keep: 2, first: 0) == [0, 2])
    // From (10,0): (0,5) at 125 beats (0,0) at 100; then (0,0), (1,0), (2,0) are 25, 26, 29
    // from their nearest taken point: (2,0).
    #expect(GreedyKCenter.select(points, count: 5, dim: 2, keep: 3, first: 2) == [2, 3, 4])
  }

  @Test func duplicatesAreTakenOnceEach() {
    let points = [Float](repeating: 3, count: 4 * 3)
    #expect(GreedyKCenter.select(points, count: 4, dim: 3, keep: 4, first: 2) == [2, 0, 1, 3])
  }

  @Test func greedyKCenterIsTheSameOnAnyThreadCount() {
    let n = 3000, d = 16
    let points = randn([n, d], seed: 5).data
    let one = Threading.withThreads(1) { GreedyKCenter.select(points, count: n, dim: d, keep: 200, first: 7) }
    let four = Threading.withThreads(4) { GreedyKCenter.select(points, count: n, dim: d, keep: 200, first: 7) }
    #expect(one == four && Set(one).count == 200)
  }

  @Test func coresetKeepsTheFractionDeterministically() {
    let n = 500, d = 192
    let tokens = randn([n, d], seed: 1).data
    let sampler = CoresetSampler(settings: BaselineSettings(coreset: 0.1), seed: 3)
    let a = sampler.select(tokens, count: n, dim: d, stream: "bagel.rgb")
    #expect(a.count == 50 && a == a.sorted() && Set(a).count == 50 && a.allSatisfy { $0 >= 0 && $0 < n })
    #expect(sampler.select(tokens, count: n, dim: d, stream: "bagel.rgb") == a)
    #expect(CoresetSampler(settings: BaselineSettings(coreset: 1), seed: 3).select(tokens, count: n, dim: d, stream: "x") == Array(0..<n))
  }

  @Test func keepCountsRoundDownButNeverBelowK() {
    #expect(BaselineSettings(coreset: 0.1).keep(of: 30) == 3)
    #expect(BaselineSettings(coreset: 0.1).keep(of: 39) == 3)
    #expect(BaselineSettings(coreset: 0.1, neighbours: 5).keep(of: 30) == 5)
    #expect(BaselineSettings(coreset: 0.01).keep(of: 30) == 1)
    #expect(BaselineSettings(coreset: 1).keep(of: 30) == 30)
    #expect(BaselineSettings(coreset: 0.1, neighbours: 3).methodLabel == "PatchCore baseline (coreset 0.1, k=3)")
    #expect(BaselineSettings(coreset: 1).methodLabel == "PatchCore baseline (coreset 1, k=1)")
    #expect(BaselineSettings(coreset: 0, neighbours: 0).problems().count == 2)
  }

  /// The projection keeps distances roughly (Johnson–Lindenstrauss): within 35 % at 128 dims.
  @Test func randomProjectionRoughlyPreservesDistances() {
    let n = 40, d = 192
    let x = randn([n, d], seed: 9).data
    let p = RandomProjection(input: d, output: 128, seed: 0)
    let y = p.apply(x, count: n)
    let before = PairwiseDistances.reference(x, x, dim: d), after = PairwiseDistances.reference(y, y, dim: 128)
    for i in 0..<n { for j in 0..<n where i != j {
      let ratio = (after[i * n + j] / before[i * n + j]).squareRoot()
      #expect(ratio > 0.65 && ratio < 1.35, "pair \(i), \(j): distance ratio \(ratio)")
    } }
  }
}
