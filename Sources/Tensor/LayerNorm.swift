// MARK: layer norm over the last axis (fused forward and backward)

extension Tensor {
  /// x [..., C] normalised per row, then scaled by `weight` [C] and shifted by `bias` [C].
  public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    check(x.rank >= 1, "layerNorm: needs at least one dimension, got shape \(x.shape)")
    let c = x.shape.last!, rows = x.count / max(c, 1)
    if let weight { check(weight.shape == [c], "layerNorm: weight shape \(weight.shape), input shape \(x.shape)") }
    if let bias { check(bias.shape == [c], "layerNorm: bias shape \(bias.shape), input shape \(x.shape)") }
    let w = weight?.data, b = bias?.data
    var y = [Float](repeating: 0, count: x.count)
    // Cached for the backward: the normalised input and 1/σ per row.
    var xhat = [Float](repeating: 0, count: x.count)
    var rstd = [Float](repeating: 0, count: rows)
    x.data.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        xhat.withUnsafeMutableBufferPointer { ph in
          rstd.withUnsafeMutableBufferPointer { pr in
            Threading.parallelFor(rows, grain: 32) { range in
              for i in range {
                let row = px.baseAddress! + i * c
                var mean: Float = 0
                for j in 0..<c { mean += row[j] }
                mean /= Float(c)
                var v: Float = 0
                for j in 0..<c { let d = row[j] - mean; v += d * d }
                let r = 1 / (v / Float(c) + eps).squareRoot()
                pr[i] = r
                for j in 0..<c {
                  let h = (row[j] - mean) * r
                  ph[i * c + j] = h
                  py[i * c + j] = h * (w?[j] ?? 1) + (b?[j] ?? 0)
                }
              }
            }
          }
        }
      }
    }
    let parents = [x] + [weight, bias].compactMap { $0 }
    return record(Tensor(shape: x.shape, data: y), op: "layer_norm", parents) { g in
      if let weight, weight.requiresGrad {
        weight.accumulateGrad { gw in for i in 0..<rows { for j in 0..<c { gw[j] += g[i * c + j] * xhat[i * c + j] } } }
      }
      if let bias, bias.requiresGrad {
        bias.accumulateGrad { gb in for i in 0..<rows { for j in 0..<c { gb[j] += g[i * c + j] } } }
      }
      guard x.requiresGrad else { return }
      // dx = r/C · (C·dĥ − Σdĥ − ĥ·Σ(dĥ⊙ĥ)), dĥ = g ⊙ w.
      x.accumulateGrad { gx in
        Threading.parallelFor(rows, grain: 32) { range in
          for i in range {
            var sd: Float = 0, sdh: Float = 0
            for j in 0..<c {
              let dh = g[i * c + j] * (w?[j] ?? 1)
              sd += dh
              sdh += dh * xhat[i * c + j]
            }
            let r = rstd[i] / Float(c)
            for j in 0..<c {
              let dh = g[i * c + j] * (w?[j] ?? 1)
              gx[i * c + j] += r * (Float(c) * dh - sd - xhat[i * c + j] * sdh)
            }
          }
        }
      }
    }
  }
}
