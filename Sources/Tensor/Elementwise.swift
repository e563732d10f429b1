import Foundation

// MARK: unary ops: y = f(x), dy/dx from (x, y)

extension Tensor {
  /// Applies `f` element-wise; `df(x, y)` gives dy/dx for the backward pass.

  public func map(
    op: String, _ f: @escaping (Float) -> Float, derivative df: @escaping (Float, Float) -> Float
  ) -> Tensor {
    let x = data
    var y = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { px in
      y.withUnsafeMutableBufferPointer { py in
        Threading.parallelFor(x.count, grain: 16384) { r in
          for i in r { py[i] = f(px[i]) }
        }
      }
    }
    let out = Tensor(shape: shape, data: y)
    return Tensor.record(out, op: op, [self]) { [unowned out] g in
      let y = out.data
      self.accumulateGrad { gx in
        x.withUnsafeBufferPointer { px in
          y.withUnsafeBufferPointer { py in
            g.withUnsafeBufferPointer { pg in
              Threading.parallelFor(gx.count, grain: 16384) { r in
                for i in r { gx[i] += pg[i] * df(px[i], py[i]) }
              }
            }
          }
        }
      }
    }
  }

  public func relu() -> Tensor {
    map(op: "relu", { max($0, 0) }, derivative: { x, _ in x > 0 ? 1 : 0 })
  }

  /// min(max(x, 0), 6): EfficientNet-Lite's activation.
  public func relu6() -> Tensor {
    map(op: "relu6", { min(max($0, 0), 6) }, derivative: { x, _ in x > 0 && x < 6 ? 1 : 0 })
  }

  /// Exact GELU, x·Φ(x) (PyTorch's default, not the tanh approximation).
  public func gelu() -> Tensor {
    map(
      op: "gelu", { x in 0.5 * x * (1 + erf(x / Float(2).squareRoot())) },
      derivative: { x, _ in
        let cdf = 0.5 * (1 + erf(x / Float(2).squareRoot()))
        let pdf = Foundation.exp(-0.5 * x * x) / Float(2 * Double.pi).squareRoot()
        return cdf + x * pdf
      })
  }

  /// x·sigmoid(x), also called swish.
  public func silu() -> Tensor {
    map(
      op: "silu", { x in x * fastSigmoid(x) },
      derivative: { x, _ in
        let s = fastSigmoid(x)
        return s * (1 + x * (1 - s))
      })
  }

  /// log(1 + eˣ), linear above 20 as in PyTorch.
  public func softplus() -> Tensor {
    map(
      op: "softplus", { x in x > 20 ? x : log1p(fastExp(x)) },
      derivative: { x, _ in x > 20 ? 1 : fastSigmoid(x) })
  }

  public func sigmoid() -> Tensor {
    map(op: "sigmoid", { x in fastSigmoid(x) }, derivative: { _, y in y * (1 - y) })
  }

  public func tanh() -> Tensor {
    map(op: "tanh", { Foundation.tanh($0) }, derivative: { _, y in 1 - y * y })
  }

  public func exp() -> Tensor {
    map(op: "exp", { fastExp($0) }, derivative: { _, y in y })
  }

  public func log() -> Tensor {
    map(op: "log", { Foundation.log($0) }, derivative: { x, _ in 1 / x })
  }

  public func sqrt() -> Tensor {
    map(op: "sqrt", { $0.squareRoot() }, derivative: { _, y in 0.5 / y })
  }

  public func square() -> Tensor {
    map(op: "square", { $0 * $0 }, derivative: { x, _ in 2 * x })
  }

  // MARK: scalar ops

  public static func * (x: Tensor, s: Float) -> Tensor {
    x.map(op: "mul_scalar", { $0 * s }, derivative: { _, _ in s })
  }
  public static func * (s: Float, x: Tensor) -> Tensor { x * s }
  public static func + (x: Tensor, s: Float) -> Tensor {
    x.map(op: "add_scalar", { $0 + s }, derivative: { _, _ in 1 })
  }
  public static func + (s: Float, x: Tensor) -> Tensor { x + s }
  public static func - (x: Tensor, s: Float) -> Tensor { x + (-s) }
  public static func - (s: Float, x: Tensor) -> Tensor {
    x.map(op: "rsub_scalar", { s - $0 }, derivative: { _, _ in -1 })
  }
  public static func / (x: Tensor, s: Float) -> Tensor { x * (1 / s) }
  public static prefix func - (x: Tensor) -> Tensor { x * -1 }
}
