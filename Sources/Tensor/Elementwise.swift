import Foundation

// MARK: unary ops: y = f(x), dy/dx from (x, y)

/// An element-wise function and its derivative. `Tensor.map` is generic over it, so each
/// function's loop is specialised and inlined (a closure call per element would cost ~4× the
/// arithmetic and stop vectorisation).
public protocol PointwiseFunction {
  func value(_ x: Float) -> Float
  /// dy/dx at x, given y = value(x).
  func derivative(_ x: Float, _ y: Float) -> Float
}

/// A pointwise function from two closures (tests and rare ops; hot ops use their own struct).
public struct ClosureFunction: PointwiseFunction {
  let f: (Float) -> Float, df: (Float, Float) -> Float
  public init(_ f: @escaping (Float) -> Float, derivative df: @escaping (Float, Float) -> Float) { self.f = f; self.df = df }
  public func value(_ x: Float) -> Float { f(x) }
  public func derivative(_ x: Float, _ y: Float) -> Float { df(x, y) }
}

struct ReLU: PointwiseFunction {
  func value(_ x: Float) -> Float { max(x, 0) }
  func derivative(_ x: Float, _ y: Float) -> Float { x > 0 ? 1 : 0 }
}

struct ReLU6: PointwiseFunction {
  func value(_ x: Float) -> Float { min(max(x, 0), 6) }
  func derivative(_ x: Float, _ y: Float) -> Float { x > 0 && x < 6 ? 1 : 0 }
}

struct GELU: PointwiseFunction {
  func value(_ x: Float) -> Float { 0.5 * x * (1 + erf(x / Float(2).squareRoot())) }
  func derivative(_ x: Float, _ y: Float) -> Float {
    let cdf = 0.5 * (1 + erf(x / Float(2).squareRoot()))
    let pdf = fastExp(-0.5 * x * x) / Float(2 * Double.pi).squareRoot()
    return cdf + x * pdf
  }
}

struct SiLU: PointwiseFunction {
  func value(_ x: Float) -> Float { x * fastSigmoid(x) }
  func derivative(_ x: Float, _ y: Float) -> Float {
    let s = fastSigmoid(x)
    return s * (1 + x * (1 - s))
  }
}

/// log(1 + eˣ), linear above 20 as in PyTorch.
struct Softplus: PointwiseFunction {
  func value(_ x: Float) -> Float { x > 20 ? x : log1p(fastExp(x)) }
  func derivative(_ x: Float, _ y: Float) -> Float { x > 20 ? 1 : fastSigmoid(x) }
}

struct Sigmoid: PointwiseFunction {
  func value(_ x: Float) -> Float { fastSigmoid(x) }
  func derivative(_ x: Float, _ y: Float) -> Float { y * (1 - y) }
}

struct Tanh: PointwiseFunction {
  func value(_ x: Float) -> Float { Foundation.tanh(x) }
  func derivative(_ x: Float, _ y: Float) -> Float { 1 - y * y }
}

struct Exp: PointwiseFunction {
  func value(_ x: Float) -> Float { fastExp(x) }
  func derivative(_ x: Float, _ y: Float) -> Float { y }
}

struct Log: PointwiseFunction {
  func value(_ x: Float) -> Float { Foundation.log(x) }
  func derivative(_ x: Float, _ y: Float) -> Float { 1 / x }
}

struct Sqrt: PointwiseFunction {
  func value(_ x: Float) -> Float { x.squareRoot() }
  func derivative(_ x: Float, _ y: Float) -> Float { 0.5 / y }
}

struct Square: PointwiseFunction {
  func value(_ x: Float) -> Float { x * x }
  func derivative(_ x: Float, _ y: Float) -> Float { 2 * x }
}

/// a·x + b (scalar multiply, add, reverse subtract).
struct Affine: PointwiseFunction {
  let a: Float, b: Float
  func value(_ x: Float) -> Float { a * x + b }
  func derivative(_ x: Float, _ y: Float) -> Float { a }
}

extension Tensor {
  /// Applies `f` element-wise; `f.derivative(x, y)` gives dy/dx for the backward pass.
  public func map<F: PointwiseFunction>(op: String, _ f: F) -> Tensor {
    let x = data
    // Written whole: no zero-fill first. Plain pointers in the loop: through the buffer pointers
    // it does not vectorise (SiLU 7× slower).
    let y = [Float](unsafeUninitializedCapacity: x.count) { py, written in
      x.withUnsafeBufferPointer { px in
        let xs = px.baseAddress!, ys = py.baseAddress!
        Threading.parallelFor(x.count, grain: 16384) { r in
          for i in r { ys[i] = f.value(xs[i]) }
        }
      }
      written = x.count
    }
    let out = Tensor(shape: shape, data: y)
    return Tensor.record(out, op: op, [self]) { [unowned out] g in
      let y = out.data
      self.accumulateGrad { gx in
        x.withUnsafeBufferPointer { px in
          y.withUnsafeBufferPointer { py in
            g.withUnsafeBufferPointer { pg in
              let d = gx.baseAddress!, g = pg.baseAddress!, xs = px.baseAddress!, ys = py.baseAddress!
              Threading.parallelFor(gx.count, grain: 16384) { r in
                for i in r { d[i] += g[i] * f.derivative(xs[i], ys[i]) }
              }
            }
          }
        }
      }
    }
  }

  /// Element-wise `f` with derivative `df(x, y)`, from closures.
  public func map(op: String, _ f: @escaping (Float) -> Float, derivative df: @escaping (Float, Float) -> Float) -> Tensor {
    map(op: op, ClosureFunction(f, derivative: df))
  }

  public func relu() -> Tensor { map(op: "relu", ReLU()) }
  /// min(max(x, 0), 6): EfficientNet-Lite's activation.
  public func relu6() -> Tensor { map(op: "relu6", ReLU6()) }
  /// Exact GELU, x·Φ(x) (PyTorch's default, not the tanh approximation).
  public func gelu() -> Tensor { map(op: "gelu", GELU()) }
  /// x·sigmoid(x), also called swish.
  public func silu() -> Tensor { map(op: "silu", SiLU()) }
  /// log(1 + eˣ), linear above 20 as in PyTorch.
  public func softplus() -> Tensor { map(op: "softplus", Softplus()) }
  public func sigmoid() -> Tensor { map(op: "sigmoid", Sigmoid()) }
  public func tanh() -> Tensor { map(op: "tanh", Tanh()) }
  public func exp() -> Tensor { map(op: "exp", Exp()) }
  public func log() -> Tensor { map(op: "log", Log()) }
  public func sqrt() -> Tensor { map(op: "sqrt", Sqrt()) }
  public func square() -> Tensor { map(op: "square", Square()) }

  // MARK: scalar ops

  public static func * (x: Tensor, s: Float) -> Tensor { x.map(op: "mul_scalar", Affine(a: s, b: 0)) }
  public static func * (s: Float, x: Tensor) -> Tensor { x * s }
  public static func + (x: Tensor, s: Float) -> Tensor { x.map(op: "add_scalar", Affine(a: 1, b: s)) }
  public static func + (s: Float, x: Tensor) -> Tensor { x + s }
  public static func - (x: Tensor, s: Float) -> Tensor { x + (-s) }
  public static func - (s: Float, x: Tensor) -> Tensor { x.map(op: "rsub_scalar", Affine(a: -1, b: s)) }
  public static func / (x: Tensor, s: Float) -> Tensor { x * (1 / s) }
  public static prefix func - (x: Tensor) -> Tensor { x * -1 }
}
