/// The two input modalities. RGB images and depth maps each get their own reconstruction network
/// and Mamba decoder; the depth map goes through the same frozen backbone as RGB.
public enum Modality: String, Codable, CaseIterable, Sendable, Comparable {
  case rgb, depth
  public static func < (a: Modality, b: Modality) -> Bool { a == .rgb && b == .depth }
}

/// How IBFM fuses the decoder features F¹ and F² (the paper's Table 6 ablation).
public enum FusionKind: String, Codable, CaseIterable, Sendable {
  case add, concatFC = "concat_fc", linearGLU = "linear_glu", crossAttention = "cross_attention"
}

/// Which residual makes the anomaly map (SPEC §6.6).
public enum AnomalyMapKind: String, Codable, CaseIterable, Sendable {
  /// ‖F_g − F_R‖₂ (IBFM on; the default).
  case fused
  /// fused plus ‖R_D − F_D‖₂.
  case fusedModal = "fused+modal"
  /// Sum of the per-modality residuals ‖R_m − F_m‖₂ (IBFM off, unimodal runs).
  case modal
}

/// Everything that fixes the shapes of the trainable model (SPEC §6).
public struct ModelConfig: Codable, Equatable, Sendable {
  public var inputSize: Int = 224
  /// Backbone feature channels C_in (b4: 272, lite0: 192).
  public var featureChannels: Int = 272
  /// Backbone output stride: the token grid is inputSize/featureStride on a side.
  public var featureStride: Int = 16
  public var hidden: Int = 256
  public var heads: Int = 8
  public var ffn: Int = 1024
  public var encoderLayers: Int = 4
  public var decoderLayers: Int = 4
  public var dropout: Float = 0.1
  public var jitterScale: Float = 20
  public var jitterProb: Float = 1
  public var modalities: [Modality] = [.rgb, .depth]
  public var mamba: Bool = true
  public var mambaChannels: Int = 128
  public var mambaPatch: Int = 8
  public var mambaHeads: Int = 4
  public var stateSize: Int = 16
  public var ibfm: Bool = true
  public var fusion: FusionKind = .crossAttention
  public var ibDim: Int = 256
  public var ibSupervised: Bool = true
  public var anomalyMap: AnomalyMapKind = .fused
  /// Number of object classes K (label heads); set from the schedule's class list.
  public var classes: Int = 10

  public init() {}

  public var grid: Int { inputSize / featureStride }
  public var tokens: Int { grid * grid }
  public var mambaGrid: Int { inputSize / mambaPatch }
  public var mambaExpanded: Int { 2 * mambaChannels }
  public var dtRank: Int { (mambaChannels + 15) / 16 }
  /// IBFM reads decoder layer L/2 and L (2 and 4 in the paper's 4-layer decoder).
  public var fusionLayers: (first: Int, second: Int) { (max(decoderLayers / 2, 1) - 1, decoderLayers - 1) }

  // MARK: presets (SPEC §6.8)

  public static var paper: ModelConfig { ModelConfig() }

  public static var demo: ModelConfig {
    var c = ModelConfig()
    c.inputSize = 128; c.featureChannels = 192; c.hidden = 128; c.ffn = 512; c.ibDim = 128
    c.mambaChannels = 64
    return c
  }

  public static var tiny: ModelConfig {
    var c = ModelConfig()
    c.inputSize = 64; c.featureChannels = 192; c.hidden = 32; c.heads = 4; c.ffn = 64
    c.encoderLayers = 2; c.decoderLayers = 2; c.mambaChannels = 16; c.mambaHeads = 2; c.stateSize = 4
    c.ibDim = 32
    return c
  }

  public static func preset(_ name: String) -> ModelConfig? {
    switch name {
    case "paper": return .paper
    case "demo": return .demo
    case "tiny": return .tiny
    default: return nil
    }
  }

  /// Every inconsistency, each naming the key and the value at fault.
  public func problems() -> [String] {
    var p: [String] = []
    func need(_ ok: Bool, _ msg: String) { if !ok { p.append(msg) } }
    need(inputSize > 0 && inputSize % featureStride == 0, "model.input_size: \(inputSize) is not a positive multiple of feature_stride \(featureStride)")
    need(hidden > 0 && hidden % heads == 0, "model.hidden: \(hidden) is not divisible by model.heads \(heads)")
    need(encoderLayers >= 1 && decoderLayers >= 1, "model.encoder_layers/decoder_layers: need at least 1 each, got \(encoderLayers)/\(decoderLayers)")
    need(dropout >= 0 && dropout < 1, "model.dropout: \(dropout) is not in [0, 1)")
    need(!modalities.isEmpty && Set(modalities).count == modalities.count, "model.modalities: \(modalities.map(\.rawValue)) must be rgb, depth or both, once each")
    need(classes >= 1, "model.classes: \(classes) must be at least 1")
    if mamba {
      need(inputSize % mambaPatch == 0 && mambaGrid % 2 == 0,
           "model.mamba_patch: input_size \(inputSize) / patch \(mambaPatch) must give an even grid (ES2D splits it into 2×2 sub-grids)")
      need(mambaGrid >= grid, "model.mamba_patch: the Mamba grid \(mambaGrid) must be at least the token grid \(grid)")
      need(mambaChannels % mambaHeads == 0, "model.mamba_channels: \(mambaChannels) is not divisible by model.mamba_heads \(mambaHeads)")
    }
    if ibfm {
      need(Set(modalities) == [.rgb, .depth], "model.ibfm: on needs modalities [rgb, depth], got \(modalities.map(\.rawValue))")
      need((2 * hidden) % heads == 0, "model.heads: \(heads) must divide 2·hidden = \(2 * hidden) for IBFM cross-attention")
    } else {
      need(anomalyMap == .modal, "model.anomaly_map: '\(anomalyMap.rawValue)' needs ibfm on; use 'modal'")
    }
    return p
  }
}
