import Foundation
import Testing

@testable import Backbone
import Tensor

/// Real ImageNet lite0 weights against Scripts/make_fixtures_backbone.py's float64 NumPy forward.
@Suite("lite0 golden features (real weights)")
struct GoldenTests {
  /// Fails (never skips) when the weights are missing: the test script fetches them.
  func loadLite0() throws -> EfficientNet {
    let path = lite0WeightsPath()
    guard FileManager.default.fileExists(atPath: path) else {
      Issue.record("missing \(path): run Scripts/fetch_weights.sh (Scripts/test.sh does) to fetch and convert the lite0 weights")
      throw BackboneError.unreadableFile(path: path, reason: "not fetched")
    }
    return try EfficientNet(config: .named("lite0"), safetensorsPath: path)
  }

  @Test(arguments: [0, 1])
  func stagesAndNeckMatchNumPy(image k: Int) throws {
    let net = try loadLite0()
    let input = try NPY.read(fixture("input_\(k).npy"))
    let size = input.shape[1]
    let stages = try net.stageFeatures(input.reshaped([1] + input.shape))
    #expect(stages.map { $0.shape[1] } == [16, 24, 40, 112])
    for (i, s) in stages.enumerated() {
      let ref = try NPY.read(fixture("stage\(i + 1)_\(k).npy"))
      let got = s.reshaped(Array(s.shape.dropFirst()))
      let m = closeness(got, ref)
      #expect(m == nil, "image \(k) stage \(i + 1) (stride \(2 << i)): \(m ?? "")")
    }
    for resize in NeckResize.allCases {
      let neck = MFCNNeck(inputSize: size, resize: resize)
      let tokens = MFCNNeck.tokens(neck(stages))
      let name = resize == .area ? "area" : "bilinear"
      let ref = try NPY.read(fixture("neck_\(name)_\(k).npy"))
      #expect(tokens.shape == [1, (size / 16) * (size / 16), 192])
      let m = closeness(tokens.reshaped(ref.shape), ref)
      #expect(m == nil, "image \(k) neck \(resize.rawValue): \(m ?? "")")
    }
  }

  @Test func weightsIdentityIsTheFileHash() throws {
    let net = try loadLite0()
    let again = try EfficientNet(config: .named("lite0"), safetensorsPath: lite0WeightsPath())
    #expect(net.weightsIdentity.hasPrefix("fnv1a64:") && net.weightsIdentity == again.weightsIdentity)
    #expect(net.padding == .same)
  }
}

extension GoldenTests {
  /// The comparison is sharp enough to see a one-pixel padding change: symmetric padding on the
  /// stride-2 convolutions must NOT match the reference.
  @Test func symmetricPaddingDoesNotMatch() throws {
    _ = try loadLite0()
    let file = try SafeTensorsFile(path: lite0WeightsPath())
    let net = try EfficientNet(config: .named("lite0"), weights: file, bnEpsilon: 1e-3, padding: .symmetric, weightsIdentity: "x")
    let input = try NPY.read(fixture("input_0.npy"))
    let stage1 = try net.stageFeatures(input.reshaped([1] + input.shape))[0]
    let ref = try NPY.read(fixture("stage1_0.npy"))
    #expect(closeness(stage1.reshaped(ref.shape), ref) != nil)
  }
}
