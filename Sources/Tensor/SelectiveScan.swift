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
  public static func selectiveScan(u: Tensor, delta: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor {
    check(u.rank == 3 && delta.shape == u.shape, "selectiveScan: u \(u.shape) and delta \(delta.shape) must be one [B, L, E] shape")
    let bs = u.shape[0], len = u.shape[1], e = u.shape[2]
    check(a.rank == 2 && a.shape[0] == e, "selectiveScan: A shape \(a.shape) must be [\(e), N] for u \(u.shape)")
    let n = a.shape[1]
    check(b.shape == [bs, len, n] && c.shape == [bs, len, n],
          "selectiveScan: B \(b.shape) and C \(c.shape) must be [\(bs), \(len), \(n)]")
    check(d.shape == [e], "selectiveScan: D shape \(d.shape) must be [\(e)]")
    let uv = u.data, dv = delta.data, av = a.data, bv = b.data, cv = c.data, Dv = d.data
    FLOPCounter.add(6 * bs * len * e * n)
    let chunks = (len + scanChunk - 1) / scanChunk
    var y = [Float](repeating: 0, count: bs * len * e)
    // State at the start of each chunk: [B, chunks, E, N].
    var starts = [Float](repeating: 0, count: bs * chunks * e * n)
    y.withUnsafeMutableBufferPointer { py in
      starts.withUnsafeMutableBufferPointer { pstart in
        // Channels are independent in the forward: parallel over (batch, channel block).
        let blocks = max(1, min(e, 8))
        Threading.parallelFor(bs * blocks, grain: 1) { range in
          var h = [Float](repeating: 0, count: n)
          uv.withUnsafeBufferPointer { pu in dv.withUnsafeBufferPointer { pd in av.withUnsafeBufferPointer { pa in
          bv.withUnsafeBufferPointer { pb in cv.withUnsafeBufferPointer { pc in h.withUnsafeMutableBufferPointer { ph0 in
            let hp = ph0.baseAddress!
            let step = ScanStep(n: n, e: e)
            for job in range {
              let bi = job / blocks, blk = job % blocks
              for ch in (e * blk / blocks)..<(e * (blk + 1) / blocks) {
                for k in 0..<n { hp[k] = 0 }
                let A = pa.baseAddress! + ch * n
                for t in 0..<len {
                  let row = bi * len + t
                  if t % scanChunk == 0 {
                    (pstart.baseAddress! + ((bi * chunks + t / scanChunk) * e + ch) * n).update(from: hp, count: n)
                  }
                  let ut = pu[row * e + ch]
                  let C = pc.baseAddress! + row * n
                  step.advance(hp, from: hp, decay: nil, dt: pd[row * e + ch], ut: ut, a: A, b: pb.baseAddress! + row * n)
                  py[row * e + ch] = laneDot(hp, C, n) + Dv[ch] * ut
                }
              }
            }
          } } }
          } } }
        }
      }
    }
    return record(Tensor(shape: [bs, len, e], data: y), op: "selective_scan", [u, delta, a, b, c, d]) { gy in
      FLOPCounter.add(16 * bs * len * e * n)
      var gu = [Float](repeating: 0, count: uv.count), gdelta = gu
      var gb = [Float](repeating: 0, count: bv.count), gc = gb
      // Per-batch partials for the parameters shared across the batch.
      var gaParts = [Float](repeating: 0, count: bs * e * n), gdParts = [Float](repeating: 0, count: bs * e)
      gu.withUnsafeMutableBufferPointer { pgu in
        gdelta.withUnsafeMutableBufferPointer { pgd in
          gb.withUnsafeMutableBufferPointer { pgb in
            gc.withUnsafeMutableBufferPointer { pgc in
              gaParts.withUnsafeMutableBufferPointer { pga in
                gdParts.withUnsafeMutableBufferPointer { pgD in
                  starts.withUnsafeBufferPointer { pstart in
                    Threading.parallelFor(bs, grain: 1) { range in
                      let step = ScanStep(n: n, e: e)
                      // One chunk's states h_t and decays exp(Δ_t·A), [scanChunk, E, N] each.
                      let hBuf = UnsafeMutablePointer<Float>.allocate(capacity: scanChunk * e * n)
                      let decayBuf = UnsafeMutablePointer<Float>.allocate(capacity: scanChunk * e * n)
                      let gh = UnsafeMutablePointer<Float>.allocate(capacity: e * n)
                      let TD = UnsafeMutablePointer<Float>.allocate(capacity: n), TU = UnsafeMutablePointer<Float>.allocate(capacity: n)
                      defer { for p in [hBuf, decayBuf, gh, TD, TU] { p.deallocate() } }
                      uv.withUnsafeBufferPointer { pu in dv.withUnsafeBufferPointer { pd in av.withUnsafeBufferPointer { pa in
                      bv.withUnsafeBufferPointer { pb in cv.withUnsafeBufferPointer { pc in gy.withUnsafeBufferPointer { pgy in
                      for bi in range {
                        gh.update(repeating: 0, count: e * n)
                        for chunk in stride(from: chunks - 1, through: 0, by: -1) {
                          let t0 = chunk * scanChunk, t1 = min(len, t0 + scanChunk)
                          let start = pstart.baseAddress! + (bi * chunks + chunk) * e * n
                          // The chunk's states again, from its saved start.
                          for t in t0..<t1 {
                            let row = bi * len + t, slot = (t - t0) * e * n
                            for ch in 0..<e {
                              let prev = t > t0 ? UnsafePointer(hBuf + slot - e * n + ch * n) : start + ch * n
                              step.advance(hBuf + slot + ch * n, from: prev, decay: decayBuf + slot + ch * n,
                                           dt: pd[row * e + ch], ut: pu[row * e + ch], a: pa.baseAddress! + ch * n, b: pb.baseAddress! + row * n)
                            }
                          }
                          for t in stride(from: t1 - 1, through: t0, by: -1) {
                            let row = bi * len + t, slot = (t - t0) * e * n
                            let B = pb.baseAddress! + row * n, C = pc.baseAddress! + row * n
                            let GB = pgb.baseAddress! + row * n, GC = pgc.baseAddress! + row * n
                            for ch in 0..<e {
                              let dt = pd[row * e + ch], ut = pu[row * e + ch], g = pgy[row * e + ch]
                              pgD[bi * e + ch] += g * ut
                              let H = UnsafePointer(hBuf + slot + ch * n), decay = UnsafePointer(decayBuf + slot + ch * n)
                              let A = pa.baseAddress! + ch * n
                              let GH = gh + ch * n, GA = pga.baseAddress! + (bi * e + ch) * n
                              // h_{t−1}: one slot back, or the chunk's saved start.
                              let P = t > t0 ? H - e * n : start + ch * n
                              // Over the state (vectorised), then the sums over it in lanes.
                              for k in 0..<n {
                                let gt = GH[k] + g * C[k]  // total ∂/∂h_t
                                let ak = A[k]
                                let dA = decay[k]
                                let gdA = gt * P[k] * dA
                                let bk = B[k]
                                TD[k] = gdA * ak + gt * ut * bk
                                TU[k] = gt * dt * bk
                                GA[k] += gdA * dt
                                GC[k] += g * H[k]
                                GB[k] += gt * dt * ut
                                GH[k] = gt * dA
                              }
                              pgd[row * e + ch] += laneSum(TD, n)
                              pgu[row * e + ch] += g * Dv[ch] + laneSum(TU, n)
                            }
                          }
                        }
                      }
                      } } }
                      } } }
                    }
                  }
                }
              }
            }
          }
        }
      }
      if u.requiresGrad { u.accumulateGrad(gu) }
      if delta.requiresGrad { delta.accumulateGrad(gdelta) }
      if b.requiresGrad { b.accumulateGrad(gb) }
      if c.requiresGrad { c.accumulateGrad(gc) }
      if a.requiresGrad {
        a.accumulateGrad { p in for bi in 0..<bs { for i in 0..<(e * n) { p[i] += gaParts[bi * e * n + i] } } }
      }
      if d.requiresGrad {
        d.accumulateGrad { p in for bi in 0..<bs { for i in 0..<e { p[i] += gdParts[bi * e + i] } } }
      }
    }
  }

  /// The same recurrence written step by step with plain ops: the reference the fused kernel
  /// is tested against (slow; tests only).
  public static func selectiveScanReference(u: Tensor, delta: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor {
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

/// One step of the S6 recurrence for one channel, h = exp(Δ·A) ⊙ h_prev + Δ·u·B: the forward
/// and the backward's recomputation share this code, so they produce the same bits.
struct ScanStep {
  let n, e: Int

  @inline(__always)
  func advance(_ h: UnsafeMutablePointer<Float>, from prev: UnsafePointer<Float>, decay: UnsafeMutablePointer<Float>?,
               dt: Float, ut: Float, a: UnsafePointer<Float>, b: UnsafePointer<Float>) {
    let du = dt * ut
    if let decay {
      for k in 0..<n {
        let dA = fastExp(dt * a[k])
        decay[k] = dA
        h[k] = dA * prev[k] + du * b[k]
      }
    } else {
      for k in 0..<n { h[k] = fastExp(dt * a[k]) * prev[k] + du * b[k] }
    }
  }
}
