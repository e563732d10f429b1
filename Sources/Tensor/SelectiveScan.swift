import Foundation

// MARK: S6 selective scan (Mamba), fused forward and hand-written backward

/// Which rows one direction of a scan reads: at step t, row `tokens[t]` of u (and of y, which it
/// writes there) and row `steps[t]` of its own Δ, B and C. ES2D's four directions each walk one
/// sub-grid of u in their own order, with Δ, B, C made in the sub-grid's order: nothing is
/// gathered into scan order and nothing scattered back.
public struct ScanRoute: Sendable {
  public let tokens: [Int], steps: [Int]

  public init(tokens: [Int], steps: [Int]) {
    check(tokens.count == steps.count, "ScanRoute: \(tokens.count) tokens but \(steps.count) steps")
    check(steps.sorted() == Array(0..<steps.count), "ScanRoute: steps must be a permutation of 0..<\(steps.count)")
    (self.tokens, self.steps) = (tokens, steps)
  }

  /// Step t reads row t of everything.
  public static func identity(_ len: Int) -> ScanRoute { ScanRoute(tokens: Array(0..<len), steps: Array(0..<len)) }
}

/// One direction of a multi-direction scan: its own Δ (or Δ's pre-activation), A, B, C, D and route.
/// delta [B, L, E], a [E, N], b and c [B, L, N], d [E], with L = route.steps.count.
public struct ScanDirection {
  public let delta, a, b, c, d: Tensor
  public let route: ScanRoute

  public init(delta: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor, route: ScanRoute) {
    (self.delta, self.a, self.b, self.c, self.d, self.route) = (delta, a, b, c, d, route)
  }
}

extension Tensor {
  /// The selective state-space scan of Mamba's S6 layer, for every batch item and channel e:
  ///
  ///     h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·u_t·B_t     (h_t ∈ R^N per channel, h_{−1} = 0)
  ///     y_t = ⟨h_t, C_t⟩ + D·u_t
  ///
  /// u, delta [B, L, E]; A [E, N]; b, c [B, L, N] (shared by the channels); d [E] → y [B, L, E].
  /// The forward keeps h only at the start of every chunk of `scanChunk` steps; the backward
  /// recomputes a chunk's states (bit for bit: the same `ScanStep` code) into a buffer that stays
  /// in cache and runs the recurrence back through it. Partial sums over the batch are combined
  /// in batch order, so results do not depend on the thread count.
  ///
  /// With `deltaSoftplus`, `delta` holds Δ's pre-activation and the kernel applies Mamba's
  /// Δ = softplus(delta) where it reads it (and σ(delta) in the backward): no Δ tensor.
  public static func selectiveScan(u: Tensor, delta: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor,
                                   deltaSoftplus: Bool = false) -> Tensor {
    check(u.rank == 3 && delta.shape == u.shape, "selectiveScan: u \(u.shape) and delta \(delta.shape) must be one [B, L, E] shape")
    let direction = ScanDirection(delta: delta, a: a, b: b, c: c, d: d, route: .identity(u.shape[1]))
    return selectiveScan(u: u, directions: [direction], deltaSoftplus: deltaSoftplus)
  }

  /// Several scans of one u [B, T, E] in one op, each direction reading the tokens its route names
  /// (no token read by two) and writing its y there: y [B, T, E], 0 at tokens no direction reads.
  /// Each direction is the scan above, with its own parameters, in its own order.
  public static func selectiveScan(u: Tensor, directions: [ScanDirection], deltaSoftplus: Bool = false) -> Tensor {
    check(u.rank == 3, "selectiveScan: u \(u.shape) must be [B, T, E]")
    let bs = u.shape[0], tokens = u.shape[1], e = u.shape[2]
    var read = [Bool](repeating: false, count: tokens)
    for (k, direction) in directions.enumerated() {
      for t in direction.route.tokens {
        check((0..<tokens).contains(t) && !read[t], "selectiveScan: direction \(k) reads token \(t): outside 0..<\(tokens) or read by another direction")
        read[t] = true
      }
    }
    let whole = !read.contains(false)
    let kernels = directions.enumerated().map { ScanKernel($1, index: $0, bs: bs, tokens: tokens, e: e, softplus: deltaSoftplus) }
    let uv = u.data
    var starts: [[Float]] = []
    // Written whole when the directions read every token.
    let y = [Float](unsafeUninitializedCapacity: uv.count) { py, written in
      if !whole { py.initialize(repeating: 0) }
      uv.withUnsafeBufferPointer { pu in starts = kernels.map { $0.forward(u: pu.baseAddress!, y: py.baseAddress!) } }
      written = uv.count
    }
    let parents = [u] + directions.flatMap { [$0.delta, $0.a, $0.b, $0.c, $0.d] }
    return record(Tensor(shape: u.shape, data: y), op: "selective_scan", parents) { gy in
      let gu = [Float](unsafeUninitializedCapacity: uv.count) { pgu, written in
        if !whole { pgu.initialize(repeating: 0) }
        uv.withUnsafeBufferPointer { pu in gy.withUnsafeBufferPointer { pgy in
          for (kernel, start) in zip(kernels, starts) {
            kernel.backward(u: pu.baseAddress!, gy: pgy.baseAddress!, gu: pgu.baseAddress!, starts: start)
          }
        } }
        written = uv.count
      }
      if u.requiresGrad { u.accumulateGrad(gu) }
    }
  }

  /// The same recurrence written step by step with plain ops: the reference the fused kernel
  /// is tested against (slow; tests only).
  public static func selectiveScanReference(u: Tensor, delta: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor,
                                            deltaSoftplus: Bool = false) -> Tensor {
    let delta = deltaSoftplus ? delta.softplus() : delta
    let bs = u.shape[0], len = u.shape[1], e = u.shape[2], n = a.shape[1]
    var h = Tensor(zeros: [bs, e, n])
    var ys: [Tensor] = []
    for t in 0..<len {
      let dt = delta.slice(axis: 1, t..<(t + 1)).reshaped([bs, e, 1])
      let ut = u.slice(axis: 1, t..<(t + 1)).reshaped([bs, e, 1])
      let bt = b.slice(axis: 1, t..<(t + 1))  // [bs, 1, n]
      let ct = c.slice(axis: 1, t..<(t + 1))
      h = (dt * a).exp() * h + dt * ut * bt
      let yt = (h * ct).sum(axes: [2]) + ut.reshaped([bs, e]) * d
      ys.append(yt.reshaped([bs, 1, e]))
    }
    return concat(ys, axis: 1)
  }
}

/// Steps per chunk of the scan: the backward recomputes one chunk's states at a time.
let scanChunk = 16

/// Channels in vector lanes: the scan runs 8 channels at once, each lane its own recurrence, so
/// no sum over the state crosses lanes (the sums over channels, for B and C, do, once per step).
enum ScanLanes {
  typealias Vector = SIMD8<Float>
  static let width = 8

  /// `w` ≤ 8 channels from `p`, the missing lanes 0.
  @inline(__always)
  static func load(_ p: UnsafePointer<Float>, _ w: Int) -> Vector {
    if w == width { return UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }
    var v = Vector.zero
    for l in 0..<w { v[l] = p[l] }
    return v
  }

  @inline(__always)
  static func store(_ v: Vector, to p: UnsafeMutablePointer<Float>, _ w: Int) {
    if w == width { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self); return }
    for l in 0..<w { p[l] = v[l] }
  }

  /// Σ of the lanes, in halves (a fixed order).
  @inline(__always)
  static func fold(_ v: Vector) -> Float {
    let v4 = v.lowHalf + v.highHalf
    let v2 = v4.lowHalf + v4.highHalf
    return v2[0] + v2[1]
  }

  /// Δ for `w` channels from `p` and dΔ/d(what p holds): Δ itself, or softplus of it.
  @inline(__always)
  static func delta(_ p: UnsafePointer<Float>, _ w: Int, softplus: Bool) -> (value: Vector, derivative: Vector) {
    let x = load(p, w)
    return softplus ? fastSoftplus(x) : (x, Vector(repeating: 1))
  }

  /// A row-major [rows, columns] matrix as [row blocks of 8, columns] lanes (a row per lane,
  /// missing rows 0).
  static func pack(_ m: [Float], rows: Int, columns: Int) -> [Vector] {
    let blocks = (rows + width - 1) / width
    var out = [Vector](repeating: .zero, count: blocks * columns)
    for r in 0..<rows { for j in 0..<columns { out[(r / width) * columns + j][r % width] = m[r * columns + j] } }
    return out
  }

  /// Adds part `part` of `parts` (consecutive packed matrices) to the row-major matrix `p`.
  static func unpack(_ parts: [Float], part: Int, rows: Int, columns: Int, addingTo p: UnsafeMutablePointer<Float>) {
    let blocks = (rows + width - 1) / width, base = part * blocks * columns * width
    for r in 0..<rows {
      for j in 0..<columns { p[r * columns + j] += parts[base + ((r / width) * columns + j) * width + r % width] }
    }
  }
}

/// Sizes of one scan and where a chunk's saved start lies.
struct ScanGeometry {
  let bs, len, e, n, chunks, blocks: Int

  init(bs: Int, len: Int, e: Int, n: Int) {
    (self.bs, self.len, self.e, self.n) = (bs, len, e, n)
    chunks = (len + scanChunk - 1) / scanChunk
    blocks = (e + ScanLanes.width - 1) / ScanLanes.width
  }

  /// Offset, in vectors, of the state at the start of `chunk` for batch item `bi`, channel block `blk`.
  func start(_ bi: Int, _ chunk: Int, _ blk: Int) -> Int { ((bi * chunks + chunk) * blocks + blk) * n }
}

/// One step of the S6 recurrence for 8 channels, h = exp(Δ·A) ⊙ h_prev + Δ·u·B: the forward
/// and the backward's recomputation share this code, so they produce the same bits.
enum ScanStep {
  @inline(__always)
  static func advance(_ h: UnsafeMutablePointer<ScanLanes.Vector>, from prev: UnsafePointer<ScanLanes.Vector>,
                      decay: UnsafeMutablePointer<ScanLanes.Vector>?, n: Int, dt: ScanLanes.Vector, ut: ScanLanes.Vector,
                      a: UnsafePointer<ScanLanes.Vector>, b: UnsafePointer<Float>) {
    let du = dt * ut
    for k in 0..<n {
      let dA = fastExp(dt * a[k])
      decay?[k] = dA
      h[k] = dA * prev[k] + du * b[k]
    }
  }
}
