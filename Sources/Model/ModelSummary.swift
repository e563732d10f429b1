import Tensor

/// Parameter counts per module and FLOPs of one training sample (SPEC §6; `iumad model summary`).
public struct ModelSummary {
  /// Module → parameter count, modules named by the first two parts of the parameter names for
  /// mrn/mamba (`mrn.rgb`) and the first part otherwise (`ibfm`, `heads`).
  public let parameters: [(module: String, count: Int)]
  public let total: Int
  public let forwardFLOPs: Int
  public let backwardFLOPs: Int

  public init(model: IBIUMAD, seed: UInt64 = 0) {
    var counts: [String: Int] = [:], order: [String] = []
    for (name, t) in model.parameters.named {
      let parts = name.split(separator: ".")
      let module = ["mrn", "mamba"].contains(String(parts[0])) ? parts.prefix(2).joined(separator: ".") : String(parts[0])
      if counts[module] == nil { order.append(module) }
      counts[module, default: 0] += t.count
    }
    parameters = order.map { ($0, counts[$0]!) }
    total = model.parameters.totalElements
    // FLOPs counted by the kernels while one sample goes forward and backward (GEMMs,
    // convolutions, the selective scan; element-wise ops are not counted).
    let c = model.config
    var rng = RNG(seed: seed)
    var features: [Modality: Tensor] = [:], images: [Modality: Tensor] = [:]
    for m in c.modalities {
      features[m] = Tensor(randn: [1, c.tokens, c.featureChannels], rng: &rng)
      images[m] = Tensor(randn: [1, 3, c.inputSize, c.inputSize], rng: &rng)
    }
    let input = ModelInput(features: features, images: images, labels: [0])
    var loss: Tensor!
    forwardFLOPs = FLOPCounter.measure {
      var ctx = ForwardContext(training: true, dropout: 0, jitter: false, rng: rng)
      loss = model.loss(model.forward(input, &ctx), input).total
    }
    backwardFLOPs = FLOPCounter.measure { loss.backward() }
    model.parameters.zeroGrad()
  }
}
