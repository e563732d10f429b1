import Foundation
import Testing

@testable import Incremental
@testable import Model
@testable import Tensor
import TestSupport

/// `IncrementalTrainer.update` in an incremental step, by hand: the gradient of every FFN output
/// layer is projected (P·g, orthogonal to the protected top direction of earlier steps' outputs),
/// the weights are pulled toward θ_old, then SGD steps: w' = (1 − pull)·w + pull·θ_old − lr·(g' + wd·w̃).
@Suite("Incremental update: projection, pull toward θ_old, SGD")
struct IncrementalUpdateTests {
  func trainer(pull: Float, weightDecay: Float, clip: Float) -> IncrementalTrainer {
    var c = RunConfig()
    c.model = .tiny
    c.train.pull = pull
    c.train.incrementalWeightDecay = weightDecay
    c.train.incrementalClip = clip
    return IncrementalTrainer(config: c, classes: 2)
  }

  /// θ_old a little away from θ, random gradients, one projected layer whose earlier outputs all
  /// lay along u (so u is the direction to protect).
  func prepare(_ t: IncrementalTrainer, layer: String, u: [Float]) throws -> (old: [String: [Float]], grads: [String: [Float]]) {
    var old: [String: [Float]] = [:], grads: [String: [Float]] = [:]
    for (k, (name, p)) in t.model.parameters.named.enumerated() {
      old[name] = zip(p.data, randn([p.count], seed: UInt64(1000 + k), std: 0.1).data).map { $0 + $1 }
      grads[name] = randn([p.count], seed: UInt64(5000 + k)).data
      p.grad = grads[name]
    }
    t.thetaOld = old
    let d = u.count
    var rows: [Float] = []
    for s in [3, -2, 5, 1] as [Float] { rows += u.map { $0 * s } }
    t.projection.accumulate(layer: layer, rows: rows, d: d)
    // A weaker second direction orthogonal to u (e0 without its u part): u stays the top one.
    let second = (0..<d).map { ($0 == 0 ? 1 : 0) - u[0] * u[$0] }
    t.projection.accumulate(layer: layer, rows: second.map { $0 * 0.5 }, d: d)
    try t.projection.refresh()
    return (old, grads)
  }

  @Test func projectedPulledSGDStepMatchesTheFormula() throws {
    let pull: Float = 0.05, lr: Float = 0.5, wd: Float = 1e-3
    let t = trainer(pull: pull, weightDecay: wd, clip: 0)
    let layer = "mrn.rgb.encoder.0.linear2"
    let d = t.model.config.hidden
    let u = randn([d], seed: 7).data
    let norm = u.map { $0 * $0 }.reduce(0, +).squareRoot()
    let unit = u.map { $0 / norm }
    let before = Dictionary(uniqueKeysWithValues: t.model.parameters.named.map { ($0.name, $0.tensor.data) })
    let (old, grads) = try prepare(t, layer: layer, u: unit)
    try t.update(StepPlan(index: 1, classes: ["c"], epochs: 1), learningRate: lr)

    let p = try #require(t.projection.projections[layer])
    var projectedCount = 0
    for (name, tensor) in t.model.parameters.named {
      var g = grads[name]!
      if name == layer + ".weight" || name == layer + ".bias" {
        projectedCount += 1
        let cols = g.count / d
        var pg = [Float](repeating: 0, count: g.count)
        for i in 0..<d { for j in 0..<cols { for k in 0..<d { pg[i * cols + j] += p[i * d + k] * g[k * cols + j] } } }
        // Orthogonal to the protected direction: uᵀ·(P·g) = 0 for every column.
        for j in 0..<cols {
          let along = (0..<d).reduce(Float(0)) { $0 + unit[$1] * pg[$1 * cols + j] }
          let scale = (0..<d).reduce(Float(0)) { $0 + abs(g[$1 * cols + j]) }
          #expect(abs(along) <= 1e-4 * scale, "\(name) column \(j): \(along) along the protected direction")
        }
        g = pg
      }
      let w0 = before[name]!, o = old[name]!
      let expected = (0..<w0.count).map { i -> Float in
        let pulled = (1 - pull) * w0[i] + pull * o[i]
        return pulled - lr * (g[i] + wd * pulled)
      }
      let f = closenessFailure(tensor.data, expected, atol: 1e-5, rtol: 1e-4, name)
      #expect(f == nil, "\(f ?? "")")
    }
    #expect(projectedCount == 2, "the layer's weight and bias are both projected")
  }

  /// The incremental clip acts before the projection and per module: a module whose gradient
  /// norm is under the limit moves by exactly lr·P·g whatever the others' norms.
  @Test func clipActsPerModuleBeforeTheProjection() throws {
    let t = trainer(pull: 0, weightDecay: 0, clip: 1e6)
    let layer = "mrn.rgb.encoder.0.linear2"
    let unit = [Float](repeating: 1 / Float(t.model.config.hidden).squareRoot(), count: t.model.config.hidden)
    let before = Dictionary(uniqueKeysWithValues: t.model.parameters.named.map { ($0.name, $0.tensor.data) })
    let (_, grads) = try prepare(t, layer: layer, u: unit)
    for (name, p) in t.model.parameters.named where IBIUMAD.module(of: name) != "mrn.rgb" { p.grad = p.grad!.map { $0 * 1e6 } }
    try t.update(StepPlan(index: 1, classes: ["c"], epochs: 1), learningRate: 1)
    let w = try #require(t.model.parameters[layer + ".bias"])
    var pg = grads[layer + ".bias"]!
    t.projection.project(layer: layer, grad: &pg, rows: w.count)
    let moved = zip(before[layer + ".bias"]!, w.data).map { $0 - $1 }
    #expect(closenessFailure(moved, pg, atol: 1e-5, rtol: 1e-4, "mrn.rgb bias step") == nil)
  }
}
