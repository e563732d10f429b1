import Foundation

/// An optimiser updates the parameters of a store from their gradients. Its state is a set of
/// named buffers (plus the step count) so checkpoints can save and restore it exactly.
public protocol Optimizer: AnyObject {
  var learningRate: Float { get set }
  var stepCount: Int { get }
  func step()
  func stateDict() -> [String: [Float]]
  func loadStateDict(_ state: [String: [Float]]) throws
}

public struct OptimizerStateError: Error, CustomStringConvertible {
  public let message: String
  public var description: String { message }
}

/// Shared state handling: one buffer per (parameter, slot) and a step counter.
public class BufferedOptimizer {
  public let params: ParameterStore
  public var learningRate: Float
  public private(set) var stepCount = 0
  let slots: [String]
  var buffers: [String: [Float]] = [:]

  init(params: ParameterStore, learningRate: Float, slots: [String]) {
    self.params = params
    self.learningRate = learningRate
    self.slots = slots
  }

  func buffer(_ slot: String, _ name: String, count: Int) -> [Float] {
    buffers["\(name).\(slot)"] ?? [Float](repeating: 0, count: count)
  }

  func advance() { stepCount += 1 }

  public func stateDict() -> [String: [Float]] {
    var d = buffers
    d["__step__"] = [Float(stepCount)]
    return d
  }

  public func loadStateDict(_ state: [String: [Float]]) throws {
    guard let s = state["__step__"]?.first else {
      throw OptimizerStateError(message: "optimizer state: missing '__step__'")
    }
    for (key, value) in state where key != "__step__" {
      guard let dot = key.lastIndex(of: "."), slots.contains(String(key[key.index(after: dot)...])),
        let p = params[String(key[..<dot])]
      else { throw OptimizerStateError(message: "optimizer state: unknown entry '\(key)'") }
      guard value.count == p.count else {
        throw OptimizerStateError(message: "optimizer state: '\(key)' has \(value.count) values, parameter has \(p.count)")
      }
    }
    stepCount = Int(s)
    buffers = state.filter { $0.key != "__step__" }
  }
}

/// AdamW (decoupled weight decay), PyTorch semantics and defaults.
public final class AdamW: BufferedOptimizer, Optimizer {
  public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float

  public init(params: ParameterStore, learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
              eps: Float = 1e-8, weightDecay: Float = 1e-2) {
    beta1 = betas.0; beta2 = betas.1
    self.eps = eps
    self.weightDecay = weightDecay
    super.init(params: params, learningRate: learningRate, slots: ["exp_avg", "exp_avg_sq"])
  }

  public func step() {
    advance()
    let t = Float(stepCount)
    let bc1 = 1 - pow(beta1, t), bc2 = 1 - pow(beta2, t)
    let lr = learningRate, b1 = beta1, b2 = beta2, wd = weightDecay, eps = eps
    for (name, p) in params.named {
      guard let g = p.grad else { continue }
      var m = buffer("exp_avg", name, count: p.count), v = buffer("exp_avg_sq", name, count: p.count)
      p.data.withUnsafeMutableBufferPointer { w in
        for i in 0..<w.count {
          w[i] -= lr * wd * w[i]
          m[i] = b1 * m[i] + (1 - b1) * g[i]
          v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
          let denom = (v[i] / bc2).squareRoot() + eps
          w[i] -= lr / bc1 * m[i] / denom
        }
      }
      buffers["\(name).exp_avg"] = m
      buffers["\(name).exp_avg_sq"] = v
    }
  }
}

/// SGD with optional momentum and (coupled) weight decay, PyTorch semantics.
public final class SGD: BufferedOptimizer, Optimizer {
  public var momentum: Float, weightDecay: Float

  public init(params: ParameterStore, learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
    self.momentum = momentum
    self.weightDecay = weightDecay
    super.init(params: params, learningRate: learningRate, slots: ["momentum_buffer"])
  }

  public func step() {
    advance()
    let lr = learningRate, mu = momentum, wd = weightDecay
    for (name, p) in params.named {
      guard let g = p.grad else { continue }
      var buf = momentum != 0 ? buffers["\(name).momentum_buffer"] : nil
      let first = buf == nil
      if mu != 0 && first { buf = [Float](repeating: 0, count: p.count) }
      p.data.withUnsafeMutableBufferPointer { w in
        for i in 0..<w.count {
          var d = g[i] + wd * w[i]
          if mu != 0 {
            buf![i] = first ? d : mu * buf![i] + d
            d = buf![i]
          }
          w[i] -= lr * d
        }
      }
      if mu != 0 { buffers["\(name).momentum_buffer"] = buf }
    }
  }
}

/// StepLR: the rate is multiplied by `gamma` every `stepSize` epochs.
public struct StepLR: Sendable {
  public let baseRate: Float, stepSize: Int, gamma: Float
  public init(baseRate: Float, stepSize: Int, gamma: Float = 0.1) {
    check(stepSize >= 1, "StepLR: stepSize must be >= 1, got \(stepSize)")
    self.baseRate = baseRate
    self.stepSize = stepSize
    self.gamma = gamma
  }
  /// The rate in force during `epoch` (0-based).
  public func rate(epoch: Int) -> Float { baseRate * pow(gamma, Float(epoch / stepSize)) }
}
