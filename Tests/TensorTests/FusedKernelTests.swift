import Testing

@testable import Tensor
import TestSupport

/// Fused kernels against plain versions composed of simpler ops (forward and every gradient).
@Suite("Fused kernels match plain versions")
struct FusedKernelTests {
  /// Runs `f` on fresh copies of `inputs` with seed `w`; returns output and input gradients.
  func run(_ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> ([Float], [[Float]]) {
    let xs = inputs.map { Tensor(shape: $0.shape, data: $0.data, requiresGrad: true) }
    let y = f(xs)
    var rng = RNG(seed: 5)
    y.backward(seed: (0..<y.count).map { _ in rng.uniform(-1, 1) })
    return (y.data, xs.map { $0.grad! })
  }

  @Test func attentionFusedVsComposed() {
    let inputs = [randn([2, 6, 16], seed: 1), randn([2, 9, 16], seed: 2), randn([2, 9, 8], seed: 3)]
    let fused = run(inputs) { Tensor.attention(q: $0[0], k: $0[1], v: $0[2], heads: 4) }
    let plain = run(inputs) { Tensor.attentionReference(q: $0[0], k: $0[1], v: $0[2], heads: 4) }
    expectClose(fused.0, plain.0, "attention output")
    for (i, name) in ["dq", "dk", "dv"].enumerated() { expectClose(fused.1[i], plain.1[i], name) }
  }

  /// 230 query rows over 600 keys: several row blocks, and rows of 16-lane chunks plus a tail;
  /// with dropout, the same mask drawn explicitly and applied to the plain probabilities.
  @Test func attentionBlocksAndDropoutVsComposed() {
    let inputs = [randn([1, 230, 8], seed: 11), randn([1, 600, 8], seed: 12), randn([1, 600, 4], seed: 13)]
    let p: Float = 0.2
    for dropout in [false, true] {
      let fused = run(inputs) { xs in
        var rng = RNG(seed: 8)
        return Tensor.attention(q: xs[0], k: xs[1], v: xs[2], heads: 2, dropout: dropout ? p : 0, rng: &rng)
      }
      let plain = run(inputs) { xs in
        var rng = RNG(seed: 8)
        let mask = Tensor(shape: [2, 230, 600], data: rng.uniforms(2 * 230 * 600).map { $0 >= p ? 1 / (1 - p) : 0 })
        return Tensor.attentionReference(q: xs[0], k: xs[1], v: xs[2], heads: 2, dropoutMask: dropout ? mask : nil)
      }
      expectClose(fused.0, plain.0, "attention output, dropout \(dropout)")
      for (i, name) in ["dq", "dk", "dv"].enumerated() { expectClose(fused.1[i], plain.1[i], "\(name), dropout \(dropout)") }
    }
  }

  @Test func depthwiseVsIm2col() {
    let inputs = [randn([2, 6, 9, 8], seed: 4), randn([6, 1, 3, 3], seed: 5), randn([6], seed: 6)]
    for stride in [1, 2] {
      let fused = run(inputs) { Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: stride, padding: Padding2d(1), groups: 6) }
      let plain = run(inputs) { Tensor.conv2dReference($0[0], weight: $0[1], bias: $0[2], stride: stride, padding: Padding2d(1), groups: 6) }
      expectClose(fused.0, plain.0, "depthwise output stride \(stride)")
      for (i, name) in ["dx", "dw", "db"].enumerated() { expectClose(fused.1[i], plain.1[i], "\(name) stride \(stride)") }
    }
  }

  /// TF-"same" asymmetric padding and 5×5 kernels, as EfficientNet uses them, and a row wide
  /// enough for 16-lane sums: the column-range logic of the direct kernel at every border, in
  /// the forward and in both gradients.
  @Test func depthwiseAsymmetricPaddingVsIm2col() {
    let cases: [(k: Int, stride: Int, pad: Padding2d, h: Int, w: Int)] = [
      (3, 2, Padding2d(top: 0, left: 0, bottom: 1, right: 1), 8, 8), (5, 2, Padding2d(top: 1, left: 1, bottom: 2, right: 2), 8, 10),
      (5, 1, Padding2d(2), 7, 6), (3, 2, Padding2d(top: 1, left: 1, bottom: 1, right: 1), 7, 9), (5, 2, .zero, 9, 9),
      (3, 1, Padding2d(1), 4, 41),
    ]
    for (i, c) in cases.enumerated() {
      let inputs = [randn([1, 4, c.h, c.w], seed: UInt64(20 + i)), randn([4, 1, c.k, c.k], seed: UInt64(40 + i))]
      let fused = run(inputs) { Tensor.conv2d($0[0], weight: $0[1], bias: nil, stride: c.stride, padding: c.pad, groups: 4) }
      let plain = run(inputs) { Tensor.conv2dReference($0[0], weight: $0[1], bias: nil, stride: c.stride, padding: c.pad, groups: 4) }
      expectClose(fused.0, plain.0, "depthwise k\(c.k) stride \(c.stride) pad \(c.pad)")
      for (j, name) in ["dx", "dw"].enumerated() { expectClose(fused.1[j], plain.1[j], "\(name) k\(c.k) stride \(c.stride) pad \(c.pad)") }
    }
  }

  /// The token-layout depthwise convolution against conv2d on the grid between two transposes:
  /// 3×3 "same" on a 5×7 grid, an asymmetric 5×5 padding, a shrinking unpadded one; 19 channels
  /// (vector lanes and a tail), with and without bias.
  @Test func depthwiseTokensVsGrid() {
    let cases: [(k: Int, pad: Padding2d, h: Int, w: Int, c: Int, bias: Bool)] = [
      (3, Padding2d(1), 5, 7, 19, true), (5, Padding2d(top: 2, left: 1, bottom: 2, right: 1), 6, 5, 4, true),
      (3, .zero, 4, 6, 3, false),
    ]
    for (i, t) in cases.enumerated() {
      let all = [randn([2, t.h * t.w, t.c], seed: UInt64(60 + i)), randn([t.c, 1, t.k, t.k], seed: UInt64(70 + i)),
                 randn([t.c], seed: UInt64(80 + i))]
      let inputs = t.bias ? all : Array(all.prefix(2))
      let ho = t.h + t.pad.top + t.pad.bottom - t.k + 1, wo = t.w + t.pad.left + t.pad.right - t.k + 1
      let fused = run(inputs) {
        Tensor.depthwiseConv2dTokens($0[0], height: t.h, width: t.w, weight: $0[1], bias: t.bias ? $0[2] : nil, padding: t.pad)
      }
      let plain = run(inputs) { xs in
        let grid = xs[0].transposed(1, 2).reshaped([2, t.c, t.h, t.w])
        let y = Tensor.conv2dReference(grid, weight: xs[1], bias: t.bias ? xs[2] : nil, padding: t.pad, groups: t.c)
        return y.reshaped([2, t.c, ho * wo]).transposed(1, 2)
      }
      expectClose(fused.0, plain.0, "depthwise tokens, case \(i)")
      for (j, name) in ["dx", "dw", "db"].prefix(inputs.count).enumerated() {
        expectClose(fused.1[j], plain.1[j], "\(name), case \(i)")
      }
    }
    let x = randn([3, 25, 11], seed: 90), w = randn([11, 1, 3, 3], seed: 91), b = randn([11], seed: 92)
    let grads = [1, 4].map { threads in
      Threading.withThreads(threads) {
        run([x, w, b]) { Tensor.depthwiseConv2dTokens($0[0], height: 5, width: 5, weight: $0[1], bias: $0[2], padding: Padding2d(1)) }.1
      }
    }
    #expect(grads[0] == grads[1], "gradients depend on the thread count")
  }

  /// Rows of 12 (a tail only) and 40 (16-lane sums and a tail).
  @Test func layerNormFusedVsComposed() {
    for c in [12, 40] {
      let inputs = [randn([5, c], seed: 7, std: 3), randn([c], seed: 8), randn([c], seed: 9)]
      let fused = run(inputs) { Tensor.layerNorm($0[0], weight: $0[1], bias: $0[2]) }
      let plain = run(inputs) { xs in
        let mu = xs[0].mean(axes: [-1], keepDims: true)
        let centered = xs[0] - mu
        let variance = centered.square().mean(axes: [-1], keepDims: true)
        return centered / (variance + 1e-5).sqrt() * xs[1] + xs[2]
      }
      expectClose(fused.0, plain.0, "layer norm output, \(c) channels")
      for (i, name) in ["dx", "dw", "db"].enumerated() { expectClose(fused.1[i], plain.1[i], atol: 1e-4, "\(name), \(c) channels") }
    }
  }

  @Test func linearVsMatmul() {
    let inputs = [randn([2, 3, 5], seed: 10), randn([4, 5], seed: 11), randn([4], seed: 12)]
    let fused = run(inputs) { Tensor.linear($0[0], weight: $0[1], bias: $0[2]) }
    let plain = run(inputs) { Tensor.matmul($0[0], $0[1], transposeB: true) + $0[2] }
    expectClose(fused.0, plain.0, "linear output")
    for (i, name) in ["dx", "dw", "db"].enumerated() { expectClose(fused.1[i], plain.1[i], name) }
  }

  @Test func crossEntropyVsLogSoftmax() {
    let labels = [2, 0, 1]
    let inputs = [randn([3, 4], seed: 13, std: 2)]
    let fused = run(inputs) { Tensor.crossEntropy(logits: $0[0], labels: labels) }
    let oneHot = Tensor(shape: [3, 4], data: (0..<12).map { labels[$0 / 4] == $0 % 4 ? 1 : 0 })
    let plain = run(inputs) { -($0[0].logSoftmax() * oneHot).sum() / 3 }
    expectClose(fused.0, plain.0, "cross entropy")
    expectClose(fused.1[0], plain.1[0], "d logits")
  }

  @Test func matmulAgainstNaiveLoops() {
    let a = randn([7, 5], seed: 14), b = randn([5, 6], seed: 15)
    let y = Tensor.matmul(a, b)
    var naive = [Float](repeating: 0, count: 42)
    for i in 0..<7 { for j in 0..<6 { for k in 0..<5 { naive[i * 6 + j] += a.data[i * 5 + k] * b.data[k * 6 + j] } } }
    expectClose(y.data, naive, "sgemm vs loops")
  }
}

@Suite("S6 selective scan")
struct SelectiveScanTests {
  /// Inputs in Mamba's ranges: Δ > 0 (softplus output), A < 0.
  func inputs(bs: Int, len: Int, e: Int, n: Int) -> [Tensor] {
    var rng = RNG(seed: 77)
    let delta = Tensor(uniform: [bs, len, e], 0.05, 0.6, rng: &rng)
    let a = Tensor(uniform: [e, n], -2, -0.2, rng: &rng)
    return [randn([bs, len, e], seed: 1), delta, a, randn([bs, len, n], seed: 2), randn([bs, len, n], seed: 3), randn([e], seed: 4)]
  }

  /// One chunk, and 37 steps: two whole chunks the backward recomputes plus a partial one.
  /// Channels run 8 to a vector: 5 is a partial block only, 19 two whole blocks and a partial one.
  /// With `softplus`, delta holds pre-activations around Mamba's initial range (Δ ≈ 0.002…0.7).
  @Test(arguments: [false, true]) func fusedMatchesPlain(softplus: Bool) {
    for (len, n, e) in [(7, 4, 5), (37, 20, 5), (37, 3, 19)] {
      var xs = inputs(bs: 2, len: len, e: e, n: n)
      if softplus { xs[1] = xs[1] * 10 - 6 }
      let fused = FusedKernelTests().run(xs) {
        Tensor.selectiveScan(u: $0[0], delta: $0[1], a: $0[2], b: $0[3], c: $0[4], d: $0[5], deltaSoftplus: softplus)
      }
      let plain = FusedKernelTests().run(xs) {
        Tensor.selectiveScanReference(u: $0[0], delta: $0[1], a: $0[2], b: $0[3], c: $0[4], d: $0[5], deltaSoftplus: softplus)
      }
      expectClose(fused.0, plain.0, "y, length \(len), softplus \(softplus)")
      for (i, name) in ["du", "ddelta", "dA", "dB", "dC", "dD"].enumerated() {
        expectClose(fused.1[i], plain.1[i], atol: 1e-4, "\(name), length \(len), softplus \(softplus)")
      }
    }
  }

  @Test(arguments: [false, true]) func fusedMatchesFiniteDifferences(softplus: Bool) {
    for len in [5, 19] {
      var xs = inputs(bs: 2, len: len, e: 3, n: 4)
      if softplus { xs[1] = xs[1] * 4 - 2 }
      checkGradient("selective_scan", xs, eps: 1e-3) {
        Tensor.selectiveScan(u: $0[0], delta: $0[1], a: $0[2], b: $0[3], c: $0[4], d: $0[5], deltaSoftplus: softplus)
      }
    }
  }

  @Test func resultDoesNotDependOnThreadCount() {
    func run(threads: Int) -> [Float] {
      Threading.withThreads(threads) {
        FusedKernelTests().run(inputs(bs: 3, len: 21, e: 9, n: 4)) {
          Tensor.selectiveScan(u: $0[0], delta: $0[1], a: $0[2], b: $0[3], c: $0[4], d: $0[5])
        }.1.flatMap { $0 }
      }
    }
    #expect(Threading.withThreads(1) { Threading.threads } == 1)
    #expect(run(threads: 1) == run(threads: 4))
  }
}

/// The FFN's first half fused (linear → ReLU → dropout) against the three ops composed: the same
/// draws, the same float operations, so outputs and every gradient are bit-identical.
@Suite("Fused linear + ReLU + dropout")
struct LinearReluDropoutTests {
  @Test func bitIdenticalToTheComposedOps() {
    let all = [randn([3, 5, 16], seed: 31), randn([40, 16], seed: 32, std: 0.3), randn([40], seed: 33)]
    for p: Float in [0, 0.3] {
      for withBias in [true, false] {
        let inputs = withBias ? all : Array(all.prefix(2))
        let fused = FusedKernelTests().run(inputs) { xs in
          var rng = RNG(seed: 9)
          return Tensor.linearReluDropout(xs[0], weight: xs[1], bias: withBias ? xs[2] : nil, dropout: p, rng: &rng)
        }
        let plain = FusedKernelTests().run(inputs) { xs in
          var rng = RNG(seed: 9)
          return Tensor.linear(xs[0], weight: xs[1], bias: withBias ? xs[2] : nil).relu().dropout(p, rng: &rng)
        }
        #expect(fused.0 == plain.0, "output, p \(p), bias \(withBias)")
        for (i, name) in ["dx", "dW", "db"].prefix(inputs.count).enumerated() {
          #expect(fused.1[i] == plain.1[i], "\(name), p \(p), bias \(withBias)")
        }
        #expect(fused.0.contains(0) && fused.0.contains { $0 > 0 }, "both ReLU sides (and, with p > 0, dropped elements) occur")
      }
    }
  }

  @Test func gradientMatchesFiniteDifferences() {
    // Inputs away from the ReLU kink (|pre| ≥ 0.05) so central differences do not straddle it.
    let x = randn([4, 6], seed: 41), w = randn([5, 6], seed: 42, std: 0.5), b = randn([5], seed: 43)
    let pre = Tensor.linear(x, weight: w, bias: b).data
    for (i, v) in pre.enumerated() where abs(v) < 0.05 { b.data[i % 5] += 0.1 }
    let mismatch = gradientMismatch("linear_relu_dropout", [x, w, b], eps: 1e-3, atol: 2e-3, rtol: 2e-2, maxChecks: 40) {
      var rng = RNG(seed: 6)  // the same mask on every evaluation
      return Tensor.linearReluDropout(x, weight: w, bias: b, dropout: 0.25, rng: &rng)
    }
    #expect(mismatch == nil, "\(mismatch ?? "")")
  }
}

/// Binary ops where one shape is a suffix of the other (a positional embedding added to a batch)
/// take contiguous row loops; against the smaller operand broadcast explicitly first, which goes
/// through the general index walk: the same bits, gradients included, for all four ops, either
/// operand the row, and rows that split across threads.
@Suite("Row broadcast")
struct RowBroadcastTests {
  @Test func bitIdenticalToTheExplicitBroadcast() {
    let ops: [(String, (Tensor, Tensor) -> Tensor)] = [("+", { $0 + $1 }), ("-", { $0 - $1 }), ("*", { $0 * $1 }), ("/", { $0 / $1 })]
    for (big, row) in [([3, 5, 7], [5, 7]), ([40, 9, 70], [70]), ([4, 6], [6])] {
      let x = randn(big, seed: 71), r = randn(row, seed: 72) + 3  // away from 0 for the division
      for (name, op) in ops {
        for rowFirst in [false, true] {
          let inputs = rowFirst ? [r, x] : [x, r]
          let fast = FusedKernelTests().run(inputs) { op($0[0], $0[1]) }
          let walk = FusedKernelTests().run(inputs) { xs in
            rowFirst ? op(xs[0].broadcast(to: big), xs[1]) : op(xs[0], xs[1].broadcast(to: big))
          }
          #expect(fast.0 == walk.0, "\(big) \(name) \(row), row first \(rowFirst)")
          #expect(fast.1 == walk.1, "gradients of \(big) \(name) \(row), row first \(rowFirst)")
        }
      }
    }
  }
}

/// ESSM's gate branch fused (linear → SiLU): the same float operations as the two ops composed.
@Suite("Fused linear + SiLU")
struct LinearSiLUTests {
  @Test func bitIdenticalToTheComposedOps() {
    let all = [randn([2, 9, 12], seed: 35), randn([20, 12], seed: 36, std: 0.4), randn([20], seed: 37)]
    for withBias in [true, false] {
      let inputs = withBias ? all : Array(all.prefix(2))
      let fused = FusedKernelTests().run(inputs) { Tensor.linearSiLU($0[0], weight: $0[1], bias: withBias ? $0[2] : nil) }
      let plain = FusedKernelTests().run(inputs) { Tensor.linear($0[0], weight: $0[1], bias: withBias ? $0[2] : nil).silu() }
      #expect(fused.0 == plain.0, "output, bias \(withBias)")
      for (i, name) in ["dx", "dW", "db"].prefix(inputs.count).enumerated() {
        #expect(fused.1[i] == plain.1[i], "\(name), bias \(withBias)")
      }
    }
  }

  @Test func gradientMatchesFiniteDifferences() {
    checkGradient("linear_silu", [randn([4, 6], seed: 38), randn([5, 6], seed: 39, std: 0.5), randn([5], seed: 40)], eps: 1e-3) {
      Tensor.linearSiLU($0[0], weight: $0[1], bias: $0[2])
    }
  }
}

/// The post-norm residual join fused (x + dropout(y) → layer norm) against the ops composed:
/// bit-identical outputs and gradients, and finite differences.
@Suite("Fused residual + dropout + layer norm")
struct ResidualDropoutLayerNormTests {
  @Test func bitIdenticalToTheComposedOps() {
    let all = [randn([2, 7, 24], seed: 51), randn([2, 7, 24], seed: 52), randn([24], seed: 53), randn([24], seed: 54)]
    for p: Float in [0, 0.3] {
      for affine in [true, false] {
        let inputs = affine ? all : Array(all.prefix(2))
        let fused = FusedKernelTests().run(inputs) { xs in
          var rng = RNG(seed: 3)
          return Tensor.residualDropoutLayerNorm(xs[0], xs[1], dropout: p, rng: &rng, weight: affine ? xs[2] : nil, bias: affine ? xs[3] : nil)
        }
        let plain = FusedKernelTests().run(inputs) { xs in
          var rng = RNG(seed: 3)
          let branch = p > 0 ? xs[1].dropout(p, rng: &rng) : xs[1]
          return Tensor.layerNorm(xs[0] + branch, weight: affine ? xs[2] : nil, bias: affine ? xs[3] : nil)
        }
        #expect(fused.0 == plain.0, "output, p \(p), affine \(affine)")
        for (i, name) in ["dx", "dy", "dweight", "dbias"].prefix(inputs.count).enumerated() {
          #expect(fused.1[i] == plain.1[i], "\(name), p \(p), affine \(affine)")
        }
      }
    }
  }

  @Test func gradientMatchesFiniteDifferences() {
    let xs = [randn([3, 10], seed: 61), randn([3, 10], seed: 62), randn([10], seed: 63), randn([10], seed: 64)]
    let mismatch = gradientMismatch("residual_dropout_layer_norm", xs, eps: 1e-3, atol: 2e-3, rtol: 2e-2, maxChecks: 30) {
      var rng = RNG(seed: 8)  // the same mask on every evaluation
      return Tensor.residualDropoutLayerNorm(xs[0], xs[1], dropout: 0.2, rng: &rng, weight: xs[2], bias: xs[3])
    }
    #expect(mismatch == nil, "\(mismatch ?? "")")
  }
}
