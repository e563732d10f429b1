import Foundation

// MARK: multi-head scaled dot-product attention (fused forward and backward)

extension Tensor {
  /// softmax(Q·Kᵀ/√d)·V per head, with the heads interleaved in the last dimension:
  /// q [B, Tq, H·d], k [B, Tk, H·d], v [B, Tk, H·dv] → [B, Tq, H·dv].
  /// Heads are read in place through GEMM leading dimensions (no split/merge copies); the
  /// backward recomputes the probabilities block by block from each row's saved max and 1/Σ.
  /// Dropout on the probabilities uses `rng`.
  public static func attention<R: RandomSource>(q: Tensor, k: Tensor, v: Tensor, heads: Int, dropout p: Float = 0, rng: inout R) -> Tensor {
    check(q.rank == 3 && k.rank == 3 && v.rank == 3,
                 "attention: q, k, v must be [B, T, H·d], got \(q.shape), \(k.shape), \(v.shape)")
    let b = q.shape[0], tq = q.shape[1], tk = k.shape[1], hd = q.shape[2], hdv = v.shape[2]
    check(k.shape[0] == b && v.shape[0] == b && v.shape[1] == tk && k.shape[2] == hd,
                 "attention: q \(q.shape), k \(k.shape), v \(v.shape) do not match")
    check(heads >= 1 && hd % heads == 0 && hdv % heads == 0,
                 "attention: \(heads) heads do not divide q width \(hd) and v width \(hdv)")
    check(p >= 0 && p < 1, "attention: dropout must be in [0, 1), got \(p)")
    let geo = AttentionGeometry(b: b, tq: tq, tk: tk, heads: heads, d: hd / heads, dv: hdv / heads)
    // The dropout mask is drawn from counters where it is used, here and again in the backward.
    let draws = rng.uniformDraws(p > 0 ? geo.pairs * tq * tk : 0)
    // Per query row [B·H, Tq]: the softmax's maximum and 1/Σ, so that the backward forms the
    // probabilities again in one pass (FlashAttention's saved statistics).
    var rowMax = [Float](repeating: 0, count: geo.pairs * tq), rowInv = rowMax
    var out = [Float](repeating: 0, count: b * tq * hdv)
    let qv = q.data, kv = k.data, vv = v.data
    withBaseAddresses(qv, kv, vv) { Q, K, V in
      out.withUnsafeMutableBufferPointer { po in
        rowMax.withUnsafeMutableBufferPointer { pm in
          rowInv.withUnsafeMutableBufferPointer { pinv in
            // (batch, head) pairs are independent: in parallel, each with its own scratch. Query
            // rows go in blocks whose scores stay in cache from the GEMM through the softmax to
            // the product with V; they are never stored (the backward computes them again).
            Threading.parallelFor(geo.pairs) { range in
              let scratch = AttentionScratch(geo, dropout: p > 0)
              for pair in range {
                for r0 in stride(from: 0, to: tq, by: geo.block) {
                  let rows = min(geo.block, tq - r0), at = pair * tq + r0
                  // Unnormalised e^(s − max): the rows' 1/Σ scales the product with V instead
                  // (dv columns rather than tk).
                  let exps = geo.exponentials(pair, r0, rows, q: Q, k: K, into: scratch.probs,
                                              max: pm.baseAddress! + at, inverseSum: pinv.baseAddress! + at)
                  let used = scratch.dropped(exps, rows * tk, at: geo.scoreOffset(pair, r0), p: p, draws: draws)
                  let o = geo.head(po.baseAddress!, pair, tq, geo.dv) + r0 * hdv
                  sgemm(m: rows, n: geo.dv, k: tk, a: used, lda: tk, b: geo.head(V, pair, tk, geo.dv), ldb: hdv,
                        c: o, ldc: hdv)
                  for i in 0..<rows {
                    let inv = pinv[at + i], row = o + i * hdv
                    for j in 0..<geo.dv { row[j] *= inv }
                  }
                }
              }
              scratch.deallocate()
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
        if let dq { q.accumulateGrad(dq) }
        if let dk { k.accumulateGrad(dk) }
        if let dvv { v.accumulateGrad(dvv) }
      }
      let d = geo.d, dv = geo.dv
      g.withUnsafeBufferPointer { pg in
        withBaseAddresses(qv, kv, vv) { Q, K, V in
          out.withUnsafeBufferPointer { po in
            rowMax.withUnsafeBufferPointer { pm in
              rowInv.withUnsafeBufferPointer { pinv in
                dq.withUnsafeMutableBufferPointerIfPresent { gq in
                  dk.withUnsafeMutableBufferPointerIfPresent { gk in
                    dvv.withUnsafeMutableBufferPointerIfPresent { gv in
                      // Pairs write disjoint slices of dq, dk, dv: in parallel, scratch per chunk.
                      Threading.parallelFor(geo.pairs) { range in
                        let scratch = AttentionScratch(geo, dropout: p > 0)
                        let dP = scratch.gradient
                        for pair in range {
                          let qh = geo.head(Q, pair, tq, d), kh = geo.head(K, pair, tk, d)
                          let vh = geo.head(V, pair, tk, dv)
                          for r0 in stride(from: 0, to: tq, by: geo.block) {
                            let rows = min(geo.block, tq - r0), at = pair * tq + r0
                            let go = geo.head(pg.baseAddress!, pair, tq, dv) + r0 * hdv
                            let o = geo.head(po.baseAddress!, pair, tq, dv) + r0 * hdv
                            let P = geo.probabilities(pair, r0, rows, q: Q, k: K, into: scratch.probs,
                                                      max: pm.baseAddress! + at, inverseSum: pinv.baseAddress! + at)
                            let used = scratch.dropped(P, rows * tk, at: geo.scoreOffset(pair, r0), p: p, draws: draws)
                            if let gv {
                              sgemm(transA: true, m: tk, n: dv, k: rows, a: used, lda: tk, b: go, ldb: hdv, beta: 1,
                                    c: geo.head(gv.baseAddress!, pair, tk, dv), ldc: hdv)
                            }
                            guard gq != nil || gk != nil else { continue }
                            // dP = dO·Vᵀ through the dropout mask, then the softmax backward
                            // dS = P ⊙ (dP − ⟨dP, P⟩) with ⟨dP, P⟩ = ⟨dO, O⟩ per row (dv long, not tk).
                            sgemm(transB: true, m: rows, n: tk, k: dv, a: go, lda: hdv, b: vh, ldb: hdv, c: dP, ldc: tk)
                            for i in 0..<rows {
                              let row = dP + i * tk, prob = P + i * tk
                              let dot = laneDot(go + i * hdv, o + i * hdv, dv)
                              if let f = scratch.factors {
                                let fr = f + i * tk
                                for j in 0..<tk { row[j] = prob[j] * (row[j] * fr[j] - dot) }
                              } else {
                                for j in 0..<tk { row[j] = prob[j] * (row[j] - dot) }
                              }
                            }
                            if let gq {
                              sgemm(m: rows, n: d, k: tk, alpha: geo.scale, a: dP, lda: tk, b: kh, ldb: hd, beta: 1,
                                    c: geo.head(gq.baseAddress!, pair, tq, d) + r0 * hd, ldc: hd)
                            }
                            if let gk {
                              sgemm(transA: true, m: tk, n: d, k: rows, alpha: geo.scale, a: dP, lda: tk,
                                    b: qh + r0 * hd, ldb: hd, beta: 1, c: geo.head(gk.baseAddress!, pair, tk, d), ldc: hd)
                            }
                          }
                        }
                        scratch.deallocate()
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

  /// The same computation composed from plain ops: the reference the fused kernel is tested
  /// against. `dropoutMask` [B·H, Tq, Tk] multiplies the probabilities.
  public static func attentionReference(q: Tensor, k: Tensor, v: Tensor, heads: Int, dropoutMask: Tensor? = nil) -> Tensor {
    let b = q.shape[0], tq = q.shape[1], tk = k.shape[1]
    let d = q.shape[2] / heads, dv = v.shape[2] / heads
    func split(_ t: Tensor, _ n: Int, _ w: Int) -> Tensor {
      t.reshaped([b, n, heads, w]).permuted([0, 2, 1, 3]).reshaped([b * heads, n, w])
    }
    let s = matmul(split(q, tq, d), split(k, tk, d), transposeB: true) * (1 / Float(d).squareRoot())
    let probs = dropoutMask.map { s.softmax() * $0 } ?? s.softmax()
    let o = matmul(probs, split(v, tk, dv))
    return o.reshaped([b, heads, tq, dv]).permuted([0, 2, 1, 3]).reshaped([b, tq, heads * dv])
  }
}

/// Sizes of one attention call, and where a (batch, head) pair's data lie in the interleaved
/// [B, T, H·w] layout.
struct AttentionGeometry {
  let b, tq, tk, heads, d, dv: Int
  let pairs: Int, scale: Float
  /// Query rows per block: about 64 K scores (256 KB), whatever the key length.
  let block: Int

  init(b: Int, tq: Int, tk: Int, heads: Int, d: Int, dv: Int) {
    (self.b, self.tq, self.tk, self.heads, self.d, self.dv) = (b, tq, tk, heads, d, dv)
    pairs = b * heads
    scale = 1 / Float(d).squareRoot()
    block = max(1, min(tq, 65_536 / max(tk, 1)))
  }

  /// Head `pair % heads` of sample `pair / heads` in a [B, t, H·w] tensor.
  func head<P: _Pointer>(_ base: P, _ pair: Int, _ t: Int, _ w: Int) -> P {
    let sample = pair / heads, h = pair % heads
    let offset: Int = (sample * t * heads + h) * w
    return base.advanced(by: offset)
  }

  /// Index of score (pair, row r0, key 0) in the batch-major [B, H, Tq, Tk] order of the dropout draws.
  func scoreOffset(_ pair: Int, _ r0: Int) -> Int { (pair * tq + r0) * tk }

  /// e^(s − max) with s = Q·Kᵀ/√d, for query rows r0..<r0+rows of one pair, into `s` (rows × tk);
  /// each row's maximum and 1/Σ into `max` and `inverseSum`.
  func exponentials(_ pair: Int, _ r0: Int, _ rows: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                    into s: UnsafeMutablePointer<Float>, max: UnsafeMutablePointer<Float>,
                    inverseSum: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
    scores(pair, r0, rows, q: q, k: k, into: s, countsFLOPs: true)
    for i in 0..<rows {
      let row = s + i * tk
      max[i] = laneMax(row, tk)
      inverseSum[i] = 1 / laneExpSum(row, minus: max[i], into: row, tk)
    }
    return s
  }

  /// softmax(Q·Kᵀ/√d) for the same rows, from the statistics `exponentials` saved: one pass.
  func probabilities(_ pair: Int, _ r0: Int, _ rows: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                     into s: UnsafeMutablePointer<Float>, max: UnsafePointer<Float>,
                     inverseSum: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
    scores(pair, r0, rows, q: q, k: k, into: s, countsFLOPs: false)
    for i in 0..<rows {
      let row = s + i * tk, m = max[i], inv = inverseSum[i]
      for j in 0..<tk { row[j] = fastExp(row[j] - m) * inv }
    }
    return s
  }

  /// Q·Kᵀ/√d for the rows: the forward and the backward compute the same bits.
  private func scores(_ pair: Int, _ r0: Int, _ rows: Int, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                      into s: UnsafeMutablePointer<Float>, countsFLOPs: Bool) {
    sgemm(transB: true, m: rows, n: tk, k: d, alpha: scale, a: head(q, pair, tq, d) + r0 * heads * d, lda: heads * d,
          b: head(k, pair, tk, d), ldb: heads * d, c: s, ldc: tk, countsFLOPs: countsFLOPs)
  }
}

/// One thread's blocks of scores: probabilities, their dropped-out copy, the dropout factors
/// (kept so the backward draws each mask element once), and the gradient.
struct AttentionScratch {
  let probs, gradient: UnsafeMutablePointer<Float>
  let droppedProbs, factors: UnsafeMutablePointer<Float>?

  init(_ geo: AttentionGeometry, dropout: Bool) {
    let n = geo.block * geo.tk
    probs = .allocate(capacity: n)
    gradient = .allocate(capacity: n)
    droppedProbs = dropout ? .allocate(capacity: n) : nil
    factors = dropout ? .allocate(capacity: n) : nil
  }

  /// `probs` with the dropout mask applied (a copy, its factors in `factors`), or `probs` itself
  /// without dropout.
  func dropped(_ probs: UnsafeMutablePointer<Float>, _ n: Int, at offset: Int, p: Float, draws: UniformDraws) -> UnsafePointer<Float> {
    guard let out = droppedProbs, let f = factors, p > 0 else { return UnsafePointer(probs) }
    draws.dropoutFactors(in: offset..<(offset + n), p: p, into: f)
    for i in 0..<n { out[i] = probs[i] * f[i] }
    return UnsafePointer(out)
  }

  func deallocate() {
    probs.deallocate()
    gradient.deallocate()
    droppedProbs?.deallocate()
    factors?.deallocate()
  }
}

/// The base addresses of q's, k's and v's values, for the forward and the backward.
@inline(__always)
private func withBaseAddresses<R>(_ q: [Float], _ k: [Float], _ v: [Float],
                                  _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
  q.withUnsafeBufferPointer { pq in
    k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in body(pq.baseAddress!, pk.baseAddress!, pv.baseAddress!) } }
  }
}
