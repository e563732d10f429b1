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

/// A residual the anomaly map can be made of (SPEC §6.6).
public enum MapSource: String, Codable, CaseIterable, Sendable, Comparable {
  /// ‖F_g − F_R‖: IBFM's bottlenecked reconstruction of the RGB features (the paper's map).
  case fused
  /// ‖R_R − F_R‖ and ‖R_D − F_D‖: each modality's own reconstruction.
  case rgb, depth
  public static func < (a: MapSource, b: MapSource) -> Bool {
    allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
  }
}

/// How the MRN's position and query embeddings start.
public enum EmbeddingInit: String, Codable, CaseIterable, Sendable {
  /// UniAD's: positions uniform in [0, 1) per row and column, queries N(0, 1).
  case uniad
  /// 2-D sine–cosine positions × `position_amplitude` (zero-mean, distinct per token), queries N(0, 1).
  case sincos
  /// Xavier-uniform tables (small: ±√(6/(T+d))).
  case xavier
}

/// How the MRN decoder's attention projections start.
public enum DecoderAttentionInit: String, Codable, CaseIterable, Sendable {
  /// Independent Xavier-uniform q, k, v, out projections.
  case xavier
  /// k_proj starts equal to q_proj: attention starts out favouring matching (position) components.
  case tied
}

/// Which residuals are summed into the anomaly map, written `fused`, `rgb+depth`,
/// `fused+depth`, …; `modal` stands for every configured modality's own residual.
public struct AnomalyMapSpec: Codable, Equatable, Sendable, CustomStringConvertible {
  public var names: [String]

  /// Parses `a+b+…`; a message naming the offending part when one is not fused, rgb, depth or modal.
  public static func parse(_ text: String) -> (spec: AnomalyMapSpec?, problem: String?) {
    let parts = text.split(separator: "+", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    guard !parts.contains(""), !parts.isEmpty else { return (nil, "expected fused, rgb, depth or modal joined by '+', got '\(text)'") }
    for p in parts where p != "modal" && MapSource(rawValue: p) == nil {
      return (nil, "unknown map source '\(p)' in '\(text)' (fused, rgb, depth, modal = every modality's own residual)")
    }
    return (AnomalyMapSpec(names: parts), nil)
  }

  public init(names: [String]) { self.names = names }

  public static let fused = AnomalyMapSpec(names: ["fused"])
  public static let modal = AnomalyMapSpec(names: ["modal"])

  /// The sources with `modal` expanded, in canonical order, each once.
  public func sources(modalities: [Modality]) -> [MapSource] {
    var out = Set<MapSource>()
    for n in names {
      if n == "modal" { for m in modalities { out.insert(m == .rgb ? .rgb : .depth) } } else if let s = MapSource(rawValue: n) { out.insert(s) }
    }
    return out.sorted()
  }

  public var description: String { names.joined(separator: "+") }
}

/// How each source's residual is put on a common scale before the sources are summed.
public enum MapNormalization: String, Codable, CaseIterable, Sendable {
  /// Raw Euclidean norms (the paper's maps).
  case none
  /// Each source's ‖r‖ z-scored by its mean and standard deviation on good images.
  case source
  /// Each residual standardised per channel by its good-image statistics, its RMS then z-scored.
  case channel
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
  /// Each modality's own residual, standardised per channel by good-image statistics: the map
  /// that detected best on held-out data at the presets' budgets (docs/quality.md); the paper's
  /// fused map is `anomaly_map: fused`, `map_normalization: none`.
  public var anomalyMap: AnomalyMapSpec = .modal
  public var mapNormalization: MapNormalization = .channel
  /// Standardise the backbone features per channel (statistics of the base step's training
  /// features) before the MRN: its input, its targets and the maps are then in those units.
  public var standardizeFeatures = true
  /// Gain of output_proj's (and F_g's) Xavier-uniform initial weights: small values start the
  /// reconstruction near the standardised targets' mean (0) instead of at unit-scale noise.
  public var outputGain: Float = 1
  public var embeddingInit: EmbeddingInit = .sincos
  public var positionAmplitude: Float = 3
  public var decoderAttentionInit: DecoderAttentionInit = .tied
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
    // CPU-budget choices, measured in docs/quality.md: a 8×8 Mamba grid (patch 16) costs a
    // third less per step than 16×16, and at a few hundred iterations a smaller feature jitter
    // (UniAD's 20 is for its 1000 epochs) lets the reconstruction learn the normal features.
    c.mambaPatch = 16
    c.jitterScale = 5
    return c
  }

  public static var tiny: ModelConfig {
    var c = ModelConfig()
    c.inputSize = 64; c.featureChannels = 192; c.hidden = 32; c.heads = 4; c.ffn = 64
    c.encoderLayers = 2; c.decoderLayers = 2; c.mambaChannels = 16; c.mambaHeads = 2; c.stateSize = 4
    c.ibDim = 32
    c.jitterScale = 5
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
    if mamba {
      need(inputSize % mambaPatch == 0 && mambaGrid % 2 == 0,
           "model.mamba_patch: input_size \(inputSize) / patch \(mambaPatch) must give an even grid (ES2D splits it into 2×2 sub-grids)")
      need(mambaGrid >= grid, "model.mamba_patch: the Mamba grid \(mambaGrid) must be at least the token grid \(grid)")
      need(mambaChannels % mambaHeads == 0, "model.mamba_channels: \(mambaChannels) is not divisible by model.mamba_heads \(mambaHeads)")
    }
    if ibfm {
      need(Set(modalities) == [.rgb, .depth], "model.ibfm: on needs modalities [rgb, depth], got \(modalities.map(\.rawValue)) (a single-modality run: also set model.ibfm: off)")
      need((2 * hidden) % heads == 0, "model.heads: \(heads) must divide 2·hidden = \(2 * hidden) for IBFM cross-attention")
    }
    for n in anomalyMap.names {
      switch n {
      case "fused": need(ibfm, "model.anomaly_map: '\(anomalyMap)' uses the fused residual, which needs ibfm on (use modal)")
      case "rgb", "depth": need(modalities.contains(Modality(rawValue: n)!), "model.anomaly_map: '\(anomalyMap)' uses the \(n) residual, but model.modalities is \(modalities.map(\.rawValue))")
      default: break
      }
    }
    return p
  }
}
