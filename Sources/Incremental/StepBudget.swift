import Foundation

/// How many samples, iterations and what learning rate one step of the schedule gets: the
/// numbers behind "epochs" once the global batch and `train.lr_scaling` are applied.
extension TrainConfig {
  /// A step's global batch: `batch_size`, or all of its samples when it has fewer (an
  /// incremental class with few images). `lr_scaling` follows this number, not `batch_size`.
  public func globalBatch(samples: Int) -> Int { max(1, min(batchSize, samples)) }

  public func iterationsPerEpoch(samples: Int) -> Int {
    let b = globalBatch(samples: samples)
    return (samples + b - 1) / b
  }

  /// The factor both optimisers' learning rates are multiplied by in a step whose global batch is
  /// `globalBatch`: Goyal et al. 2017's linear rule, or the square-root rule often used with Adam.
  public func learningRateScale(globalBatch: Int) -> Float {
    let ratio = Float(globalBatch) / Float(referenceBatch)
    switch lrScaling {
    case .none: return 1
    case .linear: return ratio
    case .sqrt: return ratio.squareRoot()
    }
  }

  /// The learning rate a step starts with (before warm-up; the base step's StepLR decays it later).
  public func stepLearningRate(isBase: Bool, samples: Int) -> Float {
    (isBase ? lr : incrementalLR) * learningRateScale(globalBatch: globalBatch(samples: samples))
  }

  /// One log line: "global batch 8, 35 iterations per epoch, 700 in all; lr 1.00e-03 (…)".
  public func iterationPlan(isBase: Bool, epochs: Int, samples: Int) -> String {
    let b = globalBatch(samples: samples), perEpoch = iterationsPerEpoch(samples: samples)
    let rate = stepLearningRate(isBase: isBase, samples: samples)
    var line = "global batch \(b), \(perEpoch) iterations per epoch, \(perEpoch * epochs) in all; "
    line += (isBase ? "AdamW lr " : "constrained-SGD lr ") + String(format: "%.3g", rate)
    if lrScaling != .none { line += " (\(isBase ? "lr" : "incremental_lr") × \(lrScaling.rawValue) scale \(String(format: "%.3g", learningRateScale(globalBatch: b))) for batch \(b) / reference_batch \(referenceBatch))" }
    if warmupIterations > 0 { line += ", warmed up over \(min(warmupIterations, perEpoch * epochs)) iterations" }
    return line
  }
}
