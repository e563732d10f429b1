import Testing

@testable import Model
@testable import Tensor
import TestSupport

/// Finite-difference checks of each block as a whole, on the tiny config.
@Suite("Model blocks: gradients by finite differences")
struct BlockGradientTests {
  let c = ModelConfig.tiny

  @Test func encoderLayerWithCondition() {
    var rng = RNG(seed: 1)
    let s = ParameterStore()
    let layer = EncoderLayer(s, "enc", c, rng: &rng)
    let x = randn([2, c.tokens, c.hidden], seed: 2), pos = randn([c.tokens, c.hidden], seed: 3)
    let cond = randn([2, c.tokens, c.hidden], seed: 4, std: 0.3) + 1
    checkGradient("encoder layer", [x, cond, layer.attn.q.weight, layer.linear2.weight, layer.norm1.weight]) {
      var ctx = deterministicTraining
      var ffn: Tensor?
      return layer(x, pos: pos, condition: cond, &ctx, ffnOut: &ffn)
    }
  }

  @Test func decoderLayer() {
    var rng = RNG(seed: 5)
    let s = ParameterStore()
    let layer = DecoderLayer(s, "dec", c, rng: &rng)
    let prev = randn([2, c.tokens, c.hidden], seed: 6), mem = randn([2, c.tokens, c.hidden], seed: 7)
    let pos = randn([c.tokens, c.hidden], seed: 8)
    checkGradient("decoder layer", [prev, mem, layer.queryEmbed, layer.crossAttn.k.weight, layer.linear1.bias!], eps: 1e-3) {
      var ctx = deterministicTraining
      var ffn: Tensor?
      return layer(previous: prev, memory: mem, pos: pos, &ctx, ffnOut: &ffn)
    }
  }

  @Test func s6Layer() {
    var rng = RNG(seed: 9)
    let s = ParameterStore()
    let s6 = S6(s, "s6", channels: 6, dtRank: 2, state: 4, rng: &rng)
    // One direction (sub-grid (0,1), column-major) of a 4×4 grid: the other tokens are not read.
    let x = randn([2, 16, 6], seed: 10)
    checkGradient("S6", [x, s6.xProj.weight, s6.dtProj.weight, s6.dtProj.bias!, s6.aLog, s6.d], eps: 3e-3) {
      Tensor.selectiveScan(u: x, directions: [s6.direction(x, on: ES2D.subGrid(1, grid: 4), route: ES2D.route(1, grid: 4))],
                           deltaSoftplus: true)
    }
  }

  @Test func mambaBlockIncludingES2D() {
    var rng = RNG(seed: 11)
    let s = ParameterStore()
    let block = MambaBlock(s, "blk", c, rng: &rng)
    let x = randn([1, c.mambaGrid * c.mambaGrid, c.mambaChannels], seed: 12)
    checkGradient("Mamba block", [x, block.dwWeight, block.essm.inProj.weight, block.essm.scans[1].xProj.weight,
                                  block.essm.scans[3].aLog, block.essm.outProj.weight, block.attn.v.weight], eps: 3e-3) {
      var ctx = deterministicTraining
      return block(x, &ctx)
    }
  }

  @Test func mambaDecoderConditionsAndLogits() {
    var rng = RNG(seed: 13)
    let s = ParameterStore()
    let dec = MambaDecoder(s, "mamba", c, classes: 10, rng: &rng)
    // Non-zero condition weights so the condition path carries gradient.
    for l in dec.conditions { l.weight.assign(randn(l.weight.shape, seed: 14, std: 0.2).data) }
    let image = randn([1, 3, c.inputSize, c.inputSize], seed: 15)
    checkGradient("Mamba decoder", [dec.patchWeight, dec.conditions[0].weight, dec.classifier.weight], eps: 3e-3) {
      var ctx = deterministicTraining
      let out = dec(image, &ctx)
      return Tensor.concat([out.conditions[1].reshaped([-1]), out.logits.reshaped([-1])], axis: 0)
    }
  }

  @Test(arguments: FusionKind.allCases)
  func ibfm(_ kind: FusionKind) {
    var cfg = c
    cfg.fusion = kind
    var rng = RNG(seed: 16)
    let s = ParameterStore()
    let m = IBFM(s, cfg, classes: 10, rng: &rng)
    let f1 = randn([2, cfg.tokens, 2 * cfg.hidden], seed: 17), f2 = randn([2, cfg.tokens, 2 * cfg.hidden], seed: 18)
    checkGradient("IBFM \(kind.rawValue)", [f1, f2, m.ibProj.weight, m.headFused.weight], eps: 3e-3) {
      var ctx = deterministicTraining
      let o = m(f1, f2, &ctx)
      return Tensor.concat([o.bottleneck.reshaped([-1]), o.fusedLogits.reshaped([-1]), o.bottleneckLogits.reshaped([-1])], axis: 0)
    }
  }

  @Test func fullLossOnTinyConfig() {
    let cfg = c
    let model = IBIUMAD(config: cfg, classes: 3, seed: 3)
    for name in model.parameters.names where name.contains(".cond.") {
      model.parameters[name]!.assign(randn(model.parameters[name]!.shape, seed: 19, std: 0.1).data)
    }
    let input = makeInput(cfg, classes: 3, batch: 2, seed: 20)
    let probe = ["mrn.rgb.input_proj.weight", "mrn.depth.encoder.1.linear2.weight", "mrn.rgb.decoder.0.query_embed",
                 "mamba.rgb.cond.0.weight", "mamba.depth.blocks.1.essm.s6.2.dt_proj.weight", "mamba.rgb.classifier.weight",
                 "ibfm.fusion.attn.q_proj.weight", "ibfm.ib_out.weight", "heads.bottleneck.weight"]
    checkGradient("full loss", probe.map { model.parameters[$0]! }, eps: 3e-3, maxChecks: 6) {
      var ctx = deterministicTraining
      let out = model.forward(input, &ctx)
      return model.loss(out, input).total
    }
  }
}
