// MARK: a linear layer with its activation (and dropout) as the GEMM's epilogue

extension Tensor {
  /// dropout(relu(x·Wᵀ + b), p): the first half of every FFN (MRN encoder and decoder layers,
  /// IBFM's bottleneck). See `linearActivation`.
  public static func linearReluDropout<R: RandomSource>(_ x: Tensor, weight: Tensor, bias: Tensor?, dropout p: Float,
                                                        rng: inout R) -> Tensor {
    check(p >= 0 && p < 1, "linearReluDropout: probability must be in [0, 1), got \(p)")
    return linearActivation(x, weight: weight, bias: bias, ReLU(), op: "linear_relu_dropout", dropout: p) {
      rng.uniformDraws(p > 0 ? $0 : 0)
    }
  }

  /// silu(x·Wᵀ + b): ESSM's gate branch z. See `linearActivation`.
  public static func linearSiLU(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    linearActivation(x, weight: weight, bias: bias, SiLU(), op: "linear_silu", dropout: 0) { _ in UniformDraws(starts: [], chunk: 1) }
  }

  /// dropout(f(x·Wᵀ + b), p) as one op. The bias is the GEMM's C (beta = 1) and f and the dropout
  /// mask are applied in one pass over its output, so the activation and the dropout output are
  /// never tensors of their own; the backward makes one pass for both (the mask is drawn again
  /// from the same counters, as `dropout` does) before the two GEMMs.
  ///
  ///     pre = x·Wᵀ + b,   y = f(pre)·m,   m = 1/(1−p) where u ≥ p else 0
  ///     ∂pre = ∂y·m·f′(pre)
  ///
  /// The same float operations in the same order as `linear`, the activation's `map` and `dropout`
  /// composed, with the same draws (`draws(n)` for the n outputs): bit-identical to them
  /// (FusedKernelTests).
  static func linearActivation<F: PointwiseFunction>(_ x: Tensor, weight: Tensor, bias: Tensor?, _ f: F, op: String, dropout p: Float,
                                                     draws: (Int) -> UniformDraws) -> Tensor {
    let (pre, rows, inF, outF) = affine(x, weight: weight, bias: bias, op: op)
    let n = rows * outF
    let draws = draws(n)
    let y = [Float](unsafeUninitializedCapacity: n) { out, written in
      pre.withUnsafeBufferPointer { pp in
        forEachDropoutTile(n, draws: draws, p: p) { tile, m in
          let y = out.baseAddress! + tile.lowerBound, x = pp.baseAddress! + tile.lowerBound
          if let m { for k in 0..<tile.count { y[k] = f.value(x[k]) * m[k] } } else { for k in 0..<tile.count { y[k] = f.value(x[k]) } }
        }
      }
      written = n
    }
    let xv = x.data, wv = weight.data
    let parents = [x, weight] + (bias.map { [$0] } ?? [])
    return record(Tensor(shape: Array(x.shape.dropLast()) + [outF], data: y), op: op, parents) { g in
      let gpre = [Float](unsafeUninitializedCapacity: n) { out, written in
        g.withUnsafeBufferPointer { pg in
          pre.withUnsafeBufferPointer { pp in
            forEachDropoutTile(n, draws: draws, p: p) { tile, m in
              let d = out.baseAddress! + tile.lowerBound, g = pg.baseAddress! + tile.lowerBound, x = pp.baseAddress! + tile.lowerBound
              if let m {
                for k in 0..<tile.count { d[k] = g[k] * m[k] * f.derivative(x[k], f.value(x[k])) }
              } else {
                for k in 0..<tile.count { d[k] = g[k] * f.derivative(x[k], f.value(x[k])) }
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
