import Foundation
import Testing

@testable import Model
@testable import Tensor
import TestSupport

/// Training-mode context with no randomness: what gradient and golden checks need.
var deterministicTraining: ForwardContext { ForwardContext(training: true, dropout: 0, jitter: false, rng: RNG(seed: 1)) }

func checkGradient(
  _ what: String, _ tensors: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 3e-2, maxChecks: Int = 12,
  sourceLocation: SourceLocation = #_sourceLocation, _ f: () -> Tensor
) {
  let mismatch = gradientMismatch(what, tensors, eps: eps, atol: atol, rtol: rtol, maxChecks: maxChecks, f)
  #expect(mismatch == nil, "\(mismatch ?? "")", sourceLocation: sourceLocation)
}
