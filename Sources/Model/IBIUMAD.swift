import Tensor

/// One training or evaluation batch, already through the frozen backbone.
public struct ModelInput {
  /// F_m [B, T, C_in] per modality (the reconstruction targets).
  public var features: [Modality: Tensor]
  /// Preprocessed images [B, 3, S, S] per modality (the Mamba decoders' input).
  public var images: [Modality: Tensor]
  /// Class index of each sample in the schedule's class list.
  public var labels: [Int]

  public init(features: [Modality: Tensor], images: [Modality: Tensor], labels: [Int]) {
    self.features = features
    self.images = images
    self.labels = labels
  }

  public var batchSize: Int { labels.count }
}

/// Everything one forward pass produces.
public struct ModelOutput {
  /// What the reconstructions are compared with: F_m, standardised when the model standardises.
  public let targets: [Modality: Tensor]
  public let reconstructions: [Modality: ReconstructionOutput]
  public let mamba: [Modality: MambaOutput]
  public let fusion: FusionOutput?
}

/// The loss of Eq. 10, term by term.
public struct LossTerms {
  public let total: Tensor
  /// Named scalar values, e.g. "mse_rgb", "ce_depth", "fusion", "ib" (for logs and progress).
  public let values: [(name: String, value: Float)]
}

/// λ weights of Eq. 10.
public struct LossWeights: Codable, Equatable, Sendable {
  public var ceRGB: Float = 1, ceDepth: Float = 1, fusion: Float = 1, ib: Float = 1
  public init() {}
}

/// IB-IUMAD: per-modality MRN and Mamba decoder, IBFM on top (SPEC §6).
public final class IBIUMAD {
  public let config: ModelConfig
  /// Object classes K: the width of every label head.
  public let classes: Int
  public let parameters: ParameterStore
  let mrn: [Modality: ReconstructionNetwork]
  let mamba: [Modality: MambaDecoder]
  let ibfm: IBFM?
  /// Per-channel statistics of each modality's training features (`standardize_features`),
  /// measured at the start of the base step; nil until then (features pass unchanged).
  public var featureStatistics: [Modality: ChannelStatistics] = [:] {
    didSet { standardizers = featureStatistics.mapValues(FeatureStandardizer.init) }
  }
  private(set) var standardizers: [Modality: FeatureStandardizer] = [:]
  /// Good-image statistics of the map sources (`map_normalization`), measured after each step.
  public var mapStatistics: MapStatistics?

  /// Builds the model for `classes` object classes (the label heads' width: a run's whole class
  /// list, known from its schedule) with parameters drawn from `seed`, in a fresh store.
  public init(config c: ModelConfig, classes: Int, seed: UInt64) {
    let problems = c.problems() + (classes >= 1 ? [] : ["classes: \(classes) must be at least 1"])
    check(problems.isEmpty, "IBIUMAD: invalid model config:\n  " + problems.joined(separator: "\n  "))
    config = c
    self.classes = classes
    let store = ParameterStore()
    parameters = store
    // Each module draws from its own named stream, so switching one module on or off leaves
    // the others' initial values unchanged (mamba on vs off starts from the same MRN).
    var mrn: [Modality: ReconstructionNetwork] = [:], mamba: [Modality: MambaDecoder] = [:]
    for m in c.modalities.sorted() {
      var r1 = RNG(seed: seed, name: "mrn.\(m.rawValue)")
      mrn[m] = ReconstructionNetwork(store, "mrn.\(m.rawValue)", c, rng: &r1)
      if c.mamba {
        var r2 = RNG(seed: seed, name: "mamba.\(m.rawValue)")
        mamba[m] = MambaDecoder(store, "mamba.\(m.rawValue)", c, classes: classes, rng: &r2)
      }
    }
    self.mrn = mrn
    self.mamba = mamba
    var r3 = RNG(seed: seed, name: "ibfm")
    ibfm = c.ibfm ? IBFM(store, c, classes: classes, rng: &r3) : nil
  }

  /// The module a parameter belongs to (`train.clip_scope`): "mrn.rgb", "mamba.depth", "ibfm", and
  /// IBFM's two classifier heads "heads.fused" and "heads.bottleneck".
  public static func module(of parameter: String) -> String {
    let parts = parameter.split(separator: ".", maxSplits: 2)
    return parts.first == "ibfm" || parts.count < 2 ? String(parts.first ?? "") : "\(parts[0]).\(parts[1])"
  }

  /// F_m as the MRN sees it: standardised per channel once the statistics are known.
  public func target(_ features: Tensor, _ m: Modality) -> Tensor {
    guard config.standardizeFeatures, let s = standardizers[m] else { return features }
    return s.apply(features)
  }

  public func forward(_ input: ModelInput, _ ctx: inout ForwardContext) -> ModelOutput {
    var recs: [Modality: ReconstructionOutput] = [:], mambaOut: [Modality: MambaOutput] = [:]
    var targets: [Modality: Tensor] = [:]
    for m in config.modalities.sorted() {
      guard let raw = input.features[m] else { fatalError("IBIUMAD.forward: no \(m.rawValue) features in the batch") }
      check(raw.shape == [input.batchSize, config.tokens, config.featureChannels],
            "IBIUMAD.forward: \(m.rawValue) features have shape \(raw.shape), expected [\(input.batchSize), \(config.tokens), \(config.featureChannels)]")
      let f = target(raw, m)
      targets[m] = f
      if let decoder = mamba[m] {
        guard let image = input.images[m] else { fatalError("IBIUMAD.forward: mamba on needs the \(m.rawValue) images") }
        mambaOut[m] = decoder(image, &ctx)
      }
      recs[m] = mrn[m]!(f, conditions: mambaOut[m]?.conditions, &ctx)
    }
    var fusion: FusionOutput?
    if let ibfm, let r = recs[.rgb], let d = recs[.depth] {
      let (a, b) = config.fusionLayers
      fusion = ibfm(
        Tensor.concat([r.decoderFeatures[a], d.decoderFeatures[a]], axis: 2),
        Tensor.concat([r.decoderFeatures[b], d.decoderFeatures[b]], axis: 2), &ctx)
    }
    return ModelOutput(targets: targets, reconstructions: recs, mamba: mambaOut, fusion: fusion)
  }

  /// The names of `loss(...).values`, in order, known before any batch is seen (a rank with an
  /// empty share still reduces the same loss slots).
  public var lossTermNames: [String] {
    let ms = config.modalities.sorted()
    var names = ms.map { "mse_\($0.rawValue)" }
    names += ms.filter { mamba[$0] != nil }.map { "ce_\($0.rawValue)" }
    if ibfm != nil && ms.contains(.rgb) && ms.contains(.depth) { names += ["fusion", "ib"] }
    return names
  }

  /// Eq. 10: Σ_m MSE(R_m, F_m) + λ₁CE_R + λ₂CE_D + λ₃L_Fusion + λ₄L_IB.
  public func loss(_ out: ModelOutput, _ input: ModelInput, weights: LossWeights = LossWeights()) -> LossTerms {
    var terms: [(String, Tensor, Float)] = []
    for m in config.modalities.sorted() {
      terms.append(("mse_\(m.rawValue)", Tensor.mse(out.reconstructions[m]!.reconstruction, out.targets[m]!), 1))
    }
    for m in config.modalities.sorted() {
      if let mo = out.mamba[m] {
        terms.append(("ce_\(m.rawValue)", Tensor.crossEntropy(logits: mo.logits, labels: input.labels), m == .rgb ? weights.ceRGB : weights.ceDepth))
      }
    }
    if let f = out.fusion {
      terms.append(("fusion", Tensor.mse(out.targets[.rgb]!, f.bottleneck), weights.fusion))
      var ib = Tensor.klDivergence(pLogits: f.fusedLogits, qLogits: f.bottleneckLogits)
      if config.ibSupervised { ib = ib + Tensor.crossEntropy(logits: f.fusedLogits, labels: input.labels) }
      terms.append(("ib", ib, weights.ib))
    }
    check(terms.map(\.0) == lossTermNames, "IBIUMAD.loss: terms \(terms.map(\.0)) differ from lossTermNames \(lossTermNames)")
    var total = terms[0].1 * terms[0].2
    for (_, t, w) in terms.dropFirst() { total = total + t * w }
    return LossTerms(total: total, values: terms.map { ($0.0, $0.1.item) })
  }
}
