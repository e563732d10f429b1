// MARK: dropout (seeded)

extension Tensor {
  /// Zeroes each element with probability `p` and scales the rest by 1/(1−p). The mask comes
  /// from `rng` (one stream, or one per sample of a batch-major tensor), so the same generator
  /// state reproduces the same mask. It is not stored: the backward draws it again from the
  /// same counters. Identity when `p == 0`.
  public func dropout<R: RandomSource>(_ p: Float, rng: inout R) -> Tensor {
    check(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got \(p)")
    if p == 0 { return self }
    let draws = rng.uniformDraws(count)
    let x = data
    var y = [Float](repeating: 0, count: count)
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        Threading.parallelFor(count, grain: 16384) { r in
          draws.withDropoutFactors(in: r, p: p) { tile, f in
            let y = py.baseAddress! + tile.lowerBound, x = px.baseAddress! + tile.lowerBound
            for k in 0..<tile.count { y[k] = x[k] * f[k] }
          }
        }
      }
    }
    return Tensor.record(Tensor(shape: shape, data: y), op: "dropout", [self]) { g in
      self.accumulateGrad { gx in
        g.withUnsafeBufferPointer { pg in
          Threading.parallelFor(gx.count, grain: 16384) { r in
            draws.withDropoutFactors(in: r, p: p) { tile, f in
              let d = gx.baseAddress! + tile.lowerBound, g = pg.baseAddress! + tile.lowerBound
              for k in 0..<tile.count { d[k] += g[k] * f[k] }
            }
          }
        }
      }
    }
  }

  /// 1/(1−p) for a kept element (uniform u ≥ p), 0 for a dropped one.
  @inlinable static func dropoutFactor(_ u: Float, _ p: Float) -> Float { u >= p ? 1 / (1 - p) : 0 }
}
