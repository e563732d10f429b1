import Tensor

// MARK: IBFM — information-bottleneck fusion (SPEC §6.4, Eqs. 4–9)

/// Fusion of F¹ (decoder layer L/2 of both modalities) and F² (layer L), each [B, T, 2d].
struct Fusion {
  let kind: FusionKind
  let attn: MultiheadAttention?
  let norm: LayerNorm?
  let fc: Linear?

  init(_ s: ParameterStore, _ p: String, _ c: ModelConfig, rng: inout RNG) {
    kind = c.fusion
    let w = 2 * c.hidden
    switch c.fusion {
    case .crossAttention:
      attn = MultiheadAttention(s, "\(p).attn", dim: w, heads: c.heads, attentionDropout: false, rng: &rng)
      norm = LayerNorm(s, "\(p).norm", w)
      fc = nil
    case .concatFC:
      attn = nil; norm = nil
      fc = Linear(s, "\(p).fc", 2 * w, w, rng: &rng)
    case .linearGLU:
      attn = nil; norm = nil
      fc = Linear(s, "\(p).fc", 2 * w, 2 * w, rng: &rng)
    case .add:
      attn = nil; norm = nil; fc = nil
    }
  }

  func callAsFunction(_ f1: Tensor, _ f2: Tensor, _ ctx: inout ForwardContext) -> Tensor {
    switch kind {
    case .crossAttention: return norm!(f1 + attn!(query: f1, key: f2, value: f2, &ctx))
    case .add: return f1 + f2
    case .concatFC: return fc!(Tensor.concat([f1, f2], axis: 2))
    case .linearGLU:
      let h = fc!(Tensor.concat([f1, f2], axis: 2))
      let w = h.shape[2] / 2
      return h.slice(axis: 2, 0..<w) * h.slice(axis: 2, w..<(2 * w)).sigmoid()
    }
  }
}

/// What IBFM produces for a batch.
public struct FusionOutput {
  /// F_fu [B, T, 2d].
  public let fused: Tensor
  /// F_g [B, T, C_in], the bottlenecked reconstruction of the RGB features.
  public let bottleneck: Tensor
  /// Logits of p_fu and p_g [B, K].
  public let fusedLogits, bottleneckLogits: Tensor
}

struct IBFM {
  let fusion: Fusion
  let ibProj, ibOut: Linear
  let headFused, headBottleneck: Linear

  init(_ s: ParameterStore, _ c: ModelConfig, classes: Int, rng: inout RNG) {
    fusion = Fusion(s, "ibfm.fusion", c, rng: &rng)
    ibProj = Linear(s, "ibfm.ib_proj", 2 * c.hidden, c.ibDim, rng: &rng)
    ibOut = Linear(s, "ibfm.ib_out", c.ibDim, c.featureChannels, gain: c.outputGain, rng: &rng)
    headFused = Linear(s, "heads.fused", 2 * c.hidden, classes, rng: &rng)
    headBottleneck = Linear(s, "heads.bottleneck", c.featureChannels, classes, rng: &rng)
  }

  func callAsFunction(_ f1: Tensor, _ f2: Tensor, _ ctx: inout ForwardContext) -> FusionOutput {
    let fused = fusion(f1, f2, &ctx)
    let z = ibProj.reluDropout(fused, &ctx)
    let fg = ibOut(z)
    return FusionOutput(
      fused: fused, bottleneck: fg,
      fusedLogits: headFused(fused.mean(axes: [1])), bottleneckLogits: headBottleneck(fg.mean(axes: [1])))
  }
}
