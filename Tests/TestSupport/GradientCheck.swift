import Tensor

/// The first disagreement between the analytic and the numeric gradient of `f` with respect to
/// `tensors` (inputs or model parameters), or nil when they agree.
///
/// The scalar probed is L = Σ f()·w with fixed random weights w, so every output element counts.
/// Analytic: f().backward(seed: w). Numeric: central differences (L(x+ε) − L(x−ε)) / 2ε with the
/// sum accumulated in Double. Tensors larger than `maxChecks` are probed at random positions.
/// The message names the op, the tensor, the element and both values.
public func gradientMismatch(
  _ op: String, _ tensors: [Tensor], eps: Float, atol: Float, rtol: Float, maxChecks: Int,
  _ f: () throws -> Tensor
) rethrows -> String? {
  for t in tensors { t.requiresGrad = true; t.grad = nil }
  let out = try f()
  var wrng = RNG(seed: 99)
  let w = (0..<out.count).map { _ in wrng.uniform(-1, 1) }
  out.backward(seed: w)
  let analytic = tensors.map { $0.grad ?? [Float](repeating: 0, count: $0.count) }
  func loss() throws -> Double {
    let y = try GradMode.withoutGrad { try f() }
    return zip(y.data, w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
  }
  var prng = RNG(seed: 7)
  for (n, t) in tensors.enumerated() {
    let positions = t.count <= maxChecks ? Array(0..<t.count) : (0..<maxChecks).map { _ in prng.int(below: t.count) }
    for i in positions {
      let saved = t.data[i]
      t.data[i] = saved + eps
      let lp = try loss()
      t.data[i] = saved - eps
      let lm = try loss()
      t.data[i] = saved
      let numeric = Float((lp - lm) / Double(2 * eps))
      let a = analytic[n][i]
      if !(abs(a - numeric) <= atol + rtol * max(abs(a), abs(numeric))) {
        return "\(op): tensor \(n) element \(i): analytic \(a) vs numeric \(numeric)"
      }
    }
  }
  return nil
}

/// Elementwise closeness: nil when |a − b| ≤ atol + rtol·|b| everywhere, else the worst element.
public func closenessFailure(_ a: [Float], _ b: [Float], atol: Float, rtol: Float, _ what: String) -> String? {
  guard a.count == b.count else { return "\(what): \(a.count) vs \(b.count) values" }
  var worst = -1, worstExcess = -Float.infinity
  for i in 0..<a.count {
    let excess = abs(a[i] - b[i]) - (atol + rtol * abs(b[i]))
    if !(excess <= worstExcess) { worstExcess = excess; worst = i }
  }
  if worst < 0 || worstExcess <= 0 { return nil }
  return "\(what): worst at \(worst): \(a[worst]) vs \(b[worst]) (|Δ| = \(abs(a[worst] - b[worst])))"
}

/// Random tensor with entries N(0, std²) from a seeded stream.
public func randn(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
  var rng = RNG(seed: seed)
  return Tensor(randn: shape, std: std, rng: &rng)
}
