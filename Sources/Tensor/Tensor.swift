import Foundation

/// A dense, contiguous, row-major Float32 tensor that can take part in reverse-mode autodiff.
///
/// A reference type so that the autodiff graph can point at the same tensor from many places
/// (a parameter used by several ops accumulates all their gradients).
public final class Tensor {
  public private(set) var shape: [Int]
  public var data: [Float]
  /// Gradient of the loss with respect to `data`, allocated on first accumulation.
  public var grad: [Float]?
  /// Leaf tensors (parameters, inputs under test) ask for their gradient; op outputs inherit it.
  public var requiresGrad: Bool
  /// The op that produced this tensor, while the graph is alive.
  var node: Node?

  public init(shape: [Int], data: [Float], requiresGrad: Bool = false) {
    check(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
    check(
      shape.product == data.count,
      "Tensor: shape \(shape) holds \(shape.product) elements but data has \(data.count)")
    self.shape = shape
    self.data = data
    self.requiresGrad = requiresGrad
  }

  public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
    self.init(shape: shape, data: [Float](repeating: 0, count: shape.product), requiresGrad: requiresGrad)
  }

  public convenience init(filled value: Float, shape: [Int], requiresGrad: Bool = false) {
    self.init(shape: shape, data: [Float](repeating: value, count: shape.product), requiresGrad: requiresGrad)
  }

  public convenience init(scalar: Float, requiresGrad: Bool = false) {
    self.init(shape: [], data: [scalar], requiresGrad: requiresGrad)
  }

  /// Normal(mean, std) entries from `rng`.
  public convenience init(randn shape: [Int], std: Float = 1, mean: Float = 0, rng: inout RNG, requiresGrad: Bool = false) {
    let data = (0..<shape.product).map { _ in mean + std * rng.normal() }
    self.init(shape: shape, data: data, requiresGrad: requiresGrad)
  }

  /// Uniform [lo, hi) entries from `rng`.
  public convenience init(uniform shape: [Int], _ lo: Float, _ hi: Float, rng: inout RNG, requiresGrad: Bool = false) {
    let data = (0..<shape.product).map { _ in rng.uniform(lo, hi) }
    self.init(shape: shape, data: data, requiresGrad: requiresGrad)
  }

  public var count: Int { data.count }
  public var rank: Int { shape.count }

  /// The single value of a one-element tensor.
  public var item: Float {
    check(data.count == 1, "item: tensor of shape \(shape) has \(data.count) elements, expected 1")
    return data[0]
  }

  /// Size of dimension `axis`, negative counting from the end.
  public func dim(_ axis: Int) -> Int { shape[normalizeAxis(axis, rank: rank, op: "dim")] }

  /// A copy cut off from the graph.
  public func detached() -> Tensor { Tensor(shape: shape, data: data) }

  /// Replaces the values in place (e.g. optimiser updates); the shape must match.
  public func assign(_ values: [Float]) {
    check(values.count == data.count, "assign: \(values.count) values for tensor of shape \(shape)")
    data = values
  }

  public func zeroGrad() { grad = nil }

  /// Adds `g` into this tensor's gradient, allocating it if needed.

  public func accumulateGrad(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
    if grad == nil { grad = [Float](repeating: 0, count: data.count) }
    grad!.withUnsafeMutableBufferPointer { body($0) }
  }

  /// Adds `g` to the gradient. The first contribution becomes the gradient as it is, instead of
  /// being added to a freshly zeroed buffer.
  public func accumulateGrad(_ g: [Float]) {
    check(g.count == data.count, "accumulateGrad: \(g.count) values for a tensor of \(data.count)")
    if grad == nil { grad = g; return }
    grad!.withUnsafeMutableBufferPointer { d in
      g.withUnsafeBufferPointer { s in
        // Plain pointers: the loop then vectorises.
        let dp = d.baseAddress!, sp = s.baseAddress!
        Threading.parallelFor(d.count, grain: 16384) { r in for i in r { dp[i] += sp[i] } }
      }
    }
  }

}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let head = data.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
    return "Tensor(\(shape), [\(head)\(data.count > 8 ? ", …" : "")])"
  }
}

extension Array where Element == Int {
  /// Product of the dimensions; 1 for a scalar shape `[]`.
  @inlinable public var product: Int { reduce(1, *) }
}

/// Maps a possibly negative axis to 0..<rank, trapping with the op's name when out of range.

func normalizeAxis(_ axis: Int, rank: Int, op: String) -> Int {
  let a = axis < 0 ? axis + rank : axis
  check(a >= 0 && a < Swift.max(rank, 1), "\(op): axis \(axis) out of range for rank \(rank)")
  return a
}

/// Row-major strides of a shape.

func stridesOf(_ shape: [Int]) -> [Int] {
  var s = [Int](repeating: 1, count: shape.count)
  var acc = 1
  for i in stride(from: shape.count - 1, through: 0, by: -1) {
    s[i] = acc
    acc *= shape[i]
  }
  return s
}
