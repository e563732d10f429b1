// MARK: dropout (seeded)

extension Tensor {
  /// Zeroes each element with probability `p` and scales the rest by 1/(1−p). The mask comes
  /// from `rng` (one stream, or one per sample of a batch-major tensor), so the same generator
  /// state reproduces the same mask. Identity when `p == 0`.
  public func dropout<R: RandomSource>(_ p: Float, rng: inout R) -> Tensor {
    check(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got \(p)")
    if p == 0 { return self }
    let scale = 1 / (1 - p)
    var mask = rng.uniforms(count)
    let x = data
    var y = [Float](repeating: 0, count: count)
    mask.withUnsafeMutableBufferPointer { m in
      x.withUnsafeBufferPointer { px in
        y.withUnsafeMutableBufferPointer { py in
          Threading.parallelFor(count, grain: 16384) { r in
            for i in r {
              m[i] = m[i] >= p ? scale : 0
              py[i] = px[i] * m[i]
            }
          }
        }
      }
    }
    return Tensor.record(Tensor(shape: shape, data: y), op: "dropout", [self]) { g in
      self.accumulateGrad { gx in
        mask.withUnsafeBufferPointer { m in
          g.withUnsafeBufferPointer { pg in
            Threading.parallelFor(gx.count, grain: 16384) { r in for i in r { gx[i] += pg[i] * m[i] } }
          }
        }
      }
    }
  }
}
