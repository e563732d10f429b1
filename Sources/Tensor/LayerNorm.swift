// MARK: layer norm over the last axis (fused forward and backward)

extension Tensor {
  /// x [..., C] normalised per row, then scaled by `weight` [C] and shifted by `bias` [C].
  /// Row sums run in lanes (`laneSum`); the backward recomputes ĥ from x and the saved mean and
  /// 1/σ per row instead of keeping a second tensor of x's size.
  public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    check(x.rank >= 1, "layerNorm: needs at least one dimension, got shape \(x.shape)")
    let c = x.shape.last!, rows = x.count / max(c, 1)
    if let weight { check(weight.shape == [c], "layerNorm: weight shape \(weight.shape), input shape \(x.shape)") }
    if let bias { check(bias.shape == [c], "layerNorm: bias shape \(bias.shape), input shape \(x.shape)") }
    let w = weight?.data ?? [Float](repeating: 1, count: c), b = bias?.data ?? [Float](repeating: 0, count: c)
    let xv = x.data
    var y = [Float](repeating: 0, count: x.count)
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
    let parents = [x] + [weight, bias].compactMap { $0 }
    return record(Tensor(shape: x.shape, data: y), op: "layer_norm", parents) { g in
      let needW = weight?.requiresGrad ?? false, needB = bias?.requiresGrad ?? false
      var gw = [Float](repeating: 0, count: needW ? c : 0), gb = [Float](repeating: 0, count: needB ? c : 0)
      var gx = [Float](repeating: 0, count: x.requiresGrad ? x.count : 0)
      xv.withUnsafeBufferPointer { px in
        g.withUnsafeBufferPointer { pg in
          gx.withUnsafeMutableBufferPointer { pgx in
            // dx = r/C · (C·dĥ − Σdĥ − ĥ·Σ(dĥ⊙ĥ)), dĥ = g ⊙ w; rows in parallel, scratch per chunk.
            if x.requiresGrad {
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
      if x.requiresGrad { x.accumulateGrad(gx) }
      if needW { weight!.accumulateGrad(gw) }
      if needB { bias!.accumulateGrad(gb) }
    }
  }
}
