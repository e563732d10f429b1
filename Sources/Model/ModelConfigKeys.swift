/// Reading `model.*` keys from a parsed YAML mapping (or `--set model.key=value`), with every
/// problem collected rather than stopping at the first.
extension ModelConfig {
  typealias Setter = (inout ModelConfig, Any) -> String?

  /// The keys users may set, their setters and their help.
  static let keys: [(key: String, help: String, set: Setter)] = [
    ("input_size", "input image side in pixels", int { $0.inputSize = $1 }),
    ("feature_channels", "backbone feature channels C_in (b4: 272, lite0: 192)", int { $0.featureChannels = $1 }),
    ("feature_stride", "backbone output stride (token grid = input_size / stride)", int { $0.featureStride = $1 }),
    ("hidden", "MRN width d", int { $0.hidden = $1 }),
    ("heads", "attention heads in the MRN and IBFM", int { $0.heads = $1 }),
    ("ffn", "MRN feed-forward width", int { $0.ffn = $1 }),
    ("encoder_layers", "MRN encoder layers (= Mamba blocks)", int { $0.encoderLayers = $1 }),
    ("decoder_layers", "MRN decoder layers", int { $0.decoderLayers = $1 }),
    ("dropout", "dropout in the MRN and the IB projection", float { $0.dropout = $1 }),
    ("jitter_scale", "feature jitter scale (UniAD: 20)", float { $0.jitterScale = $1 }),
    ("jitter_prob", "probability of jittering a batch", float { $0.jitterProb = $1 }),
    ("modalities", "[rgb], [depth] or [rgb, depth]", { c, v in
      guard let list = v as? [Any] ?? (v as? String).map({ s in s.split(separator: "+").map(String.init) as [Any] }) else {
        return "expected a list such as [rgb, depth], got \(v)"
      }
      var out: [Modality] = []
      for item in list {
        guard let s = item as? String, let m = Modality(rawValue: s) else { return "unknown modality '\(item)' (rgb, depth)" }
        out.append(m)
      }
      c.modalities = out
      return nil
    }),
    ("mamba", "Mamba decoders on/off", bool { $0.mamba = $1 }),
    ("mamba_channels", "Mamba decoder width C_m", int { $0.mambaChannels = $1 }),
    ("mamba_patch", "patch-embedding size P of the Mamba decoder", int { $0.mambaPatch = $1 }),
    ("mamba_heads", "attention heads in the Mamba blocks", int { $0.mambaHeads = $1 }),
    ("state_size", "S6 state size N", int { $0.stateSize = $1 }),
    ("ibfm", "information-bottleneck fusion on/off", bool { $0.ibfm = $1 }),
    ("fusion", "add | concat_fc | linear_glu | cross_attention", enumeration { $0.fusion = $1 }),
    ("ib_dim", "IB projection width d_z", int { $0.ibDim = $1 }),
    ("ib_supervised", "add CE(p_fu, Y) to the KL term", bool { $0.ibSupervised = $1 }),
    ("anomaly_map", "fused | fused+modal | modal", enumeration { $0.anomalyMap = $1 }),
    ("classes", "number of classes K (normally set from the schedule)", int { $0.classes = $1 }),
  ]

  /// A config from a `model:` mapping: `preset` (tiny, demo, paper) first, then each key.
  public static func from(_ dict: [String: Any], path: String = "model", problems: inout [String]) -> ModelConfig {
    var c = ModelConfig.paper
    if let p = dict["preset"] {
      if let name = p as? String, let preset = ModelConfig.preset(name) { c = preset }
      else { problems.append("\(path).preset: unknown preset '\(p)' (tiny, demo, paper)") }
    }
    for (key, value) in dict.sorted(by: { $0.key < $1.key }) where key != "preset" {
      c.set(key, value, path: path, problems: &problems)
    }
    return c
  }

  /// Sets one key; an unknown key or a wrong type is recorded in `problems`.
  public mutating func set(_ key: String, _ value: Any, path: String = "model", problems: inout [String]) {
    guard let entry = Self.keys.first(where: { $0.key == key }) else {
      problems.append("\(path).\(key): unknown key (known: \(Self.keys.map(\.key).joined(separator: ", ")))")
      return
    }
    if let err = entry.set(&self, value) { problems.append("\(path).\(key): \(err)") }
  }

  // MARK: typed setters (YAML gives Int, Double, Bool or String; `--set` gives String)

  static func int(_ f: @escaping (inout ModelConfig, Int) -> Void) -> Setter {
    { c, v in
      guard let i = v as? Int ?? (v as? String).flatMap({ Int($0) }) else { return "expected an integer, got '\(v)'" }
      f(&c, i); return nil
    }
  }

  static func float(_ f: @escaping (inout ModelConfig, Float) -> Void) -> Setter {
    { c, v in
      guard let d = v as? Double ?? (v as? Int).map(Double.init) ?? (v as? String).flatMap({ Double($0) }) else {
        return "expected a number, got '\(v)'"
      }
      f(&c, Float(d)); return nil
    }
  }

  static func bool(_ f: @escaping (inout ModelConfig, Bool) -> Void) -> Setter {
    { c, v in
      if let b = v as? Bool { f(&c, b); return nil }
      switch (v as? String)?.lowercased() {
      case "on", "true", "yes": f(&c, true); return nil
      case "off", "false", "no": f(&c, false); return nil
      default: return "expected on/off (or true/false), got '\(v)'"
      }
    }
  }

  static func enumeration<E: RawRepresentable & CaseIterable>(_ f: @escaping (inout ModelConfig, E) -> Void) -> Setter where E.RawValue == String {
    { c, v in
      guard let s = v as? String, let e = E(rawValue: s) else {
        return "expected one of \(E.allCases.map(\.rawValue).joined(separator: ", ")), got '\(v)'"
      }
      f(&c, e); return nil
    }
  }
}
