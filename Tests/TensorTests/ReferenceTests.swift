import Foundation
import Testing

@testable import Tensor
import TestSupport

/// Forward values against NumPy (Scripts/make_fixtures_tensor.py → Tests/Fixtures/tensor).
@Suite("Forward values against NumPy references")
struct ReferenceTests {
  let ref: [String: [String: AnyFixtureValue]]
  init() throws { ref = try loadTensorReference() }

  @Test(arguments: ["conv_plain", "conv_stride_asym", "conv_groups", "conv_depthwise", "conv_pointwise"])
  func conv2d(_ name: String) throws {
    let c = try #require(ref[name])
    let p = c["padding"]!.ints
    let pad = Padding2d(top: p[0], left: p[1], bottom: p[2], right: p[3])
    let args = (stride: c["stride"]!.int, groups: c["groups"]!.int)
    let y = Tensor.conv2d(c["x"]!.tensor, weight: c["weight"]!.tensor, bias: c["bias"]!.tensor,
                          stride: args.stride, padding: pad, groups: args.groups)
    #expect(y.shape == c["y"]!.tensor.shape)
    expectClose(y.data, c["y"]!.tensor.data, atol: 1e-4, name)
    let plain = Tensor.conv2dReference(c["x"]!.tensor, weight: c["weight"]!.tensor, bias: c["bias"]!.tensor,
                                       stride: args.stride, padding: pad, groups: args.groups)
    expectClose(plain.data, c["y"]!.tensor.data, atol: 1e-4, "\(name) (im2col path)")
  }

  @Test func softmax() throws {
    let c = try #require(ref["softmax"])
    expectClose(c["x"]!.tensor.softmax().data, c["y"]!.tensor.data, atol: 1e-6, "softmax")
    let logs = c["x"]!.tensor.logSoftmax().data
    expectClose(logs.map { Foundation.exp($0) }, c["y"]!.tensor.data, atol: 1e-6, "exp(log_softmax)")
  }

  @Test func layerNorm() throws {
    let c = try #require(ref["layer_norm"])
    let y = Tensor.layerNorm(c["x"]!.tensor, weight: c["weight"]!.tensor, bias: c["bias"]!.tensor)
    expectClose(y.data, c["y"]!.tensor.data, atol: 1e-5, "layer_norm")
  }

  @Test func attention() throws {
    let c = try #require(ref["attention"])
    let y = Tensor.attention(q: c["q"]!.tensor, k: c["k"]!.tensor, v: c["v"]!.tensor, heads: c["heads"]!.int)
    #expect(y.shape == c["y"]!.tensor.shape)
    expectClose(y.data, c["y"]!.tensor.data, atol: 1e-5, "attention")
  }

  @Test(arguments: ["resize_up", "resize_down", "resize_up_align", "resize_down_align"])
  func bilinearResize(_ name: String) throws {
    let c = try #require(ref[name])
    let y = c["x"]!.tensor.resizeBilinear(height: c["height"]!.int, width: c["width"]!.int, alignCorners: c["align_corners"]!.bool)
    #expect(y.shape == c["y"]!.tensor.shape)
    expectClose(y.data, c["y"]!.tensor.data, atol: 1e-5, name)
  }

  @Test func singularValues() throws {
    let c = try #require(ref["singular_values"])
    expectClose(try c["x"]!.tensor.singularValues().data, c["y"]!.tensor.data, atol: 1e-5, "singular values")
  }

  @Test func adamWTrajectory() throws {
    let c = try #require(ref["adamw"])
    let store = ParameterStore()
    let w = store.add("w", c["w0"]!.tensor)
    let betas = c["betas"]!.floats
    let opt = AdamW(params: store, learningRate: c["lr"]!.float, betas: (betas[0], betas[1]),
                    eps: c["eps"]!.float, weightDecay: c["weight_decay"]!.float)
    for (g, expected) in zip(c["grads"]!.tensors, c["trajectory"]!.tensors) {
      w.grad = g.data
      opt.step()
      expectClose(w.data, expected.data, atol: 1e-6, "AdamW step \(opt.stepCount)")
    }
  }

  @Test func sgdMomentumTrajectory() throws {
    let c = try #require(ref["sgd_momentum"])
    let store = ParameterStore()
    let w = store.add("w", c["w0"]!.tensor)
    let opt = SGD(params: store, learningRate: c["lr"]!.float, momentum: c["momentum"]!.float,
                  weightDecay: c["weight_decay"]!.float)
    for (g, expected) in zip(c["grads"]!.tensors, c["trajectory"]!.tensors) {
      w.grad = g.data
      opt.step()
      expectClose(w.data, expected.data, atol: 1e-6, "SGD step \(opt.stepCount)")
    }
  }
}
