// MARK: layer norm over the last axis (fused forward and backward)

extension Tensor {
  /// x [..., C] normalised per row, then scaled by `weight` [C] and shifted by `bias` [C].
  /// Row sums run in lanes (`laneSum`); the backward recomputes ĥ from x and the saved mean and
  /// 1/σ per row instead of keeping a second tensor of x's size.
  public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    check(x.rank >= 1, "layerNorm: needs at least one dimension, got shape \(x.shape)")
    let c = x.shape.last!
    if let weight { check(weight.shape == [c], "layerNorm: weight shape \(weight.shape), input shape \(x.shape)") }
    if let bias { check(bias.shape == [c], "layerNorm: bias shape \(bias.shape), input shape \(x.shape)") }
    let xv = x.data
    let (y, mean, rstd) = layerNormRows(xv, c: c, weight: weight, bias: bias, eps: eps)
    let parents = [x] + [weight, bias].compactMap { $0 }
    return record(Tensor(shape: x.shape, data: y), op: "layer_norm", parents) { g in
      let gx = layerNormBackward(g, xv: xv, c: c, mean: mean, rstd: rstd, weight: weight, bias: bias, needX: x.requiresGrad)
      if x.requiresGrad { x.accumulateGrad(gx) }
    }
  }

  /// The forward of every row of `xv` [rows, c]: (y, mean, 1/σ per row).
  static func layerNormRows(_ xv: [Float], c: Int, weight: Tensor?, bias: Tensor?, eps: Float) -> (y: [Float], mean: [Float], rstd: [Float]) {
    let rows = xv.count / max(c, 1)
    let w = weight?.data ?? [Float](repeating: 1, count: c), b = bias?.data ?? [Float](repeating: 0, count: c)
    var y = [Float](repeating: 0, count: xv.count)
    var mean = [Float](repeating: 0, count: rows), rstd = mean
    xv.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        mean.withUnsafeMutableBufferPointer { pm in
          rstd.withUnsafeMutableBufferPointer { pr in
            Threading.parallelFor(rows, grain: 32) { range in
              for i in range {
                let row = px.baseAddress! + i * c, out = py.baseAddress! + i * c
                let mu = laneSum(row, c) / Float(c)
                for j in 0..<c { out[j] = row[j] - mu }  // centred, then scaled in place
                let r = 1 / (laneDot(out, out, c) / Float(c) + eps).squareRoot()
                for j in 0..<c { out[j] = out[j] * r * w[j] + b[j] }
                pm[i] = mu
                pr[i] = r
              }
            }
          }
        }
      }
    }
    return (y, mean, rstd)
  }

  /// The backward for an output gradient `g`: accumulates weight's and bias's gradients and
  /// returns the input's (empty unless `needX`).
  static func layerNormBackward(_ g: [Float], xv: [Float], c: Int, mean: [Float], rstd: [Float], weight: Tensor?, bias: Tensor?,
                                needX: Bool) -> [Float] {
    let rows = xv.count / max(c, 1)
    let w = weight?.data ?? [Float](repeating: 1, count: c)
    let needW = weight?.requiresGrad ?? false, needB = bias?.requiresGrad ?? false
    var gw = [Float](repeating: 0, count: needW ? c : 0), gb = [Float](repeating: 0, count: needB ? c : 0)
    var gx = [Float](repeating: 0, count: needX ? xv.count : 0)
    xv.withUnsafeBufferPointer { px in
      g.withUnsafeBufferPointer { pg in
        gx.withUnsafeMutableBufferPointer { pgx in
          // dx = r/C · (C·dĥ − Σdĥ − ĥ·Σ(dĥ⊙ĥ)), dĥ = g ⊙ w; rows in parallel, scratch per chunk.
          if needX {
            Threading.parallelFor(rows, grain: 32) { range in
              var scratch = [Float](repeating: 0, count: 2 * c)
              scratch.withUnsafeMutableBufferPointer { s in
                let xhat = s.baseAddress!, dh = xhat + c
                for i in range {
                  let row = px.baseAddress! + i * c, gi = pg.baseAddress! + i * c, mu = mean[i], r = rstd[i]
                  for j in 0..<c {
                    xhat[j] = (row[j] - mu) * r
                    dh[j] = gi[j] * w[j]
                  }
                  let sd = laneSum(dh, c), sdh = laneDot(dh, xhat, c)
                  let scale = r / Float(c), out = pgx.baseAddress! + i * c
                  for j in 0..<c { out[j] = scale * (Float(c) * dh[j] - sd - xhat[j] * sdh) }
                }
              }
            }
          }
          // Parameter gradients: rows in order, vectorised over the channels.
          if needW || needB {
            for i in 0..<rows {
              let row = px.baseAddress! + i * c, gi = pg.baseAddress! + i * c, mu = mean[i], r = rstd[i]
              if needW { for j in 0..<c { gw[j] += gi[j] * ((row[j] - mu) * r) } }
              if needB { for j in 0..<c { gb[j] += gi[j] } }
            }
          }
        }
      }
    }
    if needW { weight!.accumulateGrad(gw) }
    if needB { bias!.accumulateGrad(gb) }
    return gx
  }

  /// layerNorm(x + dropout(y, p)): a post-norm transformer's residual join (five per MRN layer
  /// pair) in one op. The sum is formed in one pass with the dropout mask, normalised by the
  /// same row kernel as `layerNorm`, and neither the dropout output nor a separate sum tensor
  /// is recorded; the backward hands the sum's gradient to x and, masked, to y.
  ///
  ///     s = x + y·m,   out = LN(s),   ∂x = ∂s,   ∂y = ∂s·m
  ///
  /// Bit-identical to `layerNorm(x + y.dropout(p, rng:), …)` with the same `rng` (FusedKernelTests).
  public static func residualDropoutLayerNorm<R: RandomSource>(_ x: Tensor, _ y: Tensor, dropout p: Float, rng: inout R,
                                                               weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    check(p >= 0 && p < 1, "residualDropoutLayerNorm: probability must be in [0, 1), got \(p)")
    check(x.shape == y.shape && x.rank >= 1, "residualDropoutLayerNorm: residual \(x.shape) and branch \(y.shape) differ")
    let c = x.shape.last!, n = x.count
    if let weight { check(weight.shape == [c], "residualDropoutLayerNorm: weight shape \(weight.shape), input shape \(x.shape)") }
    if let bias { check(bias.shape == [c], "residualDropoutLayerNorm: bias shape \(bias.shape), input shape \(x.shape)") }
    let draws = rng.uniformDraws(p > 0 ? n : 0)
    let sum = [Float](unsafeUninitializedCapacity: n) { out, written in
      x.data.withUnsafeBufferPointer { px in
        y.data.withUnsafeBufferPointer { py in
          forEachDropoutTile(n, draws: draws, p: p) { tile, f in
            let s = out.baseAddress! + tile.lowerBound, a = px.baseAddress! + tile.lowerBound
            let b = py.baseAddress! + tile.lowerBound
            if let f { for k in 0..<tile.count { s[k] = a[k] + b[k] * f[k] } } else { for k in 0..<tile.count { s[k] = a[k] + b[k] } }
          }
        }
      }
      written = n
    }
    let (out, mean, rstd) = layerNormRows(sum, c: c, weight: weight, bias: bias, eps: eps)
    let parents = [x, y] + [weight, bias].compactMap { $0 }
    return record(Tensor(shape: x.shape, data: out), op: "residual_dropout_layer_norm", parents) { g in
      let needS = x.requiresGrad || y.requiresGrad
      let gs = layerNormBackward(g, xv: sum, c: c, mean: mean, rstd: rstd, weight: weight, bias: bias, needX: needS)
      guard needS else { return }
      if x.requiresGrad { x.accumulateGrad(gs) }
      if y.requiresGrad {
        y.accumulateGrad { gy in
          gs.withUnsafeBufferPointer { pg in
            forEachDropoutTile(n, draws: draws, p: p) { tile, f in
              addMasked(pg.baseAddress! + tile.lowerBound, f, to: gy.baseAddress! + tile.lowerBound, tile.count)
            }
          }
        }
      }
    }
  }
}
