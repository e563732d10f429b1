import Foundation

// MARK: softmax and log-softmax over the last axis

/// Numerically stable softmax of one row, in place from `x` into `y`.

func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
  let m = laneMax(x, n)
  let inv = 1 / laneExpSum(x, minus: m, into: y, n)
  for j in 0..<n { y[j] *= inv }
}

/// y[j] = e^(x[j] − m) for j in 0..<n, and Σ y[j] in lanes. Two loops over a row in L1: the
/// exponentials vectorise as a loop of their own (fused into the lane sum they did not).
@inlinable
func laneExpSum(_ x: UnsafePointer<Float>, minus m: Float, into y: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
  for j in 0..<n { y[j] = fastExp(x[j] - m) }
  return laneSum(y, n)
}

/// log-sum-exp of one row.

func logSumExpRow(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
  var m = -Float.infinity
  for j in 0..<n { m = max(m, x[j]) }
  var s: Float = 0
  for j in 0..<n { s += fastExp(x[j] - m) }
  return m + Foundation.log(s)
}

extension Tensor {
  public func softmax() -> Tensor {
    check(rank >= 1, "softmax: needs at least one dimension, got shape \(shape)")
    let n = shape.last!, rows = count / max(n, 1)
    var y = [Float](repeating: 0, count: count)
    data.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        Threading.parallelFor(rows, grain: 64) { r in
          for i in r { softmaxRow(px.baseAddress! + i * n, py.baseAddress! + i * n, n) }
        }
      }
    }
    let out = Tensor(shape: shape, data: y)
    return Tensor.record(out, op: "softmax", [self]) { [unowned out] g in
      let y = out.data
      // dx = y ⊙ (g − ⟨g, y⟩) per row.
      self.accumulateGrad { gx in
        for i in 0..<rows {
          var dot: Float = 0
          for j in 0..<n { dot += g[i * n + j] * y[i * n + j] }
          for j in 0..<n { gx[i * n + j] += y[i * n + j] * (g[i * n + j] - dot) }
        }
      }
    }
  }

  public func logSoftmax() -> Tensor {
    check(rank >= 1, "logSoftmax: needs at least one dimension, got shape \(shape)")
    let n = shape.last!, rows = count / max(n, 1)
    var y = [Float](repeating: 0, count: count)
    data.withUnsafeBufferPointer { px in
      for i in 0..<rows {
        let lse = logSumExpRow(px.baseAddress! + i * n, n)
        for j in 0..<n { y[i * n + j] = px[i * n + j] - lse }
      }
    }
    let out = Tensor(shape: shape, data: y)
    return Tensor.record(out, op: "log_softmax", [self]) { [unowned out] g in
      let y = out.data
      // dx = g − softmax ⊙ Σg per row.
      self.accumulateGrad { gx in
        for i in 0..<rows {
          var s: Float = 0
          for j in 0..<n { s += g[i * n + j] }
          for j in 0..<n { gx[i * n + j] += g[i * n + j] - fastExp(y[i * n + j]) * s }
        }
      }
    }
  }
}
