import Foundation

// MARK: multi-head scaled dot-product attention (fused forward and backward)

extension Tensor {
  /// softmax(Q·Kᵀ/√d)·V per head, with the heads interleaved in the last dimension:
  /// q [B, Tq, H·d], k [B, Tk, H·d], v [B, Tk, H·dv] → [B, Tq, H·dv].
  /// Heads are read in place through GEMM leading dimensions (no split/merge copies); the
  /// backward reuses the saved attention probabilities. Dropout on the probabilities uses `rng`.
  public static func attention<R: RandomSource>(q: Tensor, k: Tensor, v: Tensor, heads: Int, dropout p: Float = 0, rng: inout R) -> Tensor {
    check(q.rank == 3 && k.rank == 3 && v.rank == 3,
                 "attention: q, k, v must be [B, T, H·d], got \(q.shape), \(k.shape), \(v.shape)")
    let b = q.shape[0], tq = q.shape[1], tk = k.shape[1], hd = q.shape[2], hdv = v.shape[2]
    check(k.shape[0] == b && v.shape[0] == b && v.shape[1] == tk && k.shape[2] == hd,
                 "attention: q \(q.shape), k \(k.shape), v \(v.shape) do not match")
    check(heads >= 1 && hd % heads == 0 && hdv % heads == 0,
                 "attention: \(heads) heads do not divide q width \(hd) and v width \(hdv)")
    check(p >= 0 && p < 1, "attention: dropout must be in [0, 1), got \(p)")
    let d = hd / heads, dv = hdv / heads, scale = 1 / Float(d).squareRoot()
    let pairs = b * heads, tt = tq * tk
    // Query rows per block: about 64 K scores (256 KB), whatever the key length.
    let block = max(1, min(tq, 65_536 / max(tk, 1)))
    var probs = [Float](repeating: 0, count: pairs * tt)
    // Dropout keeps the mask (0 or 1/(1−p)); without dropout nothing is stored.
    let mask: [Float] = p > 0 ? rng.uniforms(pairs * tt).map { $0 >= p ? 1 / (1 - p) : 0 } : []
    var out = [Float](repeating: 0, count: b * tq * hdv)
    let qv = q.data, kv = k.data, vv = v.data
    qv.withUnsafeBufferPointer { pq in
      kv.withUnsafeBufferPointer { pk in
        vv.withUnsafeBufferPointer { pv in
          probs.withUnsafeMutableBufferPointer { pp in
            out.withUnsafeMutableBufferPointer { po in
              // (batch, head) pairs are independent: in parallel, each with its own scratch.
              // Query rows go in blocks whose scores stay in cache from the GEMM through the
              // softmax to the product with V.
              Threading.parallelForBLAS(pairs) { range in
              var dropped = [Float](repeating: 0, count: p > 0 ? block * tk : 0)
              dropped.withUnsafeMutableBufferPointer { pdrop in
              for pair in range {
                let bi = pair / heads, h = pair % heads
                for r0 in stride(from: 0, to: tq, by: block) {
                  let rows = min(block, tq - r0)
                  let s = pp.baseAddress! + pair * tt + r0 * tk
                  sgemm(transB: true, m: rows, n: tk, k: d, alpha: scale,
                        a: pq.baseAddress! + (bi * tq + r0) * hd + h * d, lda: hd,
                        b: pk.baseAddress! + bi * tk * hd + h * d, ldb: hd, c: s, ldc: tk)
                  for i in 0..<rows { softmaxRow(s + i * tk, s + i * tk, tk) }
                  var a = UnsafePointer(s)
                  if p > 0 {
                    let m = pair * tt + r0 * tk
                    for i in 0..<(rows * tk) { pdrop[i] = s[i] * mask[m + i] }
                    a = UnsafePointer(pdrop.baseAddress!)
                  }
                  sgemm(m: rows, n: dv, k: tk, a: a, lda: tk,
                        b: pv.baseAddress! + bi * tk * hdv + h * dv, ldb: hdv,
                        c: po.baseAddress! + (bi * tq + r0) * hdv + h * dv, ldc: hdv)
                }
              }
              }
              }
            }
          }
        }
      }
    }
    return record(Tensor(shape: [b, tq, hdv], data: out), op: "attention", [q, k, v]) { g in
      // Separate buffers: q, k and v may be one tensor (self-attention on x), and each gets its share.
      var dq: [Float]? = q.requiresGrad ? [Float](repeating: 0, count: qv.count) : nil
      var dk: [Float]? = k.requiresGrad ? [Float](repeating: 0, count: kv.count) : nil
      var dvv: [Float]? = v.requiresGrad ? [Float](repeating: 0, count: vv.count) : nil
      defer {
        if let dq { q.accumulateGrad { g in for i in 0..<g.count { g[i] += dq[i] } } }
        if let dk { k.accumulateGrad { g in for i in 0..<g.count { g[i] += dk[i] } } }
        if let dvv { v.accumulateGrad { g in for i in 0..<g.count { g[i] += dvv[i] } } }
      }
      g.withUnsafeBufferPointer { pg in
        qv.withUnsafeBufferPointer { pq in
          kv.withUnsafeBufferPointer { pk in
            vv.withUnsafeBufferPointer { pv in
              dq.withUnsafeMutableBufferPointerIfPresent { gq in
                dk.withUnsafeMutableBufferPointerIfPresent { gk in
                  dvv.withUnsafeMutableBufferPointerIfPresent { gv in
                    probs.withUnsafeBufferPointer { pprobs in
                    // Pairs write disjoint slices of dq, dk, dv: in parallel, scratch per chunk.
                    Threading.parallelForBLAS(pairs) { range in
                    var dP = [Float](repeating: 0, count: block * tk)
                    var pd = [Float](repeating: 0, count: p > 0 ? block * tk : 0)
                    dP.withUnsafeMutableBufferPointer { pdp in
                    pd.withUnsafeMutableBufferPointer { ppd in
                      for pair in range {
                        let bi = pair / heads, h = pair % heads
                        let vh = pv.baseAddress! + bi * tk * hdv + h * dv
                        for r0 in stride(from: 0, to: tq, by: block) {
                          let rows = min(block, tq - r0)
                          let go = pg.baseAddress! + (bi * tq + r0) * hdv + h * dv
                          let P = pprobs.baseAddress! + pair * tt + r0 * tk
                          let m = pair * tt + r0 * tk
                          var used = P
                          if p > 0 {
                            for i in 0..<(rows * tk) { ppd[i] = P[i] * mask[m + i] }
                            used = UnsafePointer(ppd.baseAddress!)
                          }
                          if let gv {
                            sgemm(transA: true, m: tk, n: dv, k: rows, a: used, lda: tk, b: go, ldb: hdv, beta: 1,
                                  c: gv.baseAddress! + bi * tk * hdv + h * dv, ldc: hdv)
                          }
                          guard gq != nil || gk != nil else { continue }
                          // dP = dO·Vᵀ (through the dropout mask), then the softmax backward row by row.
                          sgemm(transB: true, m: rows, n: tk, k: dv, a: go, lda: hdv, b: vh, ldb: hdv, c: pdp.baseAddress!, ldc: tk)
                          if p > 0 { for i in 0..<(rows * tk) { pdp[i] *= mask[m + i] } }
                          for i in 0..<rows {
                            let row = pdp.baseAddress! + i * tk, prob = P + i * tk
                            var dot: Float = 0
                            for j in 0..<tk { dot += row[j] * prob[j] }
                            for j in 0..<tk { row[j] = prob[j] * (row[j] - dot) }
                          }
                          if let gq {
                            sgemm(m: rows, n: d, k: tk, alpha: scale, a: pdp.baseAddress!, lda: tk,
                                  b: pk.baseAddress! + bi * tk * hd + h * d, ldb: hd, beta: 1,
                                  c: gq.baseAddress! + (bi * tq + r0) * hd + h * d, ldc: hd)
                          }
                          if let gk {
                            sgemm(transA: true, m: tk, n: d, k: rows, alpha: scale, a: pdp.baseAddress!, lda: tk,
                                  b: pq.baseAddress! + (bi * tq + r0) * hd + h * d, ldb: hd, beta: 1,
                                  c: gk.baseAddress! + bi * tk * hd + h * d, ldc: hd)
                          }
                        }
                      }
                    }
                    }
                    }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }

  /// Attention without dropout.
  public static func attention(q: Tensor, k: Tensor, v: Tensor, heads: Int) -> Tensor {
    var rng = RNG(seed: 0)
    return attention(q: q, k: k, v: v, heads: heads, dropout: 0, rng: &rng)
  }

  /// The same computation composed from plain ops: the reference the fused kernel is tested against.
  public static func attentionReference(q: Tensor, k: Tensor, v: Tensor, heads: Int) -> Tensor {
    let b = q.shape[0], tq = q.shape[1], tk = k.shape[1]
    let d = q.shape[2] / heads, dv = v.shape[2] / heads
    func split(_ t: Tensor, _ n: Int, _ w: Int) -> Tensor {
      t.reshaped([b, n, heads, w]).permuted([0, 2, 1, 3]).reshaped([b * heads, n, w])
    }
    let s = matmul(split(q, tq, d), split(k, tk, d), transposeB: true) * (1 / Float(d).squareRoot())
    let o = matmul(s.softmax(), split(v, tk, dv))
    return o.reshaped([b, heads, tq, dv]).permuted([0, 2, 1, 3]).reshaped([b, tq, heads * dv])
  }
}
