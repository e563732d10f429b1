import Foundation
import Tensor

// MARK: MRN — one UniAD/IUF reconstruction transformer per modality (SPEC §6.2)

/// Post-norm encoder layer whose query is modulated by the Mamba condition c_i.
struct EncoderLayer {
  let attn: MultiheadAttention
  let linear1, linear2: Linear
  let norm1, norm2: LayerNorm

  init(_ s: ParameterStore, _ p: String, _ c: ModelConfig, rng: inout RNG) {
    attn = MultiheadAttention(s, "\(p).self_attn", dim: c.hidden, heads: c.heads, attentionDropout: true, rng: &rng)
    linear1 = Linear(s, "\(p).linear1", c.hidden, c.ffn, rng: &rng)
    linear2 = Linear(s, "\(p).linear2", c.ffn, c.hidden, rng: &rng)
    norm1 = LayerNorm(s, "\(p).norm1", c.hidden)
    norm2 = LayerNorm(s, "\(p).norm2", c.hidden)
  }

  /// x [B, T, d], pos [T, d], condition [B, T, d] or nil (= 1).
  /// `ffnOut` receives linear2's output (the projection matrices of §7 are built from it).
  func callAsFunction(_ x: Tensor, pos: Tensor, condition: Tensor?, _ ctx: inout ForwardContext, ffnOut: inout Tensor?) -> Tensor {
    let withPos = x + pos
    let query = condition.map { withPos * $0 } ?? withPos
    var h = norm1.join(x, attn(query: query, key: withPos, value: x, &ctx), &ctx)
    let f = linear2(linear1.reluDropout(h, &ctx))
    ffnOut = f
    h = norm2.join(h, f, &ctx)
    return h
  }
}

/// UniAD decoder layer: learned queries attend to the encoder memory, then to the previous
/// layer's output; post-norm throughout.
struct DecoderLayer {
  let queryEmbed: Tensor
  let selfAttn, crossAttn: MultiheadAttention
  let linear1, linear2: Linear
  let norm1, norm2, norm3: LayerNorm

  init(_ s: ParameterStore, _ p: String, _ c: ModelConfig, rng: inout RNG) {
    // UniAD's nn.Embedding keeps PyTorch's N(0, 1) init (its initializer touches Linear/Conv
    // only): queries that differ from token to token from the first step.
    queryEmbed = c.embeddingInit != .xavier ? s.normal("\(p).query_embed", [c.tokens, c.hidden], std: 1, rng: &rng)
      : s.xavierUniform("\(p).query_embed", [c.tokens, c.hidden], rng: &rng)
    selfAttn = MultiheadAttention(s, "\(p).self_attn", dim: c.hidden, heads: c.heads, attentionDropout: true,
                                  tiedQueryKey: c.decoderAttentionInit == .tied, rng: &rng)
    crossAttn = MultiheadAttention(s, "\(p).cross_attn", dim: c.hidden, heads: c.heads, attentionDropout: true,
                                   tiedQueryKey: c.decoderAttentionInit == .tied, rng: &rng)
    linear1 = Linear(s, "\(p).linear1", c.hidden, c.ffn, rng: &rng)
    linear2 = Linear(s, "\(p).linear2", c.ffn, c.hidden, rng: &rng)
    norm1 = LayerNorm(s, "\(p).norm1", c.hidden)
    norm2 = LayerNorm(s, "\(p).norm2", c.hidden)
    norm3 = LayerNorm(s, "\(p).norm3", c.hidden)
  }

  /// previous: the last decoder output (the memory for the first layer), memory [B, T, d].
  func callAsFunction(previous: Tensor, memory: Tensor, pos: Tensor, _ ctx: inout ForwardContext, ffnOut: inout Tensor?) -> Tensor {
    let q = queryEmbed.broadcast(to: [memory.shape[0], queryEmbed.shape[0], queryEmbed.shape[1]])
    var t = norm1.join(q, selfAttn(query: q + pos, key: memory + pos, value: memory, &ctx), &ctx)
    t = norm2.join(t, crossAttn(query: t + pos, key: previous + pos, value: previous, &ctx), &ctx)
    let f = linear2(linear1.reluDropout(t, &ctx))
    ffnOut = f
    return norm3.join(t, f, &ctx)
  }
}

/// What the MRN of one modality produces.
public struct ReconstructionOutput {
  /// R_m [B, T, C_in].
  public let reconstruction: Tensor
  /// f^{rec i} [B, T, d], i = 1…L (the shared final norm applied to each decoder layer).
  public let decoderFeatures: [Tensor]
  /// linear2 outputs [B, T, d] of every encoder then decoder layer (for §7's projections).
  public let ffnOutputs: [Tensor]
}

public struct ReconstructionNetwork {
  let inputProj, outputProj: Linear
  let pos: Tensor
  let encoder: [EncoderLayer]
  let decoder: [DecoderLayer]
  let decoderNorm: LayerNorm
  let config: ModelConfig

  init(_ s: ParameterStore, _ p: String, _ c: ModelConfig, rng: inout RNG) {
    config = c
    inputProj = Linear(s, "\(p).input_proj", c.featureChannels, c.hidden, rng: &rng)
    switch c.embeddingInit {
    case .uniad: pos = s.constant("\(p).pos_embed", Self.uniadPositions(grid: c.grid, dim: c.hidden, rng: &rng))
    case .sincos: pos = s.constant("\(p).pos_embed", Self.sincosPositions(grid: c.grid, dim: c.hidden, amplitude: c.positionAmplitude))
    case .xavier: pos = s.xavierUniform("\(p).pos_embed", [c.tokens, c.hidden], rng: &rng)
    }
    encoder = (0..<c.encoderLayers).map { EncoderLayer(s, "\(p).encoder.\($0)", c, rng: &rng) }
    decoder = (0..<c.decoderLayers).map { DecoderLayer(s, "\(p).decoder.\($0)", c, rng: &rng) }
    decoderNorm = LayerNorm(s, "\(p).decoder_norm", c.hidden)
    outputProj = Linear(s, "\(p).output_proj", c.hidden, c.featureChannels, gain: c.outputGain, rng: &rng)
  }

  /// UniAD's learned position embedding at initialisation: token (i, j) is [col_j, row_i] with
  /// row and column tables drawn uniform in [0, 1) (PositionEmbeddingLearned). Here the [T, d]
  /// table is then learned freely; only its starting point is UniAD's. Xavier's ±0.1 values
  /// are too small for the learned queries to pick out their own position at the start.
  static func uniadPositions(grid g: Int, dim d: Int, rng: inout RNG) -> Tensor {
    let half = d / 2
    let col = (0..<(g * half)).map { _ in rng.uniform() }
    let row = (0..<(g * (d - half))).map { _ in rng.uniform() }
    var data = [Float](repeating: 0, count: g * g * d)
    for i in 0..<g {
      for j in 0..<g {
        let t = (i * g + j) * d
        for k in 0..<half { data[t + k] = col[j * half + k] }
        for k in 0..<(d - half) { data[t + half + k] = row[i * (d - half) + k] }
      }
    }
    return Tensor(shape: [g * g, d], data: data)
  }

  /// 2-D sine–cosine positions (a quarter of the channels each for sin/cos of the column and
  /// of the row, frequencies from 2 down to 0.2 radians per token) times `amplitude`: zero-mean
  /// and distinct per token, so q·k between positions peaks where they coincide.
  static func sincosPositions(grid g: Int, dim d: Int, amplitude: Float) -> Tensor {
    var data = [Float](repeating: 0, count: g * g * d)
    let q = d / 4
    for i in 0..<g {
      for j in 0..<g {
        let t = (i * g + j) * d
        for k in 0..<q {
          let w = 2 / Foundation.pow(Float(10), Float(k) / Float(q))
          data[t + k] = amplitude * Foundation.sin(Float(j) * w)
          data[t + q + k] = amplitude * Foundation.cos(Float(j) * w)
          data[t + 2 * q + k] = amplitude * Foundation.sin(Float(i) * w)
          data[t + 3 * q + k] = amplitude * Foundation.cos(Float(i) * w)
        }
      }
    }
    return Tensor(shape: [g * g, d], data: data)
  }

  /// features F_m [B, T, C_in]; conditions: one [B, T, d] per encoder layer, or nil.
  func callAsFunction(_ features: Tensor, conditions: [Tensor]?, _ ctx: inout ForwardContext) -> ReconstructionOutput {
    var x = features
    if ctx.training && ctx.jitter { x = addJitter(x, &ctx.rng) }
    var h = inputProj(x)
    var ffn: [Tensor] = []
    var out: Tensor?
    for (i, layer) in encoder.enumerated() {
      h = layer(h, pos: pos, condition: conditions?[i], &ctx, ffnOut: &out)
      ffn.append(out!)
    }
    let memory = h
    var prev = memory
    var recs: [Tensor] = []
    for layer in decoder {
      prev = layer(previous: prev, memory: memory, pos: pos, &ctx, ffnOut: &out)
      ffn.append(out!)
      recs.append(decoderNorm(prev))
    }
    return ReconstructionOutput(reconstruction: outputProj(recs.last!), decoderFeatures: recs, ffnOutputs: ffn)
  }

  /// UniAD's feature jitter: x += ε·(‖x‖₂/C)·scale per token, ε ~ N(0, 1), with probability p
  /// per sample (UniAD draws once per batch; per sample keeps a sample's jitter independent of
  /// its batch-mates, see docs/decisions.md). With a single stream the samples draw in turn.
  func addJitter(_ x: Tensor, _ rng: inout SampleStreams) -> Tensor {
    let b = x.shape[0], c = x.shape[2], perSample = x.count / b
    let single = rng.streams.count == 1
    var noise = [Float](repeating: 0, count: x.count)
    for s in 0..<b {
      rng.withSample(single ? 0 : s, of: single ? 1 : b) { r in
        guard r.uniform() < config.jitterProb else { return }
        for row in stride(from: s * perSample, to: (s + 1) * perSample, by: c) {
          var sq: Float = 0
          for j in 0..<c { sq += x.data[row + j] * x.data[row + j] }
          let scale = sq.squareRoot() / Float(c) * config.jitterScale
          for j in 0..<c { noise[row + j] = r.normal() * scale }
        }
      }
    }
    // The jitter is a constant offset: no gradient flows through its scale.
    return x + Tensor(shape: x.shape, data: noise)
  }
}
