import Model
import Tensor

/// A deterministic batch for `config`: random features and images, labels cycling through `classes`.
public func makeInput(_ c: ModelConfig, classes: Int = 10, batch: Int, seed: UInt64) -> ModelInput {
  var f: [Modality: Tensor] = [:], im: [Modality: Tensor] = [:]
  for (i, m) in c.modalities.enumerated() {
    f[m] = randn([batch, c.tokens, c.featureChannels], seed: seed + UInt64(i))
    im[m] = randn([batch, 3, c.inputSize, c.inputSize], seed: seed + 10 + UInt64(i))
  }
  return ModelInput(features: f, images: im, labels: (0..<batch).map { $0 % classes })
}

