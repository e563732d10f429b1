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
    // Written whole: no zero-fill first.
    let y = [Float](unsafeUninitializedCapacity: count) { py, written in
      x.withUnsafeBufferPointer { px in
        Self.forEachDropoutTile(count, draws: draws, p: p) { tile, f in
          let y = py.baseAddress! + tile.lowerBound, x = px.baseAddress! + tile.lowerBound, f = f!
          for k in 0..<tile.count { y[k] = x[k] * f[k] }
        }
      }
      written = count
    }
    return Tensor.record(Tensor(shape: shape, data: y), op: "dropout", [self]) { g in
      self.accumulateGrad { gx in
        g.withUnsafeBufferPointer { pg in
          Self.forEachDropoutTile(gx.count, draws: draws, p: p) { tile, f in
            Self.addMasked(pg.baseAddress! + tile.lowerBound, f, to: gx.baseAddress! + tile.lowerBound, tile.count)
          }
        }
      }
    }
  }

  /// `body(tile, factors)` over 0..<n in parallel tiles: `factors[k]` is element
  /// tile.lowerBound + k's dropout factor, or nil when `p` is 0 (no mask). The one loop of every
  /// kernel that applies a dropout mask on the way (dropout, linear/ReLU/dropout, the residual join).
  static func forEachDropoutTile(_ n: Int, draws: UniformDraws, p: Float, _ body: (Range<Int>, UnsafePointer<Float>?) -> Void) {
    Threading.parallelFor(n, grain: 16384) { r in
      if p > 0 { draws.withDropoutFactors(in: r, p: p) { body($0, $1) } } else { body(r, nil) }
    }
  }

  /// d[k] += g[k]·factors[k] (or g[k] without a mask) for k in 0..<count: a masked gradient's share.
  @inline(__always)
  static func addMasked(_ g: UnsafePointer<Float>, _ factors: UnsafePointer<Float>?, to d: UnsafeMutablePointer<Float>, _ count: Int) {
    if let f = factors { for k in 0..<count { d[k] += g[k] * f[k] } } else { for k in 0..<count { d[k] += g[k] } }
  }

  /// 1/(1−p) for a kept element (uniform u ≥ p), 0 for a dropped one.
  @inlinable static func dropoutFactor(_ u: Float, _ p: Float) -> Float { u >= p ? 1 / (1 - p) : 0 }
}
