import Foundation
import Testing

@testable import Tensor
import TestSupport

/// A finite-difference check for every differentiable op of the engine.
@Suite("Gradients by finite differences")
struct GradientTests {
  // MARK: element-wise

  @Test func unaryOps() {
    // Inputs kept away from the kinks of relu/relu6 so central differences are valid there.
    let x = Tensor(shape: [3, 4], data: [-2.3, -1.1, -0.4, 0.3, 0.7, 1.2, 2.1, 3.4, -0.8, 0.55, 5.5, 6.6])
    let pos = Tensor(shape: [2, 3], data: [0.4, 0.9, 1.7, 2.5, 0.6, 3.1])
    checkGradient("relu", [x]) { $0[0].relu() }
    checkGradient("relu6", [x]) { $0[0].relu6() }
    checkGradient("gelu", [x]) { $0[0].gelu() }
    checkGradient("silu", [x]) { $0[0].silu() }
    checkGradient("softplus", [x]) { $0[0].softplus() }
    checkGradient("sigmoid", [x]) { $0[0].sigmoid() }
    checkGradient("tanh", [x]) { $0[0].tanh() }
    checkGradient("exp", [x], rtol: 3e-2) { $0[0].exp() }
    checkGradient("log", [pos], eps: 1e-3) { $0[0].log() }
    checkGradient("sqrt", [pos], eps: 1e-3) { $0[0].sqrt() }
    checkGradient("square", [x]) { $0[0].square() }
  }

  @Test func scalarOps() {
    let x = randn([2, 5], seed: 1)
    checkGradient("mul_scalar", [x]) { $0[0] * 2.5 }
    checkGradient("add_scalar", [x]) { $0[0] + 1.5 }
    checkGradient("rsub_scalar", [x]) { 3 - $0[0] }
    checkGradient("div_scalar", [x]) { $0[0] / 4 }
    checkGradient("neg", [x]) { -$0[0] }
  }

  @Test func broadcastingBinaryOps() {
    let a = randn([2, 3, 4], seed: 2), b = randn([3, 1], seed: 3)
    let denom = Tensor(shape: [4], data: [1.5, -2.0, 0.8, 3.0])
    checkGradient("add", [a, b]) { $0[0] + $0[1] }
    checkGradient("sub", [a, b]) { $0[0] - $0[1] }
    checkGradient("mul", [a, b]) { $0[0] * $0[1] }
    checkGradient("div", [a, denom], eps: 1e-3) { $0[0] / $0[1] }
    checkGradient("broadcast_to", [b]) { $0[0].broadcast(to: [2, 3, 4]) }
    checkGradient("add_same_shape", [a, randn([2, 3, 4], seed: 4)]) { $0[0] + $0[1] }
    checkGradient("mul_same_shape", [a, randn([2, 3, 4], seed: 5)]) { $0[0] * $0[1] }
  }

  // MARK: reductions and shapes

  @Test func reductions() {
    let x = randn([2, 3, 4], seed: 6)
    checkGradient("sum_all", [x]) { $0[0].sum() }
    checkGradient("sum_axes", [x]) { $0[0].sum(axes: [0, 2]) }
    checkGradient("mean_keepdims", [x]) { $0[0].mean(axes: [-1], keepDims: true) }
  }

  @Test func shapeOps() {
    let x = randn([2, 3, 4], seed: 8)
    checkGradient("reshape", [x]) { $0[0].reshaped([4, -1]) * $0[0].reshaped([4, 6]) }
    checkGradient("permute", [x]) { $0[0].permuted([2, 0, 1]) }
    checkGradient("transpose", [x]) { $0[0].transposed(0, 2) }
    checkGradient("slice", [x]) { $0[0].slice(axis: 1, 1..<3) }
    checkGradient("concat", [x, randn([2, 2, 4], seed: 9)]) { Tensor.concat([$0[0], $0[1], $0[0]], axis: 1) }
    checkGradient("gather_rows", [randn([5, 3], seed: 10)]) { $0[0].gatherRows([4, 0, 4, 2]) }
    checkGradient("select_axis1", [x]) { $0[0].select(axis: 1, [2, 0, 2]) }
  }

  // MARK: products

  @Test func matmulAllTransposes() {
    for ta in [false, true] {
      for tb in [false, true] {
        let a = randn(ta ? [4, 3] : [3, 4], seed: 11), b = randn(tb ? [5, 4] : [4, 5], seed: 12)
        checkGradient("matmul ta=\(ta) tb=\(tb)", [a, b]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
        let ba = randn(ta ? [2, 4, 3] : [2, 3, 4], seed: 13), bb = randn(tb ? [2, 5, 4] : [2, 4, 5], seed: 14)
        checkGradient("bmm ta=\(ta) tb=\(tb)", [ba, bb]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
        checkGradient("bmm shared b ta=\(ta) tb=\(tb)", [ba, b]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
      }
    }
  }

  @Test func linear() {
    checkGradient("linear", [randn([2, 3, 6], seed: 15), randn([4, 6], seed: 16), randn([4], seed: 17)]) {
      Tensor.linear($0[0], weight: $0[1], bias: $0[2])
    }
    checkGradient("linear_nobias", [randn([5, 6], seed: 18), randn([4, 6], seed: 19)]) {
      Tensor.linear($0[0], weight: $0[1], bias: nil)
    }
  }

  // MARK: normalisation, softmax, dropout

  @Test func softmaxFamily() {
    let x = randn([3, 6], seed: 20, std: 2)
    checkGradient("softmax", [x]) { $0[0].softmax() }
    checkGradient("log_softmax", [x]) { $0[0].logSoftmax() }
  }

  @Test func layerNorm() {
    checkGradient("layer_norm", [randn([4, 8], seed: 21, std: 2), randn([8], seed: 22), randn([8], seed: 23)]) {
      Tensor.layerNorm($0[0], weight: $0[1], bias: $0[2])
    }
    checkGradient("layer_norm_no_affine", [randn([3, 5], seed: 24)]) { Tensor.layerNorm($0[0], weight: nil, bias: nil) }
  }

  @Test func dropoutSeeded() {
    checkGradient("dropout", [randn([4, 6], seed: 25)]) { xs in
      var rng = RNG(seed: 5)  // same mask on every evaluation
      return xs[0].dropout(0.3, rng: &rng)
    }
  }

  // MARK: convolution, pooling, resize

  @Test func conv2dVariants() {
    let cases: [(String, [Int], [Int], Int, Padding2d, Int)] = [
      ("conv2d", [2, 3, 6, 5], [4, 3, 3, 3], 1, Padding2d(1), 1),
      ("conv2d_stride_asym", [1, 2, 7, 7], [3, 2, 3, 3], 2, Padding2d(top: 0, left: 0, bottom: 1, right: 1), 1),
      ("conv2d_groups", [2, 4, 5, 5], [6, 2, 3, 3], 1, Padding2d(1), 2),
      ("conv2d_depthwise", [2, 3, 6, 6], [3, 1, 3, 3], 1, Padding2d(1), 3),
      ("conv2d_depthwise_stride", [1, 4, 7, 7], [4, 1, 3, 3], 2, Padding2d(1), 4),
      ("conv2d_pointwise", [2, 4, 3, 3], [5, 4, 1, 1], 1, .zero, 1),
    ]
    for (name, xs, ws, stride, pad, groups) in cases {
      checkGradient(name, [randn(xs, seed: 26), randn(ws, seed: 27, std: 0.5), randn([ws[0]], seed: 28)]) {
        Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: stride, padding: pad, groups: groups)
      }
    }
  }

  @Test func depthwiseOnTokens() {
    for (pad, k) in [(Padding2d(1), 3), (Padding2d(top: 2, left: 1, bottom: 0, right: 1), 3)] {
      checkGradient("depthwise_conv2d_tokens k\(k) \(pad)", [randn([2, 20, 3], seed: 31), randn([3, 1, k, k], seed: 32, std: 0.5),
                                                           randn([3], seed: 33)]) {
        Tensor.depthwiseConv2dTokens($0[0], height: 4, width: 5, weight: $0[1], bias: $0[2], padding: pad)
      }
    }
  }

  @Test func pooling() {
    let x = randn([2, 2, 6, 7], seed: 29)
    checkGradient("avg_pool2d", [x]) { $0[0].avgPool2d(kernel: 2) }
    checkGradient("avg_pool2d_stride", [x]) { $0[0].avgPool2d(kernel: 3, stride: 2) }
    checkGradient("adaptive_avg_pool2d", [x]) { $0[0].adaptiveAvgPool2d(outputHeight: 4, outputWidth: 3) }
  }

  @Test func bilinearResize() {
    let x = randn([1, 2, 4, 5], seed: 30)
    for ac in [false, true] {
      checkGradient("resize_up align=\(ac)", [x]) { $0[0].resizeBilinear(height: 7, width: 9, alignCorners: ac) }
      checkGradient("resize_down align=\(ac)", [x]) { $0[0].resizeBilinear(height: 3, width: 2, alignCorners: ac) }
    }
  }

  // MARK: attention and losses

  @Test func attentionFused() {
    let q = randn([2, 4, 8], seed: 31), k = randn([2, 5, 8], seed: 32), v = randn([2, 5, 6], seed: 33)
    checkGradient("attention", [q, k, v]) { Tensor.attention(q: $0[0], k: $0[1], v: $0[2], heads: 2) }
    checkGradient("attention_dropout", [q, k, v]) { xs in
      var rng = RNG(seed: 3)
      return Tensor.attention(q: xs[0], k: xs[1], v: xs[2], heads: 2, dropout: 0.25, rng: &rng)
    }
    // q, k and v all one tensor: each role's gradient must be added.
    checkGradient("self_attention_shared_input", [randn([1, 5, 8], seed: 43)]) {
      Tensor.attention(q: $0[0], k: $0[0], v: $0[0], heads: 2)
    }
  }

  @Test func losses() {
    let logits = randn([4, 5], seed: 34, std: 2)
    checkGradient("cross_entropy", [logits]) { Tensor.crossEntropy(logits: $0[0], labels: [0, 3, 4, 1]) }
    checkGradient("mse", [randn([3, 4], seed: 35), randn([3, 4], seed: 36)]) { Tensor.mse($0[0], $0[1]) }
    checkGradient("kl_div", [logits, randn([4, 5], seed: 37)]) { Tensor.klDivergence(pLogits: $0[0], qLogits: $0[1]) }
  }

  @Test func singularValues() throws {
    try checkGradient("singular_values", [randn([6, 4], seed: 38)], eps: 1e-3) { try $0[0].singularValues() }
    try checkGradient("singular_values_wide", [randn([3, 5], seed: 39)], eps: 1e-3) { try $0[0].singularValues() }
    // The compression-loss shape: normalised spectrum, small values summed.
    try checkGradient("normalised_spectrum", [randn([5, 8], seed: 40)], eps: 1e-3) { xs in
      let s = try xs[0].singularValues()
      return (s / s.sum()).slice(axis: 0, 2..<5).sum()
    }
  }

  @Test func composedGraphReusesTensors() {
    // A tensor used by several ops must collect the sum of their gradients.
    checkGradient("reuse", [randn([3, 3], seed: 41)]) { xs in
      let x = xs[0]
      return Tensor.matmul(x, x) + x.sigmoid() * x
    }
  }
}

@Suite("The gradient checker itself")
struct GradientCheckerTests {
  @Test func catchesAWrongDerivative() {
    // sin with the derivative of cos: the checker must notice.
    let x = randn([2, 3], seed: 42)
    let wrong = gradientMismatch("wrong", [x], eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxChecks: 48) {
      x.map(op: "wrong_sin", { Foundation.sin($0) }, derivative: { x, _ in -Foundation.sin(x) })
    }
    #expect(wrong != nil)
    let right = gradientMismatch("right", [x], eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxChecks: 48) {
      x.map(op: "sin", { Foundation.sin($0) }, derivative: { x, _ in Foundation.cos(x) })
    }
    #expect(right == nil)
  }
}
