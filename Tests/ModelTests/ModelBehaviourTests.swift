import Testing

@testable import Model
@testable import Tensor
import TestSupport

@Suite("Model behaviour: switches, zero-init, fitting, anomaly maps")
struct ModelBehaviourTests {
  @Test func es2dScansPartitionTheGrid() {
    for g in [4, 8, 28] {
      let orders = (0..<4).map { ES2D.scanOrder($0, grid: g) }
      #expect(orders.flatMap { $0 }.sorted() == Array(0..<(g * g)))
      #expect(orders.allSatisfy { $0.count == g * g / 4 })
      // Each route reads its scan order, each token's Δ, B, C from that token's place in its sub-grid.
      for k in 0..<4 {
        let route = ES2D.route(k, grid: g), sub = ES2D.subGrid(k, grid: g)
        #expect(route.tokens == orders[k])
        #expect(zip(route.tokens, route.steps).allSatisfy { sub.token($1 / sub.side, $1 % sub.side) == $0 })
      }
    }
    // Directions on a 4×4 grid: sub-grid 1 (offset (0,1)) column-major: (0,1),(2,1),(0,3),(2,3).
    #expect(ES2D.scanOrder(0, grid: 4) == [0, 2, 8, 10])
    #expect(ES2D.scanOrder(1, grid: 4) == [1, 9, 3, 11])
    #expect(ES2D.scanOrder(2, grid: 4) == [14, 12, 6, 4])
    #expect(ES2D.scanOrder(3, grid: 4) == [15, 7, 13, 5])
  }

  @Test func mambaOffHasNoMambaParameters() {
    var c = ModelConfig.tiny
    c.mamba = false
    let model = IBIUMAD(config: c, classes: 10, seed: 1)
    #expect(!model.parameters.names.contains { $0.hasPrefix("mamba.") })
    var ctx = ForwardContext.eval
    let out = model.forward(makeInput(c, batch: 1, seed: 2), &ctx)
    #expect(out.mamba.isEmpty)
    let terms = model.loss(out, makeInput(c, batch: 1, seed: 2)).values.map(\.name)
    #expect(!terms.contains { $0.hasPrefix("ce_") })
  }

  @Test func zeroInitMakesMambaOnEqualMambaOffAtInitialisation() {
    var off = ModelConfig.tiny
    off.mamba = false
    let input = makeInput(.tiny, batch: 2, seed: 3)
    var ctx1 = ForwardContext.eval, ctx2 = ForwardContext.eval
    let a = IBIUMAD(config: .tiny, classes: 10, seed: 7).forward(input, &ctx1)
    let b = IBIUMAD(config: off, classes: 10, seed: 7).forward(input, &ctx2)
    for m in Modality.allCases {
      #expect(a.reconstructions[m]!.reconstruction.data == b.reconstructions[m]!.reconstruction.data)
      #expect(a.mamba[m]!.conditions.allSatisfy { $0.data.allSatisfy { $0 == 1 } })
    }
    #expect(a.fusion!.bottleneck.data == b.fusion!.bottleneck.data)
  }

  @Test func iufBaselineSwitches() {
    var c = ModelConfig.tiny
    c.mamba = false; c.ibfm = false; c.anomalyMap = .modal
    let model = IBIUMAD(config: c, classes: 10, seed: 1)
    #expect(!model.parameters.names.contains { $0.hasPrefix("ibfm.") || $0.hasPrefix("heads.") || $0.hasPrefix("mamba.") })
    let input = makeInput(c, batch: 1, seed: 4)
    var ctx = ForwardContext.eval
    let out = model.forward(input, &ctx)
    #expect(out.fusion == nil)
    #expect(model.loss(out, input).values.map(\.name) == ["mse_depth", "mse_rgb"].sorted { $0.hasSuffix("rgb") && !$1.hasSuffix("rgb") })
  }

  @Test func invalidConfigsAreListed() {
    var c = ModelConfig.tiny
    c.modalities = [.rgb]  // IBFM needs both
    c.hidden = 30  // not divisible by 4 heads
    let p = c.problems()
    #expect(p.contains { $0.contains("model.ibfm") })
    #expect(p.contains { $0.contains("model.hidden: 30") })
  }

  @Test func twoHundredAdamWStepsFitOneBatch() {
    let c = ModelConfig.tiny
    let model = IBIUMAD(config: c, classes: 2, seed: 11)
    let input = makeInput(c, classes: 2, batch: 2, seed: 12)
    let opt = AdamW(params: model.parameters, learningRate: 2e-3, weightDecay: 0)
    var first: Float = 0, last: Float = 0
    for step in 0..<200 {
      var ctx = deterministicTraining
      let loss = model.loss(model.forward(input, &ctx), input).total
      if step == 0 { first = loss.item }
      last = loss.item
      model.parameters.zeroGrad()
      loss.backward()
      opt.step()
    }
    #expect(last <= 0.1 * first, "loss \(first) → \(last)")
  }

  @Test func anomalyMapShapesAndScores() {
    var c = ModelConfig.tiny
    c.anomalyMap = .fused
    c.mapNormalization = .none
    let model = IBIUMAD(config: c, classes: 10, seed: 2)
    let input = makeInput(.tiny, batch: 2, seed: 5)
    var ctx = ForwardContext.eval
    let maps = model.anomalyMaps(model.forward(input, &ctx), blurSigma: 4)
    #expect(maps.tokenMaps.shape == [2, 4, 4])
    #expect(maps.maps.shape == [2, 64, 64])
    #expect(maps.scores.count == 2)
    // Fused map = ‖F_g − F_R‖ per token: check one token by hand.
    var ctx2 = ForwardContext.eval
    let out = model.forward(input, &ctx2)
    let fg = out.fusion!.bottleneck, fr = input.features[.rgb]!
    let ch = fg.shape[2]
    var s: Float = 0
    for j in 0..<ch { let d = fg.data[5 * ch + j] - fr.data[5 * ch + j]; s += d * d }
    #expect(abs(maps.tokenMaps.data[5] - s.squareRoot()) < 1e-4)
  }

  @Test func maxPooledMeanMatchesBruteForce() {
    let h = 9, w = 7, k = 3
    let x = randn([h * w], seed: 6).data
    var best = -Float.infinity
    for r in 0...(h - k) {
      for c in 0...(w - k) {
        var s: Float = 0
        for i in 0..<k { for j in 0..<k { s += x[(r + i) * w + c + j] } }
        best = max(best, s / Float(k * k))
      }
    }
    #expect(abs(maxPooledMean(x, offset: 0, height: h, width: w, kernel: k) - best) < 1e-5)
  }

  @Test func gaussianBlurKeepsConstantsAndMass() {
    var flat = [Float](repeating: 2.5, count: 20 * 20)
    gaussianBlur(&flat, offset: 0, height: 20, width: 20, sigma: 2)
    #expect(flat.allSatisfy { abs($0 - 2.5) < 1e-5 })
    var spike = [Float](repeating: 0, count: 41 * 41)
    spike[20 * 41 + 20] = 1
    gaussianBlur(&spike, offset: 0, height: 41, width: 41, sigma: 2)
    #expect(abs(spike.reduce(0, +) - 1) < 1e-4)
    #expect(spike[20 * 41 + 20] == spike.max())
  }
}
