import Foundation

// MARK: S6 selective scan (Mamba), fused forward and hand-written backward

extension Tensor {
  /// The selective state-space scan of Mamba's S6 layer, for every batch item and channel e:
  ///
  ///     h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·u_t·B_t     (h_t ∈ R^N per channel, h_{−1} = 0)
  ///     y_t = ⟨h_t, C_t⟩ + D·u_t
  ///
  /// u, delta [B, L, E]; A [E, N]; b, c [B, L, N] (shared by the channels); d [E] → y [B, L, E].
  /// The forward keeps every h_t ([B, L, E, N]) for the backward, which runs the recurrence in
  /// reverse; partial sums over the batch are combined in batch order, so results do not depend
  /// on the thread count.
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
    var y = [Float](repeating: 0, count: bs * len * e)
    var hs = [Float](repeating: 0, count: bs * len * e * n)
    y.withUnsafeMutableBufferPointer { py in
      hs.withUnsafeMutableBufferPointer { ph in
        // Channels are independent in the forward: parallel over (batch, channel block).
        let blocks = max(1, min(e, 8))
        Threading.parallelFor(bs * blocks, grain: 1) { range in
          var h = [Float](repeating: 0, count: n)
          uv.withUnsafeBufferPointer { pu in dv.withUnsafeBufferPointer { pd in av.withUnsafeBufferPointer { pa in
          bv.withUnsafeBufferPointer { pb in cv.withUnsafeBufferPointer { pc in h.withUnsafeMutableBufferPointer { ph0 in
            let hp = ph0.baseAddress!
            for job in range {
              let bi = job / blocks, blk = job % blocks
              for ch in (e * blk / blocks)..<(e * (blk + 1) / blocks) {
                for k in 0..<n { hp[k] = 0 }
                let A = pa.baseAddress! + ch * n
                for t in 0..<len {
                  let row = bi * len + t
                  let dt = pd[row * e + ch], ut = pu[row * e + ch]
                  let du = dt * ut
                  let B = pb.baseAddress! + row * n, C = pc.baseAddress! + row * n
                  let saved = ph.baseAddress! + (row * e + ch) * n
                  // Over the state (vectorised), then the output's dot product in index order.
                  for k in 0..<n {
                    let hk = fastExp(dt * A[k]) * hp[k] + du * B[k]
                    hp[k] = hk
                    saved[k] = hk
                  }
                  var acc: Float = 0
                  for k in 0..<n { acc += saved[k] * C[k] }
                  py[row * e + ch] = acc + Dv[ch] * ut
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
                  hs.withUnsafeBufferPointer { ph in
                    Threading.parallelFor(bs, grain: 1) { range in
                      var gh = [Float](repeating: 0, count: e * n)
                      var tDelta = [Float](repeating: 0, count: n), tU = tDelta, zero = tDelta
                      uv.withUnsafeBufferPointer { pu in dv.withUnsafeBufferPointer { pd in av.withUnsafeBufferPointer { pa in
                      bv.withUnsafeBufferPointer { pb in cv.withUnsafeBufferPointer { pc in gy.withUnsafeBufferPointer { pgy in
                      gh.withUnsafeMutableBufferPointer { pgh in tDelta.withUnsafeMutableBufferPointer { ptd in tU.withUnsafeMutableBufferPointer { ptu in
                      zero.withUnsafeMutableBufferPointer { pz in
                      for bi in range {
                        for i in 0..<(e * n) { pgh[i] = 0 }
                        for t in stride(from: len - 1, through: 0, by: -1) {
                          let row = bi * len + t
                          let B = pb.baseAddress! + row * n, C = pc.baseAddress! + row * n
                          let GB = pgb.baseAddress! + row * n, GC = pgc.baseAddress! + row * n
                          for ch in 0..<e {
                            let dt = pd[row * e + ch], ut = pu[row * e + ch], g = pgy[row * e + ch]
                            pgD[bi * e + ch] += g * ut
                            let H = ph.baseAddress! + (row * e + ch) * n
                            let A = pa.baseAddress! + ch * n
                            let GH = pgh.baseAddress! + ch * n, GA = pga.baseAddress! + (bi * e + ch) * n
                            let TD = ptd.baseAddress!, TU = ptu.baseAddress!
                            // h_{t−1}: the saved state one step back, or 0 at t = 0.
                            let P = t > 0 ? UnsafePointer(H - e * n) : UnsafePointer(pz.baseAddress!)
                            // Over the state (vectorised); the sums over k follow in index order.
                            for k in 0..<n {
                              let gt = GH[k] + g * C[k]  // total ∂/∂h_t
                              let ak = A[k]
                              let dA = fastExp(dt * ak)
                              let gdA = gt * P[k] * dA
                              let bk = B[k]
                              TD[k] = gdA * ak + gt * ut * bk
                              TU[k] = gt * dt * bk
                              GA[k] += gdA * dt
                              GC[k] += g * H[k]
                              GB[k] += gt * dt * ut
                              GH[k] = gt * dA
                            }
                            var gDelta: Float = 0, gU = g * Dv[ch]
                            for k in 0..<n { gDelta += TD[k]; gU += TU[k] }
                            pgd[row * e + ch] += gDelta
                            pgu[row * e + ch] += gU
                          }
                        }
                      }
                      } } }
                      } } }
                      } } } }
                    }
                  }
                }
              }
            }
          }
        }
      }
      func add(_ t: Tensor, _ g: [Float]) { if t.requiresGrad { t.accumulateGrad { p in for i in 0..<p.count { p[i] += g[i] } } } }
      add(u, gu); add(delta, gdelta); add(b, gb); add(c, gc)
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
