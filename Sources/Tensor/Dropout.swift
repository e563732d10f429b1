// MARK: dropout (seeded)

extension Tensor {
  /// Zeroes each element with probability `p` and scales the rest by 1/(1−p). The mask comes
  /// from `rng`, so the same generator state reproduces the same mask. Identity when `p == 0`.
  public func dropout(_ p: Float, rng: inout RNG) -> Tensor {
    check(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got \(p)")
    if p == 0 { return self }
    let scale = 1 / (1 - p)
    let mask = (0..<count).map { _ in rng.uniform() >= p ? scale : 0 }
    let x = data
    let y = (0..<count).map { x[$0] * mask[$0] }
    return Tensor.record(Tensor(shape: shape, data: y), op: "dropout", [self]) { g in
      self.accumulateGrad { gx in for i in 0..<gx.count { gx[i] += g[i] * mask[i] } }
    }
  }
}
