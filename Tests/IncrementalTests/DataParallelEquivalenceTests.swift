import Testing

import Datasets
@testable import Incremental
@testable import Model
@testable import Tensor
import TestSupport

/// The data-parallel gradient without MPI: two half batches, each loss seeded with share/global
/// and their gradients summed, must equal the whole batch's gradient.
@Suite("Data-parallel gradient sum")
struct DataParallelEquivalenceTests {
  @Test func halfBatchesSumToTheWholeBatch() {
    var c = ModelConfig.tiny
    c.dropout = 0
    let model = IBIUMAD(config: c, classes: 2, seed: 4)
    func grads(_ parts: [[Int]], _ input: ModelInput) -> [String: [Float]] {
      var sum: [String: [Float]] = [:]
      for idx in parts {
        let sub = ModelInput(features: input.features.mapValues { $0.select(axis: 0, idx) },
                             images: input.images.mapValues { $0.select(axis: 0, idx) },
                             labels: idx.map { input.labels[$0] })
        var ctx = ForwardContext(training: true, dropout: 0, jitter: false, rng: RNG(seed: 1))
        let loss = model.loss(model.forward(sub, &ctx), sub).total
        model.parameters.zeroGrad()
        loss.backward(seed: [Float(idx.count) / Float(input.batchSize)])
        for (n, t) in model.parameters.named {
          let g = t.grad ?? [Float](repeating: 0, count: t.count)
          sum[n] = sum[n].map { zip($0, g).map { $0 + $1 } } ?? g
        }
      }
      return sum
    }
    let input = makeInput(c, classes: 2, batch: 4, seed: 3)
    let whole = grads([[0, 1, 2, 3]], input), halves = grads([[0, 1], [2, 3]], input)
    for (n, g) in whole {
      let scale = max(g.map(abs).max() ?? 0, 1e-8)
      // Key-projection biases have an exactly zero true gradient (softmax ignores a per-row shift):
      // both sides are rounding noise there, hence the absolute floor.
      let f = closenessFailure(halves[n]!, g, atol: 1e-4 * scale + 1e-7, rtol: 0, n)
      #expect(f == nil, "\(f ?? "")")
    }
  }
}

/// The pieces that make N ranks reproduce one rank bit for bit.
@Suite("Deterministic data parallelism")
struct DeterministicDataParallelTests {
  @Test func microBatchesPartitionTheBatchIntoAlignedSubtrees() {
    let batch = [9, 4, 7, 1, 3, 8, 0, 2, 6, 5]
    for micro in [0, 1, 2, 3] {
      for world in 1...5 {
        let shares = (0..<world).map { EpochSampler.microBatches(batch, micro: micro, rank: $0, worldSize: world) }
        #expect(shares.flatMap { $0 }.flatMap { $0 } == batch, "micro \(micro), world \(world): ranks in order cover the batch once")
        if micro > 0 {
          #expect(shares.flatMap { $0 } == EpochSampler.microBatches(batch, micro: micro, rank: 0, worldSize: 1),
                  "micro \(micro), world \(world): the same micro-batches as one rank")
        }
      }
    }
    // 10 samples in micro-batches of 2 = 5 leaves of a tree of 8: 4 ranks own leaves {0,1}, {2,3}, {4}, {}.
    #expect((0..<4).map { EpochSampler.microBatches(batch, micro: 2, rank: $0, worldSize: 4).count } == [2, 2, 1, 0])
    // 8 ranks: leaf j on rank j (one leaf each, the rest empty).
    #expect((0..<8).map { EpochSampler.microBatches(batch, micro: 2, rank: $0, worldSize: 8).count } == [1, 1, 1, 1, 1, 0, 0, 0])
  }

  @Test func aSamplesDropoutMaskDoesNotDependOnItsBatchMates() {
    let x = randn([2, 3, 4], seed: 5)
    let s0 = RNG(seed: 1, name: "sample/0"), s1 = RNG(seed: 1, name: "sample/1"), s2 = RNG(seed: 1, name: "sample/2")
    var both = SampleStreams([s0, s1])
    let together = x.dropout(0.5, rng: &both).data
    var alone = SampleStreams([s1])
    let second = x.select(axis: 0, [1]).dropout(0.5, rng: &alone).data
    #expect(Array(together[12...]) == second)
    var other = SampleStreams([s2, s1])
    #expect(Array(x.dropout(0.5, rng: &other).data[12...]) == second, "sample 1 keeps its mask next to another sample")
  }
}
