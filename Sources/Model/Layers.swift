import Tensor

/// Building blocks that own named parameters. Each registers its tensors under `prefix` in the
/// store at construction, so names are stable across runs and match the golden-test script.

public struct Linear {
  public let weight: Tensor
  public let bias: Tensor?

  public init(_ store: ParameterStore, _ prefix: String, _ inF: Int, _ outF: Int, bias: Bool = true,
              zeroInit: Bool = false, gain: Float = 1, rng: inout RNG) {
    weight = zeroInit ? store.zeros("\(prefix).weight", [outF, inF]) : store.xavierUniform("\(prefix).weight", [outF, inF], gain: gain, rng: &rng)
    self.bias = bias ? store.zeros("\(prefix).bias", [outF]) : nil
  }

  public func callAsFunction(_ x: Tensor) -> Tensor { Tensor.linear(x, weight: weight, bias: bias) }

  /// Only the outputs in `range`, from a slice of the weight's rows: a projection whose output is
  /// split in parts costs no copy of each part out of the whole.
  public func callAsFunction(_ x: Tensor, outputs range: Range<Int>) -> Tensor {
    let (w, b) = rows(range)
    return Tensor.linear(x, weight: w, bias: b)
  }

  /// silu(outputs `range` of self(x)) as one fused op (ESSM's gate branch).
  public func silu(_ x: Tensor, outputs range: Range<Int>) -> Tensor {
    let (w, b) = rows(range)
    return Tensor.linearSiLU(x, weight: w, bias: b)
  }

  /// The weight's and bias's rows that make outputs `range`.
  func rows(_ range: Range<Int>) -> (weight: Tensor, bias: Tensor?) {
    (weight.slice(axis: 0, range), bias?.slice(axis: 0, range))
  }

  /// ctx.dropout(self(x).relu()) as one fused op (an FFN's first half).
  public func reluDropout(_ x: Tensor, _ ctx: inout ForwardContext) -> Tensor {
    Tensor.linearReluDropout(x, weight: weight, bias: bias, dropout: ctx.activeDropout, rng: &ctx.rng)
  }
}

public struct LayerNorm {
  public let weight: Tensor, bias: Tensor
  public let eps: Float

  public init(_ store: ParameterStore, _ prefix: String, _ dim: Int, eps: Float = 1e-5) {
    weight = store.ones("\(prefix).weight", [dim])
    bias = store.zeros("\(prefix).bias", [dim])
    self.eps = eps
  }

  public func callAsFunction(_ x: Tensor) -> Tensor { Tensor.layerNorm(x, weight: weight, bias: bias, eps: eps) }

  /// self(residual + ctx.dropout(branch)) as one fused op (a post-norm residual join).
  public func join(_ residual: Tensor, _ branch: Tensor, _ ctx: inout ForwardContext) -> Tensor {
    Tensor.residualDropoutLayerNorm(residual, branch, dropout: ctx.activeDropout, rng: &ctx.rng, weight: weight, bias: bias, eps: eps)
  }
}

/// Training-time randomness and switches, threaded through every forward call.
public struct ForwardContext {
  public var training: Bool
  /// Dropout probability used in training (0 turns it off, e.g. for golden tests).
  public var dropout: Float
  public var jitter: Bool
  /// One stream for the whole batch, or one per sample (data-parallel training).
  public var rng: SampleStreams

  public init(training: Bool, dropout: Float, jitter: Bool, rng: RNG) {
    self.init(training: training, dropout: dropout, jitter: jitter, streams: [rng])
  }

  /// `streams[b]` draws sample b's dropout masks and jitter.
  public init(training: Bool, dropout: Float, jitter: Bool, streams: [RNG]) {
    self.training = training
    self.dropout = dropout
    self.jitter = jitter
    self.rng = SampleStreams(streams)
  }

  /// Evaluation: no dropout, no jitter.
  public static var eval: ForwardContext { ForwardContext(training: false, dropout: 0, jitter: false, rng: RNG(seed: 0)) }

  public var activeDropout: Float { training ? dropout : 0 }

  public mutating func dropout(_ x: Tensor) -> Tensor {
    activeDropout > 0 ? x.dropout(activeDropout, rng: &rng) : x
  }
}

/// Multi-head attention with q/k/v/out projections (PyTorch nn.MultiheadAttention semantics,
/// with the packed in-projection split into three named linears).
public struct MultiheadAttention {
  public let q, k, v, out: Linear
  public let heads: Int
  /// Dropout on the attention probabilities (applied only when the context trains).
  public let attentionDropout: Bool

  /// `tiedQueryKey`: k_proj starts as a copy of q_proj (then both train freely), so the
  /// query–key form W_q W_kᵀ starts positive semi-definite and a token's query scores highest
  /// against keys that share its components — its own position, when positions dominate.
  public init(_ store: ParameterStore, _ prefix: String, dim: Int, heads: Int, attentionDropout: Bool,
              tiedQueryKey: Bool = false, rng: inout RNG) {
    q = Linear(store, "\(prefix).q_proj", dim, dim, rng: &rng)
    k = Linear(store, "\(prefix).k_proj", dim, dim, rng: &rng)
    if tiedQueryKey { k.weight.data = q.weight.data }
    v = Linear(store, "\(prefix).v_proj", dim, dim, rng: &rng)
    out = Linear(store, "\(prefix).out_proj", dim, dim, rng: &rng)
    self.heads = heads
    self.attentionDropout = attentionDropout
  }

  /// query [B, Tq, dim], key [B, Tk, dim], value [B, Tk, dim] → [B, Tq, dim].
  public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, _ ctx: inout ForwardContext) -> Tensor {
    let p = attentionDropout ? ctx.activeDropout : 0
    let o = Tensor.attention(q: q(query), k: k(key), v: v(value), heads: heads, dropout: p, rng: &ctx.rng)
    return out(o)
  }
}

// MARK: token ↔ grid layout

extension Tensor {
  /// Tokens [B, H·W, C] (row-major grid) → feature map [B, C, H, W].
  public func tokensToGrid(height: Int, width: Int) -> Tensor {
    check(rank == 3 && shape[1] == height * width, "tokensToGrid: shape \(shape) is not [B, \(height)·\(width), C]")
    return transposed(1, 2).reshaped([shape[0], shape[2], height, width])
  }

  /// Feature map [B, C, H, W] → tokens [B, H·W, C].
  public func gridToTokens() -> Tensor {
    check(rank == 4, "gridToTokens: shape \(shape) is not [B, C, H, W]")
    return reshaped([shape[0], shape[1], shape[2] * shape[3]]).transposed(1, 2)
  }
}
