import Configuration

/// `model.*` keys (SPEC §6), read from YAML or `--set model.key=value`.
extension ModelConfig: ConfigSection {
  public static let sectionName = "model"

  public static let keys: [ConfigKey<ModelConfig>] = [
    .int("input_size", \.inputSize, "input image side in pixels", min: 8),
    .int("feature_channels", \.featureChannels, "backbone feature channels C_in (b4: 272, lite0: 192)", min: 1),
    .int("feature_stride", \.featureStride, "backbone output stride (token grid = input_size / stride)", min: 1),
    .int("hidden", \.hidden, "MRN width d", min: 1),
    .int("heads", \.heads, "attention heads in the MRN and IBFM", min: 1),
    .int("ffn", \.ffn, "MRN feed-forward width", min: 1),
    .int("encoder_layers", \.encoderLayers, "MRN encoder layers (= Mamba blocks)", min: 1),
    .int("decoder_layers", \.decoderLayers, "MRN decoder layers", min: 1),
    .float("dropout", \.dropout, "dropout in the MRN and the IB projection", .unitOpen),
    .float("jitter_scale", \.jitterScale, "feature jitter scale (UniAD: 20)", .nonNegative),
    .float("jitter_prob", \.jitterProb, "probability of jittering a batch", .unit),
    ConfigKey("modalities", "[rgb], [depth] or [rgb, depth] (also rgb+depth)", set: { c, v in
      guard let list = v as? [Any] ?? (v as? String).map({ s in s.split(whereSeparator: { $0 == "+" || $0 == "," }).map(String.init) as [Any] }) else {
        return "expected a list such as [rgb, depth], got \(v)"
      }
      var out: [Modality] = []
      for item in list {
        guard let s = item as? String, let m = Modality(rawValue: s.trimmingCharacters(in: .whitespaces)) else {
          return "unknown modality '\(item)' (rgb, depth)"
        }
        out.append(m)
      }
      c.modalities = out
      return nil
    }, render: { "[" + $0.modalities.map(\.rawValue).joined(separator: ", ") + "]" }),
    .bool("mamba", \.mamba, "Mamba decoders on/off"),
    .int("mamba_channels", \.mambaChannels, "Mamba decoder width C_m", min: 1),
    .int("mamba_patch", \.mambaPatch, "patch-embedding size P of the Mamba decoder", min: 1),
    .int("mamba_heads", \.mambaHeads, "attention heads in the Mamba blocks", min: 1),
    .int("state_size", \.stateSize, "S6 state size N", min: 1),
    .bool("ibfm", \.ibfm, "information-bottleneck fusion on/off"),
    .choice("fusion", \.fusion, "add | concat_fc | linear_glu | cross_attention"),
    .int("ib_dim", \.ibDim, "IB projection width d_z", min: 1),
    .bool("ib_supervised", \.ibSupervised, "add CE(p_fu, Y) to the KL term"),
    ConfigKey("anomaly_map", "residuals summed into the map: fused, rgb, depth joined by '+'; modal = every modality's own (SPEC §6.6, docs/quality.md)", set: { c, v in
      guard let text = v as? String else { return "expected e.g. rgb+depth, got \(v)" }
      let (spec, problem) = AnomalyMapSpec.parse(text)
      if let spec { c.anomalyMap = spec }
      return problem
    }, render: { $0.anomalyMap.description }),
    .choice("map_normalization", \.mapNormalization, "none | source (z-score each residual's norm on good images) | channel (standardise each residual per channel first)"),
    .bool("standardize_features", \.standardizeFeatures, "standardise backbone features per channel (base-step statistics) before the MRN"),
    .float("output_gain", \.outputGain, "gain of the output projections' initial weights (1 = Xavier)", .positive),
    .choice("embedding_init", \.embeddingInit, "MRN positions and learned queries at the start: uniad (U[0,1) per row/column, queries N(0,1)) | sincos (2-D sine–cosine × position_amplitude, queries N(0,1)) | xavier"),
    .float("position_amplitude", \.positionAmplitude, "amplitude of the sincos position embedding", .nonNegative),
    .choice("decoder_attention_init", \.decoderAttentionInit, "MRN decoder attention: xavier | tied (k_proj starts equal to q_proj)"),
  ]

  /// The class count K is the model's constructor argument (`IBIUMAD(config:classes:seed:)`),
  /// taken from the schedule's class list; configs written before that still carry the key.
  public static let retiredKeys = ["classes": "the class count comes from the schedule's class list"]

  /// A config from a `model:` mapping: `preset` (tiny, demo, paper) first, then each key.
  public static func from(_ dict: [String: Any], problems: inout [String]) -> ModelConfig {
    var c = ModelConfig.paper
    if let p = dict["preset"] {
      if let name = p as? String, let preset = ModelConfig.preset(name) { c = preset }
      else { problems.append("model.preset: unknown preset '\(p)' (tiny, demo, paper)") }
    }
    c.apply(dict, problems: &problems, skipping: ["preset"])
    return c
  }
}
