import Cluster
import Datasets
import Foundation
import ImageIO
import Incremental
import Metrics
import Model
import Tensor

/// A whole run of SPEC §7–§8 in one process: every step of the schedule trained on its new
/// classes, then evaluated on all classes seen so far, with the run directory kept up to date
/// after each step (metrics, report, plots, heatmaps, anomaly maps).
public final class IncrementalRun {
  public let config: RunConfig
  public let runDirectory: URL
  public let pipeline: DataPipeline
  public let trainer: IncrementalTrainer
  public let plans: [StepPlan]
  public private(set) var matrix: MetricsMatrix
  let progress: ProgressLog
  let evaluator: StepEvaluator
  let checkpoints: CheckpointStore
  let resume: ResumeMode
  /// The configuration and data of this run: claimed in the run directory, recorded in
  /// checkpoints, compared on resume.
  public var identity: RunIdentity { pipeline.identity }
  /// The process group: rank 0 coordinates and alone writes files; all ranks train their shard.
  let communicator: Communicator
  /// `eval.compare_maps`: every map variant's good-image statistics, pooled over the steps.
  var comparison = MapComparison()
  /// `eval.every_epochs`: each step's classes evaluated during training.
  var learningCurves = LearningCurves()

  /// Checks everything that can be checked before training (config, dataset, classes, weights,
  /// output directory) and fails with every problem found.
  public init(config: RunConfig, runDirectory: URL, progress: ProgressLog, resume: ResumeMode = .never,
              communicator: Communicator = LocalCommunicator()) throws {
    self.config = config
    self.communicator = communicator
    self.runDirectory = runDirectory
    self.progress = progress
    self.resume = resume
    checkpoints = CheckpointStore(runDirectory: runDirectory, keep: config.train.keepCheckpoints)
    pipeline = try DataPipeline(config: config)
    plans = pipeline.stepClasses.enumerated().map { i, cs in
      StepPlan(index: i, classes: cs, epochs: i == 0 ? config.train.epochsBase : config.train.epochsIncremental)
    }
    trainer = IncrementalTrainer(config: config, classes: pipeline.scheduledClasses.count)
    trainer.communicator = communicator
    matrix = MetricsMatrix(evaluationProtocol: config.eval.protocol)
    evaluator = try StepEvaluator(config: config, runDirectory: runDirectory)
  }

  /// Runs every step; returns the final metrics matrix.
  @discardableResult
  public func run() throws -> MetricsMatrix {
    let modalities = trainer.model.config.modalities
    progress.note("classes (\(plans.count) steps, schedule \(pipeline.schedule)): " + plans.map { "[\($0.classes.joined(separator: ", "))]" }.joined(separator: " "))
    if !pipeline.skipped.isEmpty { progress.note("skipped \(pipeline.skipped.count) bad sample(s):\n  " + pipeline.skipped.joined(separator: "\n  ")) }
    progress.totalIterations = plans.reduce(0) { total, plan in
      let n = pipeline.trainingSamples(plan.classes).count
      return total + plan.epochs * config.train.iterationsPerEpoch(samples: n)
    }
    let started = Date()
    let start = try resumePosition()
    // Training starts or continues: the directory no longer holds a finished run.
    if communicator.isCoordinator && start.step < plans.count { try RunCompletion.remove(in: runDirectory) }
    var sinceCheckpoint = 0
    for plan in plans where plan.index >= start.step {
      let trainSamples = pipeline.trainingSamples(plan.classes)
      progress.note("step \(plan.index + 1)/\(plans.count): features of \(trainSamples.count) training images (computed once, then cached)")
      let trainSet = try pipeline.prepare(trainSamples, modalities: modalities, sharedBy: communicator, training: true)
      progress.note("step \(plan.index + 1)/\(plans.count): \(plan.epochs) epochs on \(trainSet.count) samples of \(plan.classes.joined(separator: ", ")) (features: \(pipeline.lastCacheHits) cached, \(pipeline.lastComputed) computed)")
      if trainSet.count < config.train.batchSize {
        // The trainer's rule (a step's global batch is at most its sample count), said aloud.
        progress.note("step \(plan.index + 1)/\(plans.count): \(trainSet.count) samples < train.batch_size \(config.train.batchSize): this step's global batch is \(trainSet.count), one iteration per epoch")
      }
      progress.note("step \(plan.index + 1)/\(plans.count): " + config.train.iterationPlan(isBase: plan.isBase, epochs: plan.epochs, samples: trainSet.count))
      let from = plan.index == start.step ? (start.epoch, start.iteration) : (0, 0)
      let pool = try statisticsPool(plan, trainSet: trainSet)
      let every = config.eval.everyEpochs
      try trainer.train(plan, data: trainSet, start: from, report: { progress.iteration($0, steps: plans.count) },
                        epochEnd: { epoch in
        if every > 0 && epoch % every == 0 && epoch < plan.epochs { try learningCurvePoint(plan, epoch: epoch, pool: pool) }
      }, checkpoint: { epoch, iteration in
        sinceCheckpoint += 1
        let every = config.train.checkpointEvery
        if every > 0 && sinceCheckpoint >= every {
          sinceCheckpoint = 0
          try saveCheckpoint(RunPosition(step: plan.index, epoch: epoch, iteration: iteration))
        }
      })
      let trained = Date()
      try trainer.accumulateProjection(trainSet, batchSize: config.train.batchSize)
      trainer.model.mapStatistics = trainer.mapStatistics(adding: pool, batchSize: config.train.batchSize)
      let seen = plans[0...plan.index].flatMap(\.classes)
      progress.note("step \(plan.index + 1)/\(plans.count): evaluating \(seen.count) classes on \(pipeline.testSamples(seen).count) test images (scores, maps, heatmaps)")
      try evaluate(step: plan.index, classes: seen)
      if every > 0, let mean = ClassMetrics.mean(plan.classes.compactMap { matrix.metrics(step: plan.index, class: $0) }) {
        learningCurves.record(.init(step: plan.index, epoch: plan.epochs, metrics: mean))
      }
      if config.eval.compareMaps && communicator.isCoordinator {
        comparison.add(pool, trainer: trainer, batchSize: config.train.batchSize)
        try compareMaps(step: plan.index, classes: seen)
      }
      try writeReports()
      try saveModel(step: plan.index, seen: seen)
      try saveCheckpoint(RunPosition(step: plan.index + 1, epoch: 0, iteration: 0))
      progress.stepEndSeconds.append(Date().timeIntervalSince(trained))
      if let mean = matrix.mean(step: plan.index) {
        progress.note(String(format: "step %d evaluated on %d classes: I-AUROC %.4f  P-AUROC %.4f  AUPRO %.4f",
                             plan.index + 1, seen.count, mean.iAUROC, mean.pAUROC, mean.aupro))
      }
    }
    // Every step is done: mark the run finished (a rerun with nothing left keeps the marker).
    if communicator.isCoordinator && (start.step < plans.count || RunCompletion.read(in: runDirectory)?.configHash != identity.hash) {
      try RunCompletion(identity: identity, steps: plans.count, seconds: Date().timeIntervalSince(started)).write(in: runDirectory)
    }
    return matrix
  }

  // MARK: checkpoints

  func saveCheckpoint(_ position: RunPosition) throws {
    guard communicator.isCoordinator else { return }
    var c = Checkpoint(configHash: UInt64(identity.hash, radix: 16) ?? 0, shapeHash: trainer.shapeHash)
    try trainer.save(into: &c)
    c.texts["position"] = String(decoding: try JSONEncoder().encode(position), as: UTF8.self)
    c.texts["metrics"] = String(decoding: try matrix.jsonData(), as: UTF8.self)
    c.texts["config"] = config.yaml()
    c.texts["identity"] = String(decoding: try identity.jsonData(), as: UTF8.self)
    c.texts["learning_curves"] = String(decoding: try learningCurves.jsonData(), as: UTF8.self)
    for (n, stats) in comparison.statistics { for (k, v) in stats.named(prefix: "cmp_stats/\(n.rawValue)/") { c.floats[k] = v } }
    let removed = try checkpoints.save(c, at: position)
    if !removed.isEmpty {
      progress.note("checkpoint \(position) saved; removed \(removed.joined(separator: ", ")) (train.keep_checkpoints: \(checkpoints.keep))", echo: false)
    }
  }

  /// Restores the trainer and the metrics from the checkpoint `resume` selects; where to start.
  func resumePosition() throws -> RunPosition {
    let fresh = RunPosition(step: 0, epoch: 0, iteration: 0)
    // Rank 0 chooses and reads the checkpoint and broadcasts its bytes: ranks need no shared
    // filesystem, and every rank restores exactly the same state.
    var bytes: [UInt8] = []
    let chosenPath: String
    do {
      // "" = start afresh.
      chosenPath = try communicator.coordinated {
        for line in try RunDirectory.claim(runDirectory, identity: identity, config: config, resume: resume) { progress.note(line) }
        for line in checkpoints.removeLeftovers() { progress.note(line) }
        switch resume {
        case .never: return ""
        case .path(let p):
          guard let d = FileManager.default.contents(atPath: p) else { throw RunSetupError(["cannot read checkpoint '\(p)'"]) }
          bytes = [UInt8](d)
          return p
        case .auto:
          let s = checkpoints.newestValid()
          for line in s.skipped { progress.note("skipping unusable checkpoint \(line)") }
          if let p = s.path, let d = FileManager.default.contents(atPath: p) { bytes = [UInt8](d); return p }
          if !s.skipped.isEmpty { progress.note("no valid checkpoint: starting from scratch") }
          return ""
        }
      }
    } catch { throw RunSetupError(["\(error)"]) }
    communicator.broadcast(&bytes, root: 0)
    guard !bytes.isEmpty else {
      trainer.broadcastParameters(communicator)
      return fresh
    }
    let path = chosenPath
    let chosen: Checkpoint
    do { chosen = try Checkpoint.decode(bytes) } catch { throw CheckpointError.corrupt("\(path): \(error)") }
    guard let posText = chosen.texts["position"], let metrics = chosen.texts["metrics"],
      let position = try? JSONDecoder().decode(RunPosition.self, from: Data(posText.utf8))
    else { throw CheckpointError.corrupt("\(path): missing position or metrics") }
    try checkIdentity(of: chosen, path: path, position: position)
    try trainer.restore(from: chosen)
    for n in MapNormalization.allCases {
      let entries = chosen.floats.filter { $0.key.hasPrefix("cmp_stats/\(n.rawValue)/") }
      if !entries.isEmpty { comparison.statistics[n] = try MapStatistics(named: entries, prefix: "cmp_stats/\(n.rawValue)/", channels: config.model.featureChannels) }
    }
    matrix = try MetricsMatrix(json: Data(metrics.utf8))
    if let curves = chosen.texts["learning_curves"] {
      learningCurves = try JSONDecoder().decode(LearningCurves.self, from: Data(curves.utf8))
    }
    progress.note("resuming from \(path) at \(position)")
    return position
  }

  /// A checkpoint resumes only the run it was written by (its identity, or for checkpoints of an
  /// earlier iumad its resolved config), at a position inside this schedule.
  func checkIdentity(of checkpoint: Checkpoint, path: String, position: RunPosition) throws {
    var differences: [String]
    if let text = checkpoint.texts["identity"] {
      guard let theirs = try? JSONDecoder().decode(RunIdentity.self, from: Data(text.utf8)) else {
        throw CheckpointError.corrupt("\(path): unreadable run identity")
      }
      differences = identity.differences(from: theirs)
    } else {
      differences = RunIdentity.configDifferences(from: checkpoint.texts["config"] ?? "", to: config.yaml())
    }
    let epochs = position.step < plans.count ? plans[position.step].epochs : 0
    if differences.isEmpty && (position.step > plans.count || position.epoch > epochs) {
      differences = ["position \(position) is outside this schedule (\(plans.count) steps, \(epochs) epochs at that step)"]
    }
    guard differences.isEmpty else {
      throw CheckpointError.mismatch("\(path) was written by another run; this configuration or data differs:\n    "
        + differences.joined(separator: "\n    ") + "\n  use --resume never to start over, or the configuration and data it was written with")
    }
  }

  /// Scores `samples` with the work dealt to ranks in whole batches of `train.batch_size`
  /// (batch j to rank j mod N: a sample's batch, hence its bits, do not depend on the world
  /// size). Rank 0 receives every score (and map), in sample order; the other ranks get nil.
  func scoreSharded(_ samples: [Sample], withMaps: Bool, statistics: MapStatistics? = nil) throws -> (scores: [Float], maps: [[Float]])? {
    let b = config.train.batchSize
    let shards = ShardedBatches(count: samples.count, batchSize: b, worldSize: communicator.size)
    let set = try pipeline.prepare(shards.owned(by: communicator.rank).map { samples[$0] }, modalities: trainer.model.config.modalities)
    let (scores, maps) = trainer.score(set, indices: Array(0..<set.count), batchSize: b, statistics: statistics)
    let width = 1 + (withMaps ? config.model.inputSize * config.model.inputSize : 0)
    let mine = scores.indices.flatMap { [scores[$0]] + (withMaps ? maps[$0] : []) }
    guard let items = shards.gather(mine, width: width, over: communicator) else { return nil }
    return (items.map { $0[0] }, withMaps ? items.map { Array($0.dropFirst()) } : [])
  }

  /// Scores the test sets of `classes` (sharded over ranks) and records their metrics on
  /// rank 0, which writes maps and heatmaps; the metrics are then broadcast to every rank.
  func evaluate(step: Int, classes: [String]) throws {
    let samples = pipeline.testSamples(classes)
    let scored = try scoreSharded(samples, withMaps: true)
    matrix = try communicator.coordinated { [matrix] in
      var m = matrix
      try evaluator.record(step: step, classes: classes, samples: samples, maps: scored?.maps ?? [], into: &m)
      return m
    }
  }

  /// `eval.every_epochs`: scores the step's own classes after `epoch` epochs, with map
  /// statistics measured now on `pool` (kept only for this point), and records the mean on
  /// every rank (the point travels in checkpoints). Nothing here touches training state.
  func learningCurvePoint(_ plan: StepPlan, epoch: Int, pool: PreparedSet) throws {
    let stats = trainer.mapStatistics(adding: pool, batchSize: config.train.batchSize)
    let samples = pipeline.testSamples(plan.classes)
    let scored = try scoreSharded(samples, withMaps: true, statistics: stats)
    let point = try communicator.coordinated {
      guard let mean = try evaluator.meanMetrics(classes: plan.classes, samples: samples, maps: scored?.maps ?? []) else {
        throw RunSetupError(["step \(plan.index + 1) after epoch \(epoch): no metrics for \(plan.classes.joined(separator: ", "))"])
      }
      return LearningCurves.Point(step: plan.index, epoch: epoch, metrics: mean)
    }
    learningCurves.record(point)
    progress.note(String(format: "step %d after epoch %d: %@ I-AUROC %.4f  P-AUROC %.4f  AUPRO %.4f", plan.index + 1, epoch,
                         plan.classes.joined(separator: ", "), point.metrics.iAUROC, point.metrics.pAUROC, point.metrics.aupro))
    try writeReports()
  }

  /// Rank 0: `eval.compare_maps` after a step — every map variant on the seen classes' test images.
  func compareMaps(step: Int, classes: [String]) throws {
    let samples = pipeline.testSamples(classes)
    let test = try pipeline.prepare(samples, modalities: trainer.model.config.modalities)
    let masks = try StepEvaluator.masks(samples)
    let rows = try comparison.evaluate(test, masks: masks, trainer: trainer, settings: evaluator.settings, eval: config.eval,
                                       batchSize: config.train.batchSize)
    let table = try MapComparison.write(rows, step: step, configured: trainer.model.mapVariant, runDirectory: runDirectory)
    progress.note("map comparison after step \(step + 1) (map-comparison/step-\(step + 1).md):\n" + table)
  }

  /// The good images the map statistics of `plan` are measured on: the step's validation
  /// images when they are held out of training, else its training images (the model has seen
  /// them, so residuals there are slightly smaller than on new good images).
  func statisticsPool(_ plan: StepPlan, trainSet: PreparedSet) throws -> PreparedSet {
    guard !config.data.trainSplits.contains(Split.validation.rawValue) else { return trainSet }
    let held = pipeline.samples.filter { plan.classes.contains($0.className) && $0.split == .validation }
    return held.isEmpty ? trainSet : try pipeline.prepare(held, modalities: trainer.model.config.modalities)
  }

  /// Writes RUN/model.safetensors with the decision threshold from the seen classes' validation
  /// samples (falling back to their training samples when the layout has no validation split).
  func saveModel(step: Int, seen: [String]) throws {
    var pool = pipeline.samples.filter { seen.contains($0.className) && $0.split == .validation }
    if pool.isEmpty { pool = pipeline.trainingSamples(seen) }
    guard let scores = try scoreSharded(pool, withMaps: false)?.scores else { return }
    let bundle = ModelBundle(config: config, classes: plans.flatMap(\.classes), step: step, threshold: scores.max() ?? 0)
    try bundle.write(trainer.model, to: runDirectory.appendingPathComponent(ModelBundle.fileName))
    progress.note(String(format: "model saved to %@ (decision threshold %.4f from %d validation images)",
                         runDirectory.appendingPathComponent(ModelBundle.fileName).path, bundle.threshold, pool.count))
  }

  /// The method label of this configuration in paper-style tables.
  public var methodLabel: String {
    let m = trainer.model.config
    switch (m.mamba, m.ibfm) {
    case (true, true): return "IB-IUMAD"
    case (false, false): return "IUF"
    case (false, true): return "IB-IUMAD w/o Mamba"
    case (true, false): return "IB-IUMAD w/o IBFM"
    }
  }

  public var modalityLabel: String { StepEvaluator.modalityLabel(trainer.model.config.modalities) }

  func writeReports() throws {
    guard communicator.isCoordinator else { return }
    let curves = trainer.lossCurves.keys.sorted().map { (name: $0, values: trainer.lossCurves[$0]!) }
    // What each step's epochs mean in iterations (the global batch and lr_scaling decide).
    let training = plans.map { plan in
      let images = pipeline.trainingSamples(plan.classes).count
      return "Step \(plan.index + 1) (\(plan.classes.joined(separator: ", "))): \(plan.epochs) epochs on \(images) images; "
        + config.train.iterationPlan(isBase: plan.isBase, epochs: plan.epochs, samples: images)
    }
    try evaluator.writeReports(matrix: matrix, method: methodLabel, modality: modalityLabel, schedule: pipeline.schedule,
                               lossCurves: curves, learningCurves: learningCurves, training: training)
  }
}
