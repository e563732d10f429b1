import Foundation

// MARK: One direction of the S6 selective scan: the fused forward and the hand-written backward

/// One direction of `Tensor.selectiveScan`, its inputs checked and captured. u and y (and their
/// gradients) are the op's shared [B, T, E] buffers, read and written at the route's tokens;
/// Δ, B, C are the direction's own, read at the route's steps.
struct ScanKernel {
  let direction: ScanDirection
  let geo: ScanGeometry
  /// Rows of u per batch item.
  let tokens: Int
  let softplus: Bool
  let dv, bv, cv: [Float]
  /// A and D as lanes; arrays, since the backward keeps them.
  let aLanes, dLanes: [ScanLanes.Vector]

  init(_ direction: ScanDirection, index k: Int, bs: Int, tokens: Int, e: Int, softplus: Bool) {
    let len = direction.route.steps.count
    let (delta, a, b, c, d) = (direction.delta, direction.a, direction.b, direction.c, direction.d)
    let at = "selectiveScan direction \(k)"
    check(delta.shape == [bs, len, e], "\(at): delta \(delta.shape) must be [\(bs), \(len), \(e)] (u [\(bs), \(tokens), \(e)], \(len) steps)")
    check(a.rank == 2 && a.shape[0] == e, "\(at): A shape \(a.shape) must be [\(e), N]")
    let n = a.shape[1]
    check(b.shape == [bs, len, n] && c.shape == [bs, len, n], "\(at): B \(b.shape) and C \(c.shape) must be [\(bs), \(len), \(n)]")
    check(d.shape == [e], "\(at): D shape \(d.shape) must be [\(e)]")
    self.direction = direction
    self.tokens = tokens
    self.softplus = softplus
    geo = ScanGeometry(bs: bs, len: len, e: e, n: n)
    (dv, bv, cv) = (delta.data, b.data, c.data)
    aLanes = ScanLanes.pack(a.data, rows: e, columns: n)
    dLanes = ScanLanes.pack(d.data, rows: e, columns: 1)
  }

  /// Writes y at the route's tokens; returns the state at the start of each chunk,
  /// [B, chunks, channel blocks, N] lanes.
  func forward(u: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) -> [Float] {
    let geo = geo, bs = geo.bs, len = geo.len, e = geo.e, n = geo.n, tokens = tokens, softplus = softplus
    FLOPCounter.add(6 * bs * len * e * n)
    // Every chunk's start is written.
    return [Float](unsafeUninitializedCapacity: bs * geo.chunks * geo.blocks * n * ScanLanes.width) { pstart, written in
      let startLanes = UnsafeMutableRawPointer(pstart.baseAddress!).assumingMemoryBound(to: ScanLanes.Vector.self)
      // Channels are independent in the forward: parallel over (batch, channel block).
      Threading.parallelFor(bs * geo.blocks, grain: 1) { range in
        let h = UnsafeMutablePointer<ScanLanes.Vector>.allocate(capacity: n)
        defer { h.deallocate() }
        withInputs { route, delta, b, c, A, D in
          for job in range {
            let bi = job / geo.blocks, blk = job % geo.blocks, ch0 = blk * ScanLanes.width, w = min(ScanLanes.width, e - ch0)
            h.update(repeating: .zero, count: n)
            for t in 0..<len {
              let row = bi * tokens + route.tokens[t], step = bi * len + route.steps[t]
              if t % scanChunk == 0 { (startLanes + geo.start(bi, t / scanChunk, blk)).update(from: h, count: n) }
              let ut = ScanLanes.load(u + row * e + ch0, w)
              let dt = ScanLanes.delta(delta + step * e + ch0, w, softplus: softplus).value
              ScanStep.advance(h, from: h, decay: nil, n: n, dt: dt, ut: ut, a: A + blk * n, b: b + step * n)
              let C = c + step * n
              var yt = ScanLanes.Vector.zero
              for k in 0..<n { yt += h[k] * C[k] }
              ScanLanes.store(yt + D[blk] * ut, to: y + row * e + ch0, w)
            }
          }
        }
      }
      written = pstart.count
    }
  }

  /// Writes ∂u at the route's tokens and adds the direction's own gradients to its tensors.
  func backward(u: UnsafePointer<Float>, gy: UnsafePointer<Float>, gu: UnsafeMutablePointer<Float>, starts: [Float]) {
    let geo = geo, bs = geo.bs, len = geo.len, e = geo.e, n = geo.n, tokens = tokens, softplus = softplus
    FLOPCounter.add(16 * bs * len * e * n)
    // Written whole: every step's Δ row in every channel block, every B and C row by the fold.
    var gdelta = [Float](unsafeUninitializedCapacity: dv.count) { $1 = dv.count }
    var gb = [Float](unsafeUninitializedCapacity: bv.count) { $1 = bv.count }, gc = gb
    // Per-batch partials of the parameters shared across the batch, in lanes: A [B, blocks, N], D [B, blocks].
    var gaParts = [Float](repeating: 0, count: bs * geo.blocks * n * ScanLanes.width)
    var gdParts = [Float](repeating: 0, count: bs * geo.blocks * ScanLanes.width)
    gdelta.withUnsafeMutableBufferPointer { pgd in gb.withUnsafeMutableBufferPointer { pgb in gc.withUnsafeMutableBufferPointer { pgc in
    gaParts.withUnsafeMutableBufferPointer { pga in gdParts.withUnsafeMutableBufferPointer { pgD in starts.withUnsafeBufferPointer { pstart in
      let gdeltaOut = pgd.baseAddress!, gbOut = pgb.baseAddress!, gcOut = pgc.baseAddress!
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
        withInputs { route, delta, b, c, A, D in
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
                  let row = bi * tokens + route.tokens[t], step = bi * len + route.steps[t], slot = (t - t0) * n
                  dtBuf[t - t0] = ScanLanes.delta(delta + step * e + ch0, w, softplus: softplus)
                  ScanStep.advance(hBuf + slot, from: t > t0 ? UnsafePointer(hBuf + slot - n) : start, decay: decayBuf + slot, n: n,
                                   dt: dtBuf[t - t0].value, ut: ScanLanes.load(u + row * e + ch0, w), a: Ab, b: b + step * n)
                }
                let GH = gh + blk * n, GA = gaLanes + (bi * geo.blocks + blk) * n
                var gD = gdLanes[bi * geo.blocks + blk]
                for t in stride(from: t1 - 1, through: t0, by: -1) {
                  let row = bi * tokens + route.tokens[t], step = bi * len + route.steps[t], slot = (t - t0) * n
                  let B = b + step * n, C = c + step * n
                  let (dt, dtSlope) = dtBuf[t - t0]
                  let ut = ScanLanes.load(u + row * e + ch0, w)
                  let g = ScanLanes.load(gy + row * e + ch0, w)
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
                  ScanLanes.store(softplus ? gDelta * dtSlope : gDelta, to: gdeltaOut + step * e + ch0, w)
                  ScanLanes.store(g * D[blk] + gU, to: gu + row * e + ch0, w)
                }
                gdLanes[bi * geo.blocks + blk] = gD
              }
              // B and C are shared by the channels: their gradients are the lane sums.
              for t in t0..<t1 {
                let step = bi * len + route.steps[t], slot = (t - t0) * n
                for k in 0..<n {
                  gbOut[step * n + k] = ScanLanes.fold(gbLanes[slot + k])
                  gcOut[step * n + k] = ScanLanes.fold(gcLanes[slot + k])
                }
              }
            }
          }
        }
      }
    } } }
    } } }
    let (delta, a, b, c, d) = (direction.delta, direction.a, direction.b, direction.c, direction.d)
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

  /// The route's tokens and steps, Δ, B, C, and A's and D's lanes, as plain pointers.
  private func withInputs(_ body: ((tokens: UnsafePointer<Int>, steps: UnsafePointer<Int>), UnsafePointer<Float>, UnsafePointer<Float>,
                                   UnsafePointer<Float>, UnsafePointer<ScanLanes.Vector>, UnsafePointer<ScanLanes.Vector>) -> Void) {
    direction.route.tokens.withUnsafeBufferPointer { pt in direction.route.steps.withUnsafeBufferPointer { ps in
    dv.withUnsafeBufferPointer { pd in bv.withUnsafeBufferPointer { pb in cv.withUnsafeBufferPointer { pc in
    aLanes.withUnsafeBufferPointer { pA in dLanes.withUnsafeBufferPointer { pD in
      body((pt.baseAddress!, ps.baseAddress!), pd.baseAddress!, pb.baseAddress!, pc.baseAddress!, pA.baseAddress!, pD.baseAddress!)
    } } } } } } }
  }
}
