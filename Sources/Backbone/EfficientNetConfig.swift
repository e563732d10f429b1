import Foundation

// MARK: EfficientNet b0–b7 and lite0–lite4 block lists, scaled as lukemelas/efficientnet-pytorch
// and efficientnet-lite-pytorch do (round_filters / round_repeats, TF reference formulas).

public enum Activation: String, Sendable {
  case swish, relu6
}

/// One MBConv block after width/depth scaling.
public struct MBConvSpec: Equatable, Sendable {
  public let kernel, stride, expandRatio, inputFilters, outputFilters: Int
  /// Squeeze-excitation ratio of the *input* filters (0.25 for b0–b7), nil without SE (lite).
  public let seRatio: Double?
  public var expandedFilters: Int { inputFilters * expandRatio }
  public var squeezedFilters: Int? { seRatio.map { max(1, Int(Double(inputFilters) * $0)) } }
  public var hasSkip: Bool { stride == 1 && inputFilters == outputFilters }
}

public struct EfficientNetConfig: Equatable, Sendable {
  public let name: String
  public let activation: Activation
  public let stemChannels: Int
  /// Flat block list (the checkpoint's `_blocks.<i>` order).
  public let blocks: [MBConvSpec]
  /// Indices of the blocks whose outputs feed the neck: the last block at strides 2, 4, 8, 16
  /// (UniAD's `outblocks`, e.g. [1, 5, 9, 21] for b4).
  public let featureBlocks: [Int]
  public static let featureStrides = [2, 4, 8, 16]

  /// Channels of the four feature maps (b4: 24, 32, 56, 160).
  public var featureChannels: [Int] { featureBlocks.map { blocks[$0].outputFilters } }
  /// C_in of the neck output (b4: 272, lite0: 192).
  public var neckChannels: Int { featureChannels.reduce(0, +) }

  public static let names = (0...7).map { "efficientnet-b\($0)" } + (0...4).map { "efficientnet-lite\($0)" }

  /// Accepts "efficientnet-b4", "b4", "lite0" …
  public static func named(_ raw: String) throws -> EfficientNetConfig {
    let name = raw.hasPrefix("efficientnet-") ? raw : "efficientnet-" + raw
    guard let (w, d) = coefficients[name] else {
      throw BackboneError.unknownArchitecture(name: raw, known: names)
    }
    return build(name: name, width: w, depth: d, lite: name.contains("lite"))
  }

  // (width, depth) coefficients; the resolutions of the originals do not matter here.
  static let coefficients: [String: (Double, Double)] = [
    "efficientnet-b0": (1.0, 1.0), "efficientnet-b1": (1.0, 1.1), "efficientnet-b2": (1.1, 1.2),
    "efficientnet-b3": (1.2, 1.4), "efficientnet-b4": (1.4, 1.8), "efficientnet-b5": (1.6, 2.2),
    "efficientnet-b6": (1.8, 2.6), "efficientnet-b7": (2.0, 3.1),
    "efficientnet-lite0": (1.0, 1.0), "efficientnet-lite1": (1.0, 1.1), "efficientnet-lite2": (1.1, 1.2),
    "efficientnet-lite3": (1.2, 1.4), "efficientnet-lite4": (1.4, 1.8),
  ]

  /// The b0 stages: (repeats, kernel, stride, expand, in, out); the same for lite, minus SE.
  static let baseStages: [(r: Int, k: Int, s: Int, e: Int, i: Int, o: Int)] = [
    (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
  ]

  /// TF's round_filters: scale, round to a multiple of 8, never more than 10% below the scaled value.
  static func roundFilters(_ filters: Int, _ width: Double) -> Int {
    let divisor = 8.0, scaled = Double(filters) * width
    var rounded = max(divisor, (Double(Int(scaled + divisor / 2)) / divisor).rounded(.down) * divisor)
    if rounded < 0.9 * scaled { rounded += divisor }
    return Int(rounded)
  }

  static func roundRepeats(_ repeats: Int, _ depth: Double) -> Int { Int((depth * Double(repeats)).rounded(.up)) }

  static func build(name: String, width: Double, depth: Double, lite: Bool) -> EfficientNetConfig {
    // Lite keeps the stem at 32 channels and does not scale the first and last stages' depth
    // (efficientnet-lite-pytorch's fix_head_stem); its first block then takes 32 input channels.
    let stem = lite ? 32 : roundFilters(32, width)
    var blocks: [MBConvSpec] = []
    var featureBlocks: [Int] = []
    var stride = 2  // after the stem
    for (si, st) in baseStages.enumerated() {
      let fixed = lite && (si == 0 || si == baseStages.count - 1)
      let repeats = fixed ? st.r : roundRepeats(st.r, depth)
      let input = lite && si == 0 ? 32 : roundFilters(st.i, width)
      let output = roundFilters(st.o, width)
      for j in 0..<repeats {
        blocks.append(MBConvSpec(
          kernel: st.k, stride: j == 0 ? st.s : 1, expandRatio: st.e,
          inputFilters: j == 0 ? input : output, outputFilters: output, seRatio: lite ? nil : 0.25))
      }
      stride *= st.s
      // A stage ending at a feature stride replaces an earlier stage of the same stride.
      if let k = featureStrides.firstIndex(of: stride) {
        if featureBlocks.count > k { featureBlocks[k] = blocks.count - 1 } else { featureBlocks.append(blocks.count - 1) }
      }
    }
    return EfficientNetConfig(
      name: name, activation: lite ? .relu6 : .swish, stemChannels: stem, blocks: blocks, featureBlocks: featureBlocks)
  }
}
