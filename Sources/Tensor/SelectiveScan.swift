import Foundation

// MARK: S6 selective scan (Mamba), fused forward and hand-written backward

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
    let bs = u.shape[0], len = u.shape[1], e = u.shape[2]
    check(a.rank == 2 && a.shape[0] == e, "selectiveScan: A shape \(a.shape) must be [\(e), N] for u \(u.shape)")
    let n = a.shape[1]
    check(b.shape == [bs, len, n] && c.shape == [bs, len, n],
          "selectiveScan: B \(b.shape) and C \(c.shape) must be [\(bs), \(len), \(n)]")
    check(d.shape == [e], "selectiveScan: D shape \(d.shape) must be [\(e)]")
    let uv = u.data, dv = delta.data, bv = b.data, cv = c.data
    FLOPCounter.add(6 * bs * len * e * n)
    let geo = ScanGeometry(bs: bs, len: len, e: e, n: n)
    // A and D as lanes; arrays, since the backward keeps them.
    let aLanes = ScanLanes.pack(a.data, rows: e, columns: n), dLanes = ScanLanes.pack(d.data, rows: e, columns: 1)
    var y = [Float](repeating: 0, count: bs * len * e)
    // The state at the start of each chunk, [B, chunks, channel blocks, N] lanes.
    var starts = [Float](repeating: 0, count: bs * geo.chunks * geo.blocks * n * ScanLanes.width)
    y.withUnsafeMutableBufferPointer { py in
      starts.withUnsafeMutableBufferPointer { pstart in
        // Channels are independent in the forward: parallel over (batch, channel block).
        Threading.parallelFor(bs * geo.blocks, grain: 1) { range in
          let h = UnsafeMutablePointer<ScanLanes.Vector>.allocate(capacity: n)
          defer { h.deallocate() }
          uv.withUnsafeBufferPointer { pu in dv.withUnsafeBufferPointer { pd in
          bv.withUnsafeBufferPointer { pb in cv.withUnsafeBufferPointer { pc in
          aLanes.withUnsafeBufferPointer { pA in dLanes.withUnsafeBufferPointer { pD in
            let A = pA.baseAddress!, D = pD.baseAddress!
            let startLanes = UnsafeMutableRawPointer(pstart.baseAddress!).assumingMemoryBound(to: ScanLanes.Vector.self)
            for job in range {
              let bi = job / geo.blocks, blk = job % geo.blocks, ch0 = blk * ScanLanes.width, w = min(ScanLanes.width, e - ch0)
              h.update(repeating: .zero, count: n)
              for t in 0..<len {
                let row = bi * len + t
                if t % scanChunk == 0 { (startLanes + geo.start(bi, t / scanChunk, blk)).update(from: h, count: n) }
                let ut = ScanLanes.load(pu.baseAddress! + row * e + ch0, w)
                let dt = ScanLanes.delta(pd.baseAddress! + row * e + ch0, w, softplus: deltaSoftplus).value
                ScanStep.advance(h, from: h, decay: nil, n: n, dt: dt, ut: ut, a: A + blk * n, b: pb.baseAddress! + row * n)
                let C = pc.baseAddress! + row * n
                var yt = ScanLanes.Vector.zero
                for k in 0..<n { yt += h[k] * C[k] }
                ScanLanes.store(yt + D[blk] * ut, to: py.baseAddress! + row * e + ch0, w)
              }
            }
          } } } } } }
        }
      }
    }
    return record(Tensor(shape: [bs, len, e], data: y), op: "selective_scan", [u, delta, a, b, c, d]) { gy in
      FLOPCounter.add(16 * bs * len * e * n)
      var gu = [Float](repeating: 0, count: uv.count), gdelta = gu
      var gb = [Float](repeating: 0, count: bv.count), gc = gb
      // Per-batch partials of the parameters shared across the batch, in lanes: A [B, blocks, N], D [B, blocks].
      var gaParts = [Float](repeating: 0, count: bs * geo.blocks * n * ScanLanes.width)
      var gdParts = [Float](repeating: 0, count: bs * geo.blocks * ScanLanes.width)
      gu.withUnsafeMutableBufferPointer { pgu in gdelta.withUnsafeMutableBufferPointer { pgd in
      gb.withUnsafeMutableBufferPointer { pgb in gc.withUnsafeMutableBufferPointer { pgc in
      gaParts.withUnsafeMutableBufferPointer { pga in gdParts.withUnsafeMutableBufferPointer { pgD in
      starts.withUnsafeBufferPointer { pstart in
      uv.withUnsafeBufferPointer { pu in dv.withUnsafeBufferPointer { pd in
      bv.withUnsafeBufferPointer { pb in cv.withUnsafeBufferPointer { pc in gy.withUnsafeBufferPointer { pgy in
      aLanes.withUnsafeBufferPointer { pA in dLanes.withUnsafeBufferPointer { pD in
        let A = pA.baseAddress!, D = pD.baseAddress!
        let startLanes = UnsafeRawPointer(pstart.baseAddress!).assumingMemoryBound(to: ScanLanes.Vector.self)
        let gaLanes = UnsafeMutableRawPointer(pga.baseAddress!).assumingMemoryBound(to: ScanLanes.Vector.self)
        let gdLanes = UnsafeMutableRawPointer(pgD.baseAddress!).assumingMemoryBound(to: ScanLanes.Vector.self)
        Threading.parallelFor(bs, grain: 1) { range in
          // One chunk's states h_t and decays exp(Δ_t·A) for one channel block, [scanChunk, N] lanes
          // each, and its Δ_t and dΔ_t [scanChunk]; ∂/∂h carried back across chunks per block; B's
          // and C's gradients summed over the blocks in lanes, [scanChunk, N] each.
          let hBuf = UnsafeMutablePointer<ScanLanes.Vector>.allocate(capacity: scanChunk * n)
          let decayBuf = UnsafeMutablePointer<ScanLanes.Vector>.allocate(capacity: scanChunk * n)
          let dtBuf = UnsafeMutablePointer<(value: ScanLanes.Vector, derivative: ScanLanes.Vector)>.allocate(capacity: scanChunk)
          defer { dtBuf.deallocate() }
          let gh = UnsafeMutablePointer<ScanLanes.Vector>.allocate(capacity: geo.blocks * n)
          let gbLanes = UnsafeMutablePointer<ScanLanes.Vector>.allocate(capacity: scanChunk * n)
          let gcLanes = UnsafeMutablePointer<ScanLanes.Vector>.allocate(capacity: scanChunk * n)
          defer { for p in [hBuf, decayBuf, gh, gbLanes, gcLanes] { p.deallocate() } }
          for bi in range {
            gh.update(repeating: .zero, count: geo.blocks * n)
            for chunk in stride(from: geo.chunks - 1, through: 0, by: -1) {
              let t0 = chunk * scanChunk, t1 = min(len, t0 + scanChunk)
              gbLanes.update(repeating: .zero, count: scanChunk * n)
              gcLanes.update(repeating: .zero, count: scanChunk * n)
              for blk in 0..<geo.blocks {
                let ch0 = blk * ScanLanes.width, w = min(ScanLanes.width, e - ch0)
                let start = startLanes + geo.start(bi, chunk, blk), Ab = A + blk * n
                // The chunk's states again, from its saved start.
                for t in t0..<t1 {
                  let row = bi * len + t, slot = (t - t0) * n
                  dtBuf[t - t0] = ScanLanes.delta(pd.baseAddress! + row * e + ch0, w, softplus: deltaSoftplus)
                  ScanStep.advance(hBuf + slot, from: t > t0 ? UnsafePointer(hBuf + slot - n) : start, decay: decayBuf + slot, n: n,
                                   dt: dtBuf[t - t0].value, ut: ScanLanes.load(pu.baseAddress! + row * e + ch0, w), a: Ab,
                                   b: pb.baseAddress! + row * n)
                }
                let GH = gh + blk * n, GA = gaLanes + (bi * geo.blocks + blk) * n
                var gD = gdLanes[bi * geo.blocks + blk]
                for t in stride(from: t1 - 1, through: t0, by: -1) {
                  let row = bi * len + t, slot = (t - t0) * n
                  let B = pb.baseAddress! + row * n, C = pc.baseAddress! + row * n
                  let (dt, dtSlope) = dtBuf[t - t0]
                  let ut = ScanLanes.load(pu.baseAddress! + row * e + ch0, w)
                  let g = ScanLanes.load(pgy.baseAddress! + row * e + ch0, w)
                  gD += g * ut
                  let H = hBuf + slot, decay = decayBuf + slot
                  // h_{t−1}: one slot back, or the chunk's saved start.
                  let P = t > t0 ? UnsafePointer(H - n) : start
                  let GB = gbLanes + slot, GC = gcLanes + slot
                  var gDelta = ScanLanes.Vector.zero, gU = ScanLanes.Vector.zero
                  for k in 0..<n {
                    let gt = GH[k] + g * C[k]  // total ∂/∂h_t
                    let dA = decay[k], bk = B[k]
                    let gdA = gt * P[k] * dA
                    gDelta += gdA * Ab[k] + gt * ut * bk
                    gU += gt * dt * bk
                    GA[k] += gdA * dt
                    GC[k] += g * H[k]
                    GB[k] += gt * dt * ut
                    GH[k] = gt * dA
                  }
                  ScanLanes.store(deltaSoftplus ? gDelta * dtSlope : gDelta, to: pgd.baseAddress! + row * e + ch0, w)
                  ScanLanes.store(g * D[blk] + gU, to: pgu.baseAddress! + row * e + ch0, w)
                }
                gdLanes[bi * geo.blocks + blk] = gD
              }
              // B and C are shared by the channels: their gradients are the lane sums.
              for t in t0..<t1 {
                let row = bi * len + t, slot = (t - t0) * n
                for k in 0..<n {
                  pgb[row * n + k] = ScanLanes.fold(gbLanes[slot + k])
                  pgc[row * n + k] = ScanLanes.fold(gcLanes[slot + k])
                }
              }
            }
          }
        }
      } } } } }
      } } }
      } } } } } }
      if u.requiresGrad { u.accumulateGrad(gu) }
      if delta.requiresGrad { delta.accumulateGrad(gdelta) }
      if b.requiresGrad { b.accumulateGrad(gb) }
      if c.requiresGrad { c.accumulateGrad(gc) }
      // The batch partials in batch order, so the sums do not depend on the thread count.
      if a.requiresGrad {
        a.accumulateGrad { p in
          for bi in 0..<bs { ScanLanes.unpack(gaParts, part: bi, rows: e, columns: n, addingTo: p.baseAddress!) }
        }
      }
      if d.requiresGrad {
        d.accumulateGrad { p in
          for bi in 0..<bs { ScanLanes.unpack(gdParts, part: bi, rows: e, columns: 1, addingTo: p.baseAddress!) }
        }
      }
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
