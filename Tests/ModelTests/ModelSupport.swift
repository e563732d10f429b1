import Foundation
import Testing

@testable import Model
@testable import Tensor
import TestSupport

/// A deterministic batch for `config`: random features and images, labels cycling through classes.
func makeInput(_ c: ModelConfig, batch: Int, seed: UInt64) -> ModelInput {
  var f: [Modality: Tensor] = [:], im: [Modality: Tensor] = [:]
  for (i, m) in c.modalities.enumerated() {
    f[m] = randn([batch, c.tokens, c.featureChannels], seed: seed + UInt64(i))
    im[m] = randn([batch, 3, c.inputSize, c.inputSize], seed: seed + 10 + UInt64(i))
  }
  return ModelInput(features: f, images: im, labels: (0..<batch).map { $0 % c.classes })
}

/// Training-mode context with no randomness: what gradient and golden checks need.
var deterministicTraining: ForwardContext { ForwardContext(training: true, dropout: 0, jitter: false, rng: RNG(seed: 1)) }

func checkGradient(
  _ what: String, _ tensors: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 3e-2, maxChecks: Int = 12,
  sourceLocation: SourceLocation = #_sourceLocation, _ f: () -> Tensor
) {
  let mismatch = gradientMismatch(what, tensors, eps: eps, atol: atol, rtol: rtol, maxChecks: maxChecks, f)
  #expect(mismatch == nil, "\(mismatch ?? "")", sourceLocation: sourceLocation)
}
