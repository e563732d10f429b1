import Foundation

/// Trainable tensors under stable dotted names (`mrn.rgb.encoder.0.linear1.weight`), in the order
/// they were created. Checkpoints, safetensors and optimiser state all key on these names.
public final class ParameterStore {
  public private(set) var names: [String] = []
  private var byName: [String: Tensor] = [:]

  public init() {}

  public var count: Int { names.count }
  public var tensors: [Tensor] { names.map { byName[$0]! } }
  public var named: [(name: String, tensor: Tensor)] { names.map { ($0, byName[$0]!) } }
  public var totalElements: Int { names.reduce(0) { $0 + byName[$1]!.count } }
  public subscript(name: String) -> Tensor? { byName[name] }

  /// Registers `tensor` under `name` and marks it trainable. Names are unique.
  @discardableResult
  public func add(_ name: String, _ tensor: Tensor) -> Tensor {
    check(byName[name] == nil, "ParameterStore: parameter '\(name)' registered twice")
    tensor.requiresGrad = true
    names.append(name)
    byName[name] = tensor
    return tensor
  }

  // MARK: initialisers

  /// Glorot/Xavier uniform: U(±√(6/(fan_in+fan_out))), fans as PyTorch computes them for
  /// linear [out, in] and conv [out, in, kh, kw] weights.
  @discardableResult
  public func xavierUniform(_ name: String, _ shape: [Int], gain: Float = 1, rng: inout RNG) -> Tensor {
    check(shape.count >= 2, "xavierUniform: '\(name)' needs at least 2 dimensions, got \(shape)")
    let receptive = shape.dropFirst(2).reduce(1, *)
    let fanIn = shape[1] * receptive, fanOut = shape[0] * receptive
    let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
    return add(name, Tensor(uniform: shape, -bound, bound, rng: &rng))
  }

  @discardableResult
  public func zeros(_ name: String, _ shape: [Int]) -> Tensor { add(name, Tensor(zeros: shape)) }

  @discardableResult
  public func ones(_ name: String, _ shape: [Int]) -> Tensor { add(name, Tensor(filled: 1, shape: shape)) }

  @discardableResult
  public func normal(_ name: String, _ shape: [Int], std: Float, mean: Float = 0, rng: inout RNG) -> Tensor {
    add(name, Tensor(randn: shape, std: std, mean: mean, rng: &rng))
  }

  @discardableResult
  public func constant(_ name: String, _ tensor: Tensor) -> Tensor { add(name, tensor) }

  // MARK: gradients

  public func zeroGrad() { for t in byName.values { t.grad = nil } }

  /// L2 norm of all gradients together (missing gradients count as zero).
  public func gradNorm() -> Float { gradNorm(of: names) }

  func gradNorm(of subset: [String]) -> Float {
    var s: Double = 0
    for name in subset { if let g = byName[name]!.grad { for v in g { s += Double(v) * Double(v) } } }
    return Float(s.squareRoot())
  }

  /// Scales all gradients so their global norm is at most `maxNorm` (PyTorch's clip_grad_norm_,
  /// including its 1e-6 in the denominator). Returns the norm before clipping.
  @discardableResult
  public func clipGradNorm(_ maxNorm: Float) -> Float { clipGradNorm(maxNorm, of: names) }

  /// Clips each group of parameters (`group(name)`, e.g. the module a parameter belongs to) to
  /// `maxNorm` on its own, so one module's large gradient does not shrink the others' steps.
  public func clipGradNorm(_ maxNorm: Float, groupedBy group: (String) -> String) {
    clipGradNorm(maxNorm, groups: groups(by: group))
  }

  /// The same with the groups already formed (`groups(by:)` once, not every iteration).
  public func clipGradNorm(_ maxNorm: Float, groups: [[String]]) {
    for g in groups { clipGradNorm(maxNorm, of: g) }
  }

  /// The parameter names grouped by `group(name)`, groups in order of first appearance.
  public func groups(by group: (String) -> String) -> [[String]] {
    var index: [String: Int] = [:], out: [[String]] = []
    for name in names {
      let g = group(name)
      if let i = index[g] { out[i].append(name) } else { index[g] = out.count; out.append([name]) }
    }
    return out
  }

  @discardableResult
  func clipGradNorm(_ maxNorm: Float, of subset: [String]) -> Float {
    let norm = gradNorm(of: subset)
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
      for name in subset where byName[name]!.grad != nil {
        byName[name]!.grad!.withUnsafeMutableBufferPointer { g in for i in 0..<g.count { g[i] *= coef } }
      }
    }
    return norm
  }
}
