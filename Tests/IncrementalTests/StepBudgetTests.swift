import Foundation
import Testing

@testable import Incremental
@testable import Runs

@Suite("Step budget: global batch, iterations and learning-rate scaling")
struct StepBudgetTests {
  func train(_ scaling: LRScaling, batch: Int = 32) throws -> TrainConfig {
    try RunConfig.parse(yaml: "model: {preset: tiny}\ntrain: {batch_size: \(batch), lr: 0.001, incremental_lr: 0.5, lr_scaling: \(scaling.rawValue)}",
                        source: "test.yaml").train
  }

  @Test func rulesScaleByTheStepsGlobalBatch() throws {
    func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= 1e-6 * b }
    #expect(close(try train(.none).stepLearningRate(isBase: true, samples: 100), 0.001))
    #expect(close(try train(.linear).stepLearningRate(isBase: true, samples: 100), 0.004))
    #expect(close(try train(.sqrt).stepLearningRate(isBase: true, samples: 100), 0.002))
    #expect(close(try train(.linear).stepLearningRate(isBase: false, samples: 100), 2))
  }

  /// The documented rule for a step with fewer samples than the global batch: its batch is its
  /// sample count (one iteration per epoch) and the learning-rate rule follows that count.
  @Test func aStepSmallerThanTheBatchClampsAndTheRuleFollows() throws {
    let t = try train(.linear, batch: 64)
    #expect(t.globalBatch(samples: 20) == 20 && t.iterationsPerEpoch(samples: 20) == 1)
    #expect(t.stepLearningRate(isBase: false, samples: 20) == 0.5 * 20 / 8)
    #expect(t.iterationsPerEpoch(samples: 130) == 3)
    #expect(t.iterationPlan(isBase: false, epochs: 10, samples: 20)
      == "global batch 20, 1 iterations per epoch, 10 in all; constrained-SGD lr 1.25 (incremental_lr × linear scale 2.5 for batch 20 / reference_batch 8)")
  }

  @Test func unknownRuleIsNamed() {
    #expect(throws: (any Error).self) { try RunConfig.parse(yaml: "model: {preset: tiny}\ntrain: {lr_scaling: cubic}", source: "x.yaml") }
    do { _ = try RunConfig.parse(yaml: "model: {preset: tiny}\ntrain: {lr_scaling: cubic}", source: "x.yaml") } catch {
      #expect("\(error)".contains("train.lr_scaling") && "\(error)".contains("none, linear, sqrt"), "\(error)")
    }
  }

  /// A run written before a key existed resumes when the key has its default now (the older
  /// version behaved as the default), and is told apart when it does not.
  @Test func keysAddedLaterCountAsTheirDefault() throws {
    let now = try RunConfig.parse(yaml: "model: {preset: tiny}\ntrain: {epochs_base: 3}", source: "a.yaml").yaml()
    let older = now.split(separator: "\n").filter { !$0.contains("lr_scaling") && !$0.contains("reference_batch") }.joined(separator: "\n")
    #expect(RunIdentity.configDifferences(from: older, to: now).isEmpty)
    // clip_scope arrived with a new default (module); older versions clipped globally.
    let beforeClipScope = now.split(separator: "\n").filter { !$0.contains("clip_scope") }.joined(separator: "\n")
    #expect(RunIdentity.configDifferences(from: beforeClipScope, to: now) == ["train.clip_scope: global (before the key existed) → module"])
    let asBefore = try RunConfig.parse(yaml: "model: {preset: tiny}\ntrain: {epochs_base: 3, clip_scope: global}", source: "a.yaml").yaml()
    #expect(RunIdentity.configDifferences(from: beforeClipScope, to: asBefore).isEmpty)
    let scaled = try RunConfig.parse(yaml: "model: {preset: tiny}\ntrain: {epochs_base: 3, lr_scaling: sqrt}", source: "a.yaml").yaml()
    #expect(RunIdentity.configDifferences(from: older, to: scaled) == ["train.lr_scaling: (absent) → sqrt"])
  }

  /// `model.classes` is the model's constructor argument now: configs and model files that still
  /// carry it read, and it is never a difference between runs.
  @Test func retiredKeysAreAcceptedAndNeverADifference() throws {
    let now = try RunConfig.parse(yaml: "model: {preset: tiny}", source: "a.yaml")
    let withClasses = try RunConfig.parse(yaml: "model: {preset: tiny, classes: 3}", source: "old/config.yaml")
    #expect(withClasses == now && RunIdentity.flatten(now.yaml())["model.classes"] == nil)
    let older = now.yaml().replacingOccurrences(of: "  decoder_attention_init: tied\n", with: "  decoder_attention_init: tied\n  classes: 3\n")
    #expect(older != now.yaml() && RunIdentity.configDifferences(from: older, to: now.yaml()).isEmpty)
  }
}
