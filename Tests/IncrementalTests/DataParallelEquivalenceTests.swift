import Testing

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
    c.classes = 2
    c.dropout = 0
    let model = IBIUMAD(config: c, seed: 4)
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
    let input = makeInput(c, batch: 4, seed: 3)
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
