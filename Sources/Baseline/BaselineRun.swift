import Datasets
import Foundation
import Incremental
import Runs
import Metrics
import Model
import Tensor

/// The PatchCore baseline through an incremental schedule, in one process: at every step the
/// new classes' coresets join each modality's memory bank (which never forgets), then the test
/// sets of all classes seen so far are scored and evaluated exactly as a training run's are
/// (`StepEvaluator`), into a run directory of the same shape.
public final class BaselineRun {
  public let config: RunConfig
  public let settings: BaselineSettings
  public let runDirectory: URL
  public let pipeline: DataPipeline
  public private(set) var matrix: MetricsMatrix
  public private(set) var banks: [Modality: MemoryBank] = [:]
  public private(set) var statistics: [Modality: DistanceStatistics] = [:]
  let evaluator: StepEvaluator
  let builder: ClassMemoryBuilder
  let progress: ProgressLog
  let modalities: [Modality]
  var summary: BaselineSummary
  /// Test images scored at a time: bounds the features held in memory.
  static let scoringBatch = 64

  /// Checks settings, config, dataset, classes and weights, and fails with every problem found.
  public init(config: RunConfig, settings: BaselineSettings, runDirectory: URL, progress: ProgressLog) throws {
    let problems = settings.problems()
    guard problems.isEmpty else { throw RunSetupError(problems) }
    self.config = config
    self.settings = settings
    self.runDirectory = runDirectory
    self.progress = progress
    pipeline = try DataPipeline(config: config)
    evaluator = try StepEvaluator(config: config, runDirectory: runDirectory)
    matrix = MetricsMatrix(evaluationProtocol: config.eval.protocol)
    modalities = config.model.modalities
    builder = ClassMemoryBuilder(settings: settings, seed: config.seed, dim: config.model.featureChannels)
    summary = BaselineSummary(settings: settings)
    for m in modalities {
      banks[m] = MemoryBank(dim: config.model.featureChannels)
      statistics[m] = DistanceStatistics()
    }
  }

  /// Runs every step; returns the metrics matrix.
  @discardableResult
  public func run() throws -> MetricsMatrix {
    let steps = pipeline.stepClasses
    progress.note("\(settings.methodLabel): \(steps.count) step(s), schedule \(pipeline.schedule): "
      + steps.map { "[\($0.joined(separator: ", "))]" }.joined(separator: " "))
    if !pipeline.skipped.isEmpty { progress.note("skipped \(pipeline.skipped.count) bad sample(s):\n  " + pipeline.skipped.joined(separator: "\n  ")) }
    var seen: [String] = []
    for (t, newClasses) in steps.enumerated() {
      let started = Date()
      var calibration: [String: String] = [:]
      for c in newClasses { calibration[c] = try learn(c) }
      seen += newClasses
      let samples = pipeline.testSamples(seen)
      try evaluator.record(step: t, classes: seen, samples: samples, maps: try score(samples), into: &matrix)
      try evaluator.writeReports(matrix: matrix, method: settings.methodLabel, modality: StepEvaluator.modalityLabel(modalities),
                                 schedule: pipeline.schedule)
      let seconds = Date().timeIntervalSince(started)
      let mean = matrix.mean(step: t)
      summary.steps.append(BaselineSummary.Step(
        step: t, newClasses: newClasses, modalities: modalities.map { m in
          BaselineSummary.ModalityState(modality: m.rawValue, bankTokens: banks[m]!.count, distanceMean: statistics[m]!.mean,
                                        distanceStd: statistics[m]!.std, calibrationTokens: statistics[m]!.count)
        }, calibration: calibration, mean: mean, seconds: seconds))
      try summary.write(to: runDirectory.appendingPathComponent("baseline.json"))
      progress.note(String(format: "step %d/%d evaluated on %d classes: I-AUROC %.4f  P-AUROC %.4f  AUPRO %.4f  (%.1f s)",
                           t + 1, steps.count, seen.count, mean?.iAUROC ?? .nan, mean?.pAUROC ?? .nan, mean?.aupro ?? .nan, seconds))
    }
    return matrix
  }

  /// Adds `className`'s coreset to every modality's bank and its calibration distances to the
  /// modality's statistics; returns where the calibration images came from.
  func learn(_ className: String) throws -> String {
    let started = Date()
    // Features exactly as training gets them (same preprocessing, cache and perturbations).
    let training = try pipeline.prepare(pipeline.trainingSamples([className]), modalities: modalities, training: true)
    let cached = (pipeline.lastCacheHits, pipeline.lastComputed)
    // Validation images are unseen defect-free data only when the bank is not built from them.
    let unseen = config.data.trainSplits.contains(Split.validation.rawValue)
      ? [] : pipeline.samples.filter { $0.className == className && $0.split == .validation }
    let validation = unseen.isEmpty ? nil : try pipeline.prepare(unseen, modalities: modalities)
    var source = "", sizes: [String] = []
    for m in modalities {
      let memory = try builder.build(className: className, training: training.features[m]!, validation: validation?.features[m],
                                     stream: "\(className).\(m.rawValue)")
      banks[m]!.append(memory.bankTokens, of: className)
      statistics[m]!.add(memory.calibration)
      source = memory.calibrationSource
      sizes.append("\(m.rawValue) \(memory.bankTokens.count / config.model.featureChannels)")
    }
    progress.note(String(format: "class %@: %d training images (features: %d cached, %d computed), bank += %@ tokens, calibration from %@ (%.1f s)",
                         className, training.count, cached.0, cached.1, sizes.joined(separator: ", "), source,
                         Date().timeIntervalSince(started)))
    return source
  }

  /// One inputSize² anomaly map per sample: per token, the sum over modalities of the z-scored
  /// k-NN distance, then the model's own post-processing (`AnomalyMaps`).
  func score(_ samples: [Sample]) throws -> [[Float]] {
    let g = config.model.grid, s = config.model.inputSize
    let scorer = builder.scorer
    var maps: [[Float]] = []
    for start in stride(from: 0, to: samples.count, by: Self.scoringBatch) {
      let batch = Array(samples[start..<min(samples.count, start + Self.scoringBatch)])
      let set = try pipeline.prepare(batch, modalities: modalities)
      var tokens = [Float](repeating: 0, count: batch.count * config.model.tokens)
      for m in modalities {
        let bank = banks[m]!
        let z = statistics[m]!.standardise(scorer.score(set.features[m]!.flatMap { $0 }, bank: bank.tokens, bankNorms: bank.norms))
        for i in tokens.indices { tokens[i] += z[i] }
      }
      let am = AnomalyMaps(tokenMaps: Tensor(shape: [batch.count, g, g], data: tokens), inputSize: s,
                           blurSigma: config.eval.blurSigma, poolKernel: config.eval.pool > 0 ? config.eval.pool : nil)
      for b in 0..<batch.count { maps.append(Array(am.maps.data[(b * s * s)..<((b + 1) * s * s)])) }
    }
    return maps
  }
}
