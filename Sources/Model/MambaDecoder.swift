import Foundation
import Tensor

// MARK: Mamba decoder — object-aware conditions and a label classifier (SPEC §6.3, Eq. 2–3)

/// ES2D: the four stride-2 sub-grids of a G×G grid, each read in its own direction.
public enum ES2D {
  /// Grid positions (row-major indices) of sub-grid k, in k's scan order:
  /// k = 0 offset (0,0) row-major; 1 (0,1) column-major; 2 (1,0) row-major reversed;
  /// 3 (1,1) column-major reversed.
  public static func scanOrder(_ k: Int, grid g: Int) -> [Int] {
    let sub = subGrid(k, grid: g), half = sub.side
    var order: [Int] = []
    if k % 2 == 0 {
      for i in 0..<half { for j in 0..<half { order.append(sub.token(i, j)) } }
    } else {
      for j in 0..<half { for i in 0..<half { order.append(sub.token(i, j)) } }
    }
    return k >= 2 ? order.reversed() : order
  }

  /// Sub-grid k: offset (0,0), (0,1), (1,0), (1,1).
  public static func subGrid(_ k: Int, grid g: Int) -> SubGrid {
    SubGrid(grid: g, rowOffset: k / 2, columnOffset: k % 2)
  }

  /// Direction k's scan: its tokens in scan order, each read from the sub-grid's own order.
  public static func route(_ k: Int, grid g: Int) -> ScanRoute {
    let tokens = scanOrder(k, grid: g), sub = subGrid(k, grid: g)
    return ScanRoute(tokens: tokens, steps: tokens.map { sub.position(ofToken: $0) })
  }
}

/// One S6 layer (one ES2D direction): input-dependent Δ, B, C and the selective scan.
struct S6 {
  let xProj: Linear
  let dtProj: Linear
  let aLog, d: Tensor
  let dtRank, state: Int

  init(_ s: ParameterStore, _ p: String, channels e: Int, dtRank: Int, state n: Int, rng: inout RNG) {
    self.dtRank = dtRank
    state = n
    xProj = Linear(s, "\(p).x_proj", e, dtRank + 2 * n, bias: false, rng: &rng)
    dtProj = Linear(s, "\(p).dt_proj", dtRank, e, rng: &rng)
    // Mamba's initialisation: dt_proj weight U(±dt_rank^-½); bias = softplus⁻¹(Δ₀) with Δ₀
    // log-uniform in [1e-3, 1e-1]; A_log = log(1…N) (S4D-real); D = 1.
    let bound = 1 / Float(dtRank).squareRoot()
    dtProj.weight.assign((0..<dtProj.weight.count).map { _ in rng.uniform(-bound, bound) })
    dtProj.bias!.assign((0..<e).map { _ in
      let dt = max(Foundation.exp(rng.uniform(Foundation.log(1e-3), Foundation.log(1e-1))), 1e-4)
      return dt + Foundation.log(-Foundation.expm1(-dt))
    })
    aLog = s.constant("\(p).A_log", Tensor(shape: [e, n], data: (0..<(e * n)).map { Foundation.log(Float($0 % n + 1)) }))
    d = s.ones("\(p).D", [e])
  }

  /// This layer's direction of the scan of u [B, G², E]: Δ, B, C from the sub-grid's tokens,
  /// read in place (in the sub-grid's own order), walked along `route`.
  func direction(_ u: Tensor, on sub: SubGrid, route: ScanRoute) -> ScanDirection {
    let xdbl = Tensor.linear(u, weight: xProj.weight, on: sub)
    let dt = xdbl.slice(axis: 2, 0..<dtRank)
    let b = xdbl.slice(axis: 2, dtRank..<(dtRank + state))
    let c = xdbl.slice(axis: 2, (dtRank + state)..<(dtRank + 2 * state))
    // Δ = softplus(dt_proj(dt)), applied inside the scan.
    return ScanDirection(delta: dtProj(dt), a: -aLog.exp(), b: b, c: c, d: d, route: route)
  }
}

/// ESSM: in-projection to (u, z), depthwise conv + SiLU on u, ES2D scans, gated output.
struct ESSM {
  let inProj, outProj: Linear
  let convWeight, convBias: Tensor
  let scans: [S6]
  let outNorm: LayerNorm
  let grid, expanded: Int
  let subGrids: [SubGrid]
  let routes: [ScanRoute]

  init(_ s: ParameterStore, _ p: String, _ c: ModelConfig, rng: inout RNG) {
    let e = c.mambaExpanded
    grid = c.mambaGrid
    expanded = e
    inProj = Linear(s, "\(p).in_proj", c.mambaChannels, 2 * e, rng: &rng)
    convWeight = s.xavierUniform("\(p).conv.weight", [e, 1, 3, 3], rng: &rng)
    convBias = s.zeros("\(p).conv.bias", [e])
    scans = (0..<4).map { S6(s, "\(p).s6.\($0)", channels: e, dtRank: c.dtRank, state: c.stateSize, rng: &rng) }
    outNorm = LayerNorm(s, "\(p).out_norm", e)
    outProj = Linear(s, "\(p).out_proj", e, c.mambaChannels, rng: &rng)
    subGrids = (0..<4).map { ES2D.subGrid($0, grid: c.mambaGrid) }
    routes = (0..<4).map { ES2D.route($0, grid: c.mambaGrid) }
  }

  /// x [B, G², C_m] → [B, G², C_m].
  func callAsFunction(_ x: Tensor) -> Tensor {
    var u = inProj(x, outputs: 0..<expanded)
    let gate = inProj.silu(x, outputs: expanded..<(2 * expanded))
    u = Tensor.depthwiseConv2dTokens(u, height: grid, width: grid, weight: convWeight, bias: convBias, padding: Padding2d(1)).silu()
    // The four directions read u where it lies and write y merged.
    let y = Tensor.selectiveScan(u: u, directions: (0..<4).map { scans[$0].direction(u, on: subGrids[$0], route: routes[$0]) },
                                 deltaSoftplus: true)
    return outProj(outNorm(y) * gate)
  }
}

/// Eq. 2: X̂ = DwConv(X); X̃ = ESSM(LN(X)); X' = Attention(LN(X̃)) + X̂.
struct MambaBlock {
  let dwWeight, dwBias: Tensor
  let norm1, norm2: LayerNorm
  let essm: ESSM
  let attn: MultiheadAttention
  let grid: Int

  init(_ s: ParameterStore, _ p: String, _ c: ModelConfig, rng: inout RNG) {
    grid = c.mambaGrid
    dwWeight = s.xavierUniform("\(p).dwconv.weight", [c.mambaChannels, 1, 3, 3], rng: &rng)
    dwBias = s.zeros("\(p).dwconv.bias", [c.mambaChannels])
    norm1 = LayerNorm(s, "\(p).norm1", c.mambaChannels)
    essm = ESSM(s, "\(p).essm", c, rng: &rng)
    norm2 = LayerNorm(s, "\(p).norm2", c.mambaChannels)
    attn = MultiheadAttention(s, "\(p).attn", dim: c.mambaChannels, heads: c.mambaHeads, attentionDropout: false, rng: &rng)
  }

  func callAsFunction(_ x: Tensor, _ ctx: inout ForwardContext) -> Tensor {
    let local = Tensor.depthwiseConv2dTokens(x, height: grid, width: grid, weight: dwWeight, bias: dwBias, padding: Padding2d(1))
    let t = norm2(essm(norm1(x)))
    return attn(query: t, key: t, value: t, &ctx) + local
  }
}

/// What the Mamba decoder of one modality produces.
public struct MambaOutput {
  /// c_i [B, T, d], one per encoder layer.
  public let conditions: [Tensor]
  /// Class logits [B, K] (Y_mab in Eq. 3).
  public let logits: Tensor
}

public struct MambaDecoder {
  let patchWeight, patchBias: Tensor
  let patchNorm: LayerNorm
  let blocks: [MambaBlock]
  let conditions: [Linear]
  let classifierNorm: LayerNorm
  let classifier: Linear
  let config: ModelConfig

  init(_ s: ParameterStore, _ p: String, _ c: ModelConfig, classes: Int, rng: inout RNG) {
    config = c
    patchWeight = s.xavierUniform("\(p).patch_embed.weight", [c.mambaChannels, 3, c.mambaPatch, c.mambaPatch], rng: &rng)
    patchBias = s.zeros("\(p).patch_embed.bias", [c.mambaChannels])
    patchNorm = LayerNorm(s, "\(p).patch_norm", c.mambaChannels)
    // One block per encoder layer: block i's output conditions encoder layer i.
    blocks = (0..<c.encoderLayers).map { MambaBlock(s, "\(p).blocks.\($0)", c, rng: &rng) }
    // Zero-initialised: at initialisation every c_i = 1 and the MRN is exactly UniAD/IUF.
    conditions = (0..<c.encoderLayers).map { Linear(s, "\(p).cond.\($0)", c.mambaChannels, c.hidden, zeroInit: true, rng: &rng) }
    classifierNorm = LayerNorm(s, "\(p).classifier_norm", c.mambaChannels)
    classifier = Linear(s, "\(p).classifier", c.mambaChannels, classes, rng: &rng)
  }

  /// image [B, 3, S, S] (the preprocessed input of this modality).
  func callAsFunction(_ image: Tensor, _ ctx: inout ForwardContext) -> MambaOutput {
    let g = config.mambaGrid
    var x = patchNorm(Tensor.conv2d(image, weight: patchWeight, bias: patchBias, stride: config.mambaPatch).gridToTokens())
    var conds: [Tensor] = []
    for (block, cond) in zip(blocks, conditions) {
      x = block(x, &ctx)
      let pooled = x.tokensToGrid(height: g, width: g)
        .adaptiveAvgPool2d(outputHeight: config.grid, outputWidth: config.grid).gridToTokens()
      conds.append(cond(pooled) + 1)
    }
    let logits = classifier(classifierNorm(x.mean(axes: [1])))
    return MambaOutput(conditions: conds, logits: logits)
  }
}
