import Testing

@testable import Datasets

@Suite struct EpochSamplerTests {
  @Test(arguments: 1...5)
  func shardsPartitionEachEpoch(worldSize: Int) {
    for (count, batch) in [(37, 8), (10, 3), (3, 4), (64, 16)] {
      let sampler = EpochSampler(count: count, seed: 42)
      for epoch in 0..<3 {
        let shards = (0..<worldSize).map { sampler.batches(epoch: epoch, globalBatch: batch, rank: $0, worldSize: worldSize) }
        // Same number of steps on every rank (collectives stay in step).
        #expect(Set(shards.map(\.count)).count == 1)
        let all = shards.flatMap { $0.flatMap { $0 } }
        #expect(all.count == count, "world \(worldSize), count \(count): a sample repeats or is lost")
        #expect(all.sorted() == Array(0..<count))
        // Step by step, the ranks' parts make up the global batch, in order.
        let global = sampler.globalBatches(epoch: epoch, globalBatch: batch)
        for step in global.indices {
          #expect(shards.flatMap { $0[step] } == global[step])
        }
      }
    }
  }

  @Test func oneRankTimesEightEqualsTwoRanksTimesFour() {
    let sampler = EpochSampler(count: 50, seed: 7)
    let one = sampler.batches(epoch: 3, globalBatch: 8, rank: 0, worldSize: 1)
    let r0 = sampler.batches(epoch: 3, globalBatch: 8, rank: 0, worldSize: 2)
    let r1 = sampler.batches(epoch: 3, globalBatch: 8, rank: 1, worldSize: 2)
    #expect(one.count == 7 && one.last!.count == 2)
    for step in one.indices { #expect(r0[step] + r1[step] == one[step]) }
    #expect(r0[0].count == 4 && r1[0].count == 4)
  }

  @Test func sameSeedSameOrderOtherEpochOrSeedOtherOrder() {
    let a = EpochSampler(count: 100, seed: 1), b = EpochSampler(count: 100, seed: 1), c = EpochSampler(count: 100, seed: 2)
    #expect(a.permutation(epoch: 5) == b.permutation(epoch: 5))
    #expect(a.permutation(epoch: 5) != a.permutation(epoch: 6))
    #expect(a.permutation(epoch: 5) != c.permutation(epoch: 5))
    #expect(a.permutation(epoch: 0) != Array(0..<100))
  }
}
