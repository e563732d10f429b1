import Foundation
import Testing
import TestSupport

@testable import Backbone
import Tensor

@Suite("weights: safetensors and loading errors")
struct WeightLoadingTests {
  func randomLite0Weights() throws -> [String: Tensor] {
    EfficientNetLayout(try .named("lite0")).randomTensors(seed: 1)
  }

  @Test func missingTensorNamesItAndItsShape() throws {
    var t = try randomLite0Weights()
    t["_blocks.3._bn1.running_var"] = nil
    let err = #expect(throws: BackboneError.self) {
      try EfficientNet(config: .named("lite0"), weights: InMemoryWeights(name: "test.safetensors", tensors: t),
                       bnEpsilon: 1e-3, padding: .same, weightsIdentity: "x")
    }
    #expect(err == .missingTensor(source: "test.safetensors", tensor: "_blocks.3._bn1.running_var", expectedShape: [144]))
    #expect(err?.description.contains("_blocks.3._bn1.running_var") == true && err?.description.contains("[144]") == true)
  }

  @Test func misshapenTensorNamesBothShapes() throws {
    var t = try randomLite0Weights()
    t["_blocks.1._expand_conv.weight"] = Tensor(zeros: [96, 24, 1, 1])
    let err = #expect(throws: BackboneError.self) {
      try EfficientNet(config: .named("lite0"), weights: InMemoryWeights(name: "w", tensors: t),
                       bnEpsilon: 1e-3, padding: .same, weightsIdentity: "x")
    }
    let d = err?.description ?? ""
    #expect(d.contains("_blocks.1._expand_conv.weight") && d.contains("[96, 24, 1, 1]") && d.contains("[96, 16, 1, 1]"), "\(d)")
  }

  @Test func loadingWrongArchitectureFromFileFailsWithShapes() throws {
    // b0 weights (with SE) read as lite0 and lite0 read as b0 both fail by name, not by trap.
    let dir = try temporaryDirectory("arch")
    let path = dir.appendingPathComponent("lite0.safetensors").path
    try SafeTensorsFile.write(try randomLite0Weights(), to: path)
    #expect(throws: BackboneError.self) { try EfficientNet(config: .named("b0"), safetensorsPath: path) }
    _ = try EfficientNet(config: .named("lite0"), safetensorsPath: path)
  }

  @Test func batchNormIsFoldedIntoTheConvolution() throws {
    // One 1×1 conv + BN on a single pixel: folded output == (w·x − mean)·γ/√(var+ε) + β.
    let spec = ConvBNSpec(conv: "c", bn: "b", shape: [2, 1, 1, 1], stride: 1, groups: 1)
    let src = InMemoryWeights(name: "m", tensors: [
      "c.weight": Tensor(shape: [2, 1, 1, 1], data: [2, -1]), "b.weight": Tensor(shape: [2], data: [0.5, 3]),
      "b.bias": Tensor(shape: [2], data: [1, 0]), "b.running_mean": Tensor(shape: [2], data: [0.2, -1]),
      "b.running_var": Tensor(shape: [2], data: [4, 0.25]),
    ])
    let conv = try FoldedConv(spec, from: src, eps: 1e-3)
    let y = conv(Tensor(shape: [1, 1, 1, 1], data: [1.5]), .same).data
    let ref0 = (2 * 1.5 - 0.2) * 0.5 / (4 + 1e-3).squareRoot() + 1
    let ref1 = (-1 * 1.5 + 1) * 3 / (0.25 + 1e-3).squareRoot()
    #expect(abs(Double(y[0]) - ref0) < 1e-5 && abs(Double(y[1]) - ref1) < 1e-5, "\(y)")
  }

  @Test func safetensorsRoundTripAndHalfPrecision() throws {
    let dir = try temporaryDirectory("st")
    let path = dir.appendingPathComponent("a.safetensors").path
    let a = Tensor(shape: [2, 3], data: [1, -2, 3.5, 0, 1e-8, -7])
    try SafeTensorsFile.write(["a": a, "b": Tensor(shape: [1], data: [4])], metadata: ["k": "v"], to: path)
    let f = try SafeTensorsFile(path: path)
    #expect(f.metadata == ["k": "v"] && f.names == ["a", "b"])
    #expect(try f.tensor("a", shape: [2, 3]).data == a.data)
    // F16 [1, -2, 0.5, 65504, 2^-24 (subnormal)] and BF16 [1.5, -3] written by hand.
    let f16: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001], bf16: [UInt16] = [0x3FC0, 0xC040]
    let header = #"{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},"g":{"dtype":"BF16","shape":[2],"data_offsets":[10,14]}}"#
    var bytes = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: Array(header.utf8))
    for v in f16 + bf16 { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    let g = try SafeTensorsFile(data: bytes, path: "half.safetensors")
    #expect(try g.values(of: "h") == [1, -2, 0.5, 65504, Float(sign: .plus, exponent: -24, significand: 1)])
    #expect(try g.values(of: "g") == [1.5, -3])
  }

  @Test func malformedSafetensorsNameTheFile() throws {
    var bytes = Data()
    withUnsafeBytes(of: UInt64(1000).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: [0x7B, 0x7D])
    let e1 = #expect(throws: BackboneError.self) { try SafeTensorsFile(data: bytes, path: "short.safetensors") }
    #expect(e1?.description.contains("short.safetensors") == true && e1?.description.contains("header length 1000") == true)
    let header = #"{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
    var b2 = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { b2.append(contentsOf: $0) }
    b2.append(contentsOf: Array(header.utf8) + [UInt8](repeating: 0, count: 8))
    let e2 = #expect(throws: BackboneError.self) { try SafeTensorsFile(data: b2, path: "int.safetensors") }
    #expect(e2 == .unsupportedDType(path: "int.safetensors", tensor: "x", dtype: "I64"))
  }
}
