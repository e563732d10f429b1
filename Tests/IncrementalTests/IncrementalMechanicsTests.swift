import Foundation
import Testing

@testable import Incremental
@testable import Model
@testable import Tensor
import TestSupport

@Suite("Compression loss and gradient projection")
struct IncrementalMechanicsTests {
  @Test func compressionLossPenalisesSmallNormalisedSingularValues() throws {
    var cl = CompressionLoss(capacity: 5)
    let d = 4
    // Rows spanning mostly one direction: tiny singular values exist and are penalised.
    let x = Tensor(shape: [3, d], data: [1, 0, 0, 0.001, 2, 0.002, 0, 0, 3, 0, 0.003, 0])
    let l = try cl.loss(key: "k", current: x)
    let s = try LinearAlgebra.svd(x.data, rows: 3, cols: d).s
    let norm = s.map { $0 / s.reduce(0, +) }
    #expect(abs(l.item - norm.filter { $0 < 0.1 / Float(d) }.reduce(0, +)) < 1e-6)
    #expect(l.item > 0)
    cl.remember(key: "k", current: x)
    cl.remember(key: "k", current: x)
    #expect(cl.buffers["k"]!.count == 5)  // capacity keeps the newest rows
    // Gradient flows into the current rows (finite differences through the SVD).
    let cur = randn([2, d], seed: 3)
    let mismatch = try gradientMismatch("compression", [cur], eps: 1e-3, atol: 2e-3, rtol: 5e-2, maxChecks: 8) {
      try cl.loss(key: "k", current: cur)
    }
    #expect(mismatch == nil, "\(mismatch ?? "")")
  }

  @Test func projectionZeroesTheTopDirectionAndWeightsTheRest() throws {
    var gp = GradientProjection()
    let d = 3
    // Rows along e0 dominate, then e1, then e2: V = (e0, e1, e2), w = (0, log2/log3, 1).
    gp.accumulate(layer: "L", rows: [10, 0, 0, 0, 3, 0, 0, 0, 1, 9, 0, 0], d: d)
    try gp.refresh()
    var g: [Float] = [1, 1, 1]
    gp.project(layer: "L", grad: &g, rows: d)
    #expect(abs(g[0]) < 1e-5)
    #expect(abs(g[1] - Float(log(2.0) / log(3.0))) < 1e-5)
    #expect(abs(g[2] - 1) < 1e-5)
    // Weight gradients [d, F] are projected column by column (output side).
    var w: [Float] = [1, 2, 1, 2, 1, 2]
    gp.project(layer: "L", grad: &w, rows: d)
    #expect(abs(w[0]) < 1e-5 && abs(w[1]) < 1e-5 && abs(w[4] - 1) < 1e-5)
  }

  @Test func gramAccumulationEqualsStackedRows() throws {
    var a = GradientProjection(), b = GradientProjection()
    let r1 = randn([5, 4], seed: 1).data, r2 = randn([3, 4], seed: 2).data
    a.accumulate(layer: "L", rows: r1, d: 4)
    a.accumulate(layer: "L", rows: r2, d: 4)
    b.accumulate(layer: "L", rows: r1 + r2, d: 4)
    #expect(closenessFailure(a.grams["L"]!, b.grams["L"]!, atol: 1e-5, rtol: 1e-5, "gram") == nil)
  }
}
