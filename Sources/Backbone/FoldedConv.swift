import Foundation
import Tensor

// MARK: convolutions with batch norm folded in at load time, and their in-place activations

/// How convolutions pad: TF "same" (asymmetric, as the TF-trained lukemelas/lite and timm tf_
/// checkpoints expect) or PyTorch-style symmetric k/2 (timm's native checkpoints).
public enum ConvPadding: String, Sendable {
  case same, symmetric

  func padding(input: Int, kernel: Int, stride: Int) -> (before: Int, after: Int) {
    switch self {
    case .same:
      let out = (input + stride - 1) / stride
      let total = max((out - 1) * stride + kernel - input, 0)
      return (total / 2, total - total / 2)
    case .symmetric:
      let p = ((stride - 1) + (kernel - 1)) / 2
      return (p, p)
    }
  }
}

/// conv(x, w') + b' with w' = w·γ/√(var+ε), b' = β − mean·γ/√(var+ε): the frozen BN costs nothing.
struct FoldedConv {
  let weight: Tensor  // [O, C/groups, k, k]
  let bias: Tensor    // [O]
  let stride, groups: Int

  init(weight: Tensor, bias: Tensor, stride: Int, groups: Int) {
    self.weight = weight; self.bias = bias; self.stride = stride; self.groups = groups
  }

  init(_ spec: ConvBNSpec, from src: WeightSource, eps: Double) throws {
    let o = spec.shape[0]
    let w = try src.tensor(spec.conv + ".weight", shape: spec.shape)
    let gamma = try src.tensor(spec.bn + ".weight", shape: [o]).data
    let beta = try src.tensor(spec.bn + ".bias", shape: [o]).data
    let mean = try src.tensor(spec.bn + ".running_mean", shape: [o]).data
    let variance = try src.tensor(spec.bn + ".running_var", shape: [o]).data
    let per = w.count / o
    var folded = w.data, b = [Float](repeating: 0, count: o)
    for oc in 0..<o {
      let scale = Double(gamma[oc]) / (Double(variance[oc]) + eps).squareRoot()
      for j in 0..<per { folded[oc * per + j] = Float(Double(folded[oc * per + j]) * scale) }
      b[oc] = Float(Double(beta[oc]) - Double(mean[oc]) * scale)
    }
    self.init(weight: Tensor(shape: spec.shape, data: folded), bias: Tensor(shape: [o], data: b),
              stride: spec.stride, groups: spec.groups)
  }

  func callAsFunction(_ x: Tensor, _ mode: ConvPadding) -> Tensor {
    let k = weight.shape[2]
    let (t, b) = mode.padding(input: x.shape[2], kernel: k, stride: stride)
    let (l, r) = mode.padding(input: x.shape[3], kernel: k, stride: stride)
    return Tensor.conv2d(x, weight: weight, bias: bias, stride: stride,
                         padding: Padding2d(top: t, left: l, bottom: b, right: r), groups: groups)
  }
}

/// Applies the activation to `t` in place (inference only: `t` has no graph).
func activate(_ t: Tensor, _ a: Activation) {
  t.data.withUnsafeMutableBufferPointer { p in
    Threading.parallelFor(p.count, grain: 32768) { r in
      switch a {
      case .relu6: for i in r { p[i] = min(max(p[i], 0), 6) }
      case .swish: for i in r { p[i] = p[i] / (1 + expf(-p[i])) }
      }
    }
  }
}
