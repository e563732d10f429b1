import Testing

@testable import Backbone
import Tensor

@Suite("EfficientNet configurations")
struct ArchitectureTests {
  @Test func b4RandomWeightsGive272ChannelsAt224() throws {
    let config = try EfficientNetConfig.named("efficientnet-b4")
    #expect(config.featureChannels == [24, 32, 56, 160])
    #expect(config.featureBlocks == [1, 5, 9, 21])  // UniAD's outblocks for b4
    let extractor = try FeatureExtractor(backbone: .random(config: config, seed: 3), inputSize: 224)
    var rng = RNG(seed: 5)
    let maps = try extractor.neckMaps(Tensor(randn: [1, 3, 224, 224], rng: &rng))
    #expect(maps.shape == [1, 272, 14, 14])
    #expect(maps.data.allSatisfy { $0.isFinite })
    #expect(extractor.backboneEvaluations == 1)
  }

  @Test func lite0Gives192Channels() throws {
    let config = try EfficientNetConfig.named("lite0")
    #expect(config.featureChannels == [16, 24, 40, 112] && config.neckChannels == 192)
    #expect(config.blocks.count == 16 && config.featureBlocks == [0, 2, 4, 10])
    let extractor = try FeatureExtractor(backbone: .random(config: config), inputSize: 224)
    var rng = RNG(seed: 6)
    let tokens = try extractor.features(Tensor(randn: [2, 3, 224, 224], rng: &rng))
    #expect(tokens.shape == [2, 196, 192])
  }

  /// Block counts and widths as lukemelas / efficientnet-lite-pytorch build them.
  @Test func scaledWidthsAndDepths() throws {
    let expected: [(String, blocks: Int, stem: Int, channels: [Int])] = [
      ("b0", 16, 32, [16, 24, 40, 112]), ("b1", 23, 32, [16, 24, 40, 112]),
      ("b2", 23, 32, [16, 24, 48, 120]), ("b3", 26, 40, [24, 32, 48, 136]),
      ("b5", 39, 48, [24, 40, 64, 176]), ("b6", 45, 56, [32, 40, 72, 200]),
      ("b7", 55, 64, [32, 48, 80, 224]),
      ("lite1", 21, 32, [16, 24, 40, 112]), ("lite4", 30, 32, [24, 32, 56, 160]),
    ]
    for (name, blocks, stem, channels) in expected {
      let c = try EfficientNetConfig.named(name)
      #expect(c.blocks.count == blocks && c.stemChannels == stem && c.featureChannels == channels, "\(name)")
    }
    #expect(try EfficientNetConfig.named("lite2").activation == .relu6)
    #expect(try EfficientNetConfig.named("lite2").blocks.allSatisfy { $0.seRatio == nil })
    #expect(try EfficientNetConfig.named("b2").blocks.allSatisfy { $0.seRatio == 0.25 })
    #expect(try EfficientNetConfig.named("lite4").blocks[0].inputFilters == 32)  // fixed stem
  }

  @Test func unknownNameAndBadSizeAreErrors() throws {
    #expect(throws: BackboneError.self) { try EfficientNetConfig.named("resnet50") }
    let net = EfficientNet.random(config: try .named("lite0"))
    #expect(throws: BackboneError.self) { try net.stageFeatures(Tensor(zeros: [1, 3, 40, 40])) }
    #expect(throws: BackboneError.self) { try FeatureExtractor(backbone: net, inputSize: 100) }
  }

  @Test func samePaddingIsAsymmetricLikeTensorFlow() {
    #expect(ConvPadding.same.padding(input: 224, kernel: 3, stride: 2) == (0, 1))
    #expect(ConvPadding.same.padding(input: 56, kernel: 5, stride: 2) == (1, 2))
    #expect(ConvPadding.same.padding(input: 28, kernel: 5, stride: 1) == (2, 2))
    #expect(ConvPadding.symmetric.padding(input: 224, kernel: 3, stride: 2) == (1, 1))
  }
}
