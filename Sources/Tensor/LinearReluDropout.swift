// MARK: fused FFN input half: linear → ReLU → dropout in one op

extension Tensor {
  /// dropout(relu(x·Wᵀ + b), p): the first half of every FFN (MRN encoder and decoder layers,
  /// IBFM's bottleneck). The bias is the GEMM's C (beta = 1) and ReLU and the dropout mask are
  /// applied in one pass over its output, so the activation and the dropout output are never
  /// materialised as tensors of their own; the backward makes one pass for both (the mask is
  /// drawn again from the same counters, as `dropout` does) before the two GEMMs.
  ///
  ///     pre = x·Wᵀ + b,   y = max(pre, 0)·m,   m = 1/(1−p) where u ≥ p else 0
  ///     ∂pre = ∂y·m·[pre > 0]
  ///
  /// The same float operations in the same order as `linear`, `relu`, `dropout` composed, with
  /// the same draws from `rng`: bit-identical to them (FusedKernelTests).
  public static func linearReluDropout<R: RandomSource>(_ x: Tensor, weight: Tensor, bias: Tensor?, dropout p: Float,
                                                        rng: inout R) -> Tensor {
    check(p >= 0 && p < 1, "linearReluDropout: probability must be in [0, 1), got \(p)")
    let (pre, rows, inF, outF) = affine(x, weight: weight, bias: bias, op: "linearReluDropout")
    let n = rows * outF
    let draws = rng.uniformDraws(p > 0 ? n : 0)
    let y = [Float](unsafeUninitializedCapacity: n) { out, written in
      pre.withUnsafeBufferPointer { pp in
        forEachDropoutTile(n, draws: draws, p: p) { tile, f in
          let y = out.baseAddress! + tile.lowerBound, x = pp.baseAddress! + tile.lowerBound
          if let f { for k in 0..<tile.count { y[k] = max(x[k], 0) * f[k] } } else { for k in 0..<tile.count { y[k] = max(x[k], 0) } }
        }
      }
      written = n
    }
    let xv = x.data, wv = weight.data
    let parents = [x, weight] + (bias.map { [$0] } ?? [])
    return record(Tensor(shape: Array(x.shape.dropLast()) + [outF], data: y), op: "linear_relu_dropout", parents) { g in
      let gpre = [Float](unsafeUninitializedCapacity: n) { out, written in
        g.withUnsafeBufferPointer { pg in
          pre.withUnsafeBufferPointer { pp in
            forEachDropoutTile(n, draws: draws, p: p) { tile, f in
              let d = out.baseAddress! + tile.lowerBound, g = pg.baseAddress! + tile.lowerBound, x = pp.baseAddress! + tile.lowerBound
              if let f {
                for k in 0..<tile.count { d[k] = g[k] * f[k] * (x[k] > 0 ? 1 : 0) }
              } else {
                for k in 0..<tile.count { d[k] = g[k] * (x[k] > 0 ? 1 : 0) }
              }
            }
          }
        }
        written = n
      }
      linearBackward(gpre, x: x, xv: xv, weight: weight, wv: wv, bias: bias, rows: rows, inF: inF, outF: outF)
    }
  }
}
