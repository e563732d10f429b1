// MARK: dropout (seeded)

extension Tensor {
  /// Zeroes each element with probability `p` and scales the rest by 1/(1−p). The mask comes
  /// from `rng` (one stream, or one per sample of a batch-major tensor), so the same generator
  /// state reproduces the same mask. Identity when `p == 0`.
  public func dropout<R: RandomSource>(_ p: Float, rng: inout R) -> Tensor {
    check(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got \(p)")
    if p == 0 { return self }
    let scale = 1 / (1 - p)
    let mask = rng.uniforms(count).map { $0 >= p ? scale : 0 }
    let x = data
    let y = (0..<count).map { x[$0] * mask[$0] }
    return Tensor.record(Tensor(shape: shape, data: y), op: "dropout", [self]) { g in
      self.accumulateGrad { gx in for i in 0..<gx.count { gx[i] += g[i] * mask[i] } }
    }
  }
}
