import Backbone
import Datasets
import Foundation
import Model
import Tensor

/// One step of the schedule: which classes it adds and how long it trains.
public struct StepPlan: Equatable, Sendable {
  public let index: Int
  public let classes: [String]
  public let epochs: Int
  public var isBase: Bool { index == 0 }
}

/// What the trainer reports after each iteration (rank 0 turns it into a progress line).
public struct IterationReport {
  public let step: Int, epoch: Int, epochs: Int, iteration: Int, iterationsPerEpoch: Int
  public let samples: Int
  public let losses: [(name: String, value: Float)]
  public let learningRate: Float
}

/// Trains IB-IUMAD through a schedule (SPEC §7): AdamW + StepLR + clipping + the compression
/// loss in the base step; pull toward θ_old and gradient-projected SGD in incremental steps.
/// Everything random derives from (seed, step, epoch, iteration), so runs are reproducible.
public final class IncrementalTrainer {
  public let config: RunConfig
  public let model: IBIUMAD
  public private(set) var projection = GradientProjection()
  public private(set) var compression: CompressionLoss
  var adam: AdamW
  var sgd: SGD
  var thetaOld: [String: [Float]] = [:]
  /// Sums gradients across ranks (identity in one process); installed by the cluster layer.
  public var reduceGradients: (ParameterStore) -> Void = { _ in }
  /// Mean of each loss term per epoch, for the loss-curve plot.
  public private(set) var lossCurves: [String: [Double]] = [:]

  public init(config: RunConfig, classes: Int) {
    var mc = config.model
    mc.classes = classes
    var c = config
    c.model = mc
    self.config = c
    model = IBIUMAD(config: mc, seed: config.seed)
    compression = CompressionLoss(capacity: config.train.compressionBuffer)
    adam = AdamW(params: model.parameters, learningRate: config.train.lr, betas: (config.train.beta1, config.train.beta2),
                 weightDecay: config.train.weightDecay)
    sgd = SGD(params: model.parameters, learningRate: config.train.incrementalLR)
  }

  /// Loss sums of the epoch in progress (kept in checkpoints so curves survive a resume).
  var epochSums: [String: Double] = [:]

  /// Trains `plan` on `data` from `start` (a resumed position, or the beginning), calling
  /// `report` after every iteration and `checkpoint(epoch, nextIteration)` after each update.
  public func train(_ plan: StepPlan, data: PreparedSet, rank: Int = 0, worldSize: Int = 1,
                    start: (epoch: Int, iteration: Int) = (0, 0),
                    report: (IterationReport) -> Void = { _ in },
                    checkpoint: (Int, Int) throws -> Void = { _, _ in }) throws {
    let t = config.train
    if !plan.isBase && start == (0, 0) {
      // The frozen previous model θ_old that every update is pulled toward.
      thetaOld = Dictionary(uniqueKeysWithValues: model.parameters.named.map { ($0.name, $0.tensor.data) })
    }
    let sampler = EpochSampler(count: data.count, seed: config.seed &+ UInt64(plan.index) &* 1_000_003)
    let schedule = StepLR(baseRate: t.lr, stepSize: t.stepLRStep, gamma: t.stepLRGamma)
    let globalBatch = min(t.batchSize, data.count)
    for epoch in start.epoch..<plan.epochs {
      let batches = sampler.batches(epoch: epoch, globalBatch: globalBatch, rank: rank, worldSize: worldSize)
      // The size of each whole global batch (the last one may be short): the loss is its mean.
      let globalSizes = sampler.globalBatches(epoch: epoch, globalBatch: globalBatch).map(\.count)
      let lr = plan.isBase ? schedule.rate(epoch: epoch) : t.incrementalLR
      if epoch != start.epoch || start.iteration == 0 { epochSums = [:] }
      for (it, indices) in batches.enumerated() where epoch != start.epoch || it >= start.iteration {
        let losses = try iteration(plan, data: data, indices: indices, globalBatch: globalSizes[it],
                                   epoch: epoch, iteration: it, learningRate: lr)
        for (n, v) in losses { epochSums[n, default: 0] += Double(v) }
        report(IterationReport(step: plan.index, epoch: epoch, epochs: plan.epochs, iteration: it,
                               iterationsPerEpoch: batches.count, samples: indices.count, losses: losses, learningRate: lr))
        if it + 1 == batches.count {
          for (n, s) in epochSums { lossCurves["step\(plan.index).\(n)", default: []].append(s / Double(max(batches.count, 1))) }
          epochSums = [:]
          try checkpoint(epoch + 1, 0)
        } else {
          try checkpoint(epoch, it + 1)
        }
      }
    }
  }

  /// One forward/backward/update on this rank's part `indices` of a global batch.
  func iteration(_ plan: StepPlan, data: PreparedSet, indices: [Int], globalBatch: Int,
                 epoch: Int, iteration: Int, learningRate: Float) throws -> [(name: String, value: Float)] {
    let t = config.train
    if indices.isEmpty {
      // A rank whose share of a short last batch is empty still joins the gradient sum.
      model.parameters.zeroGrad()
      reduceGradients(model.parameters)
      let norm = model.parameters.gradNorm()
      try update(plan, learningRate: learningRate)
      return [("grad_norm", norm)]
    }
    let input = data.batch(indices, modalities: model.config.modalities, withImages: model.config.mamba)
    var ctx = ForwardContext(training: true, dropout: model.config.dropout, jitter: true,
                             rng: RNG(seed: config.seed, name: "iter/\(plan.index)/\(epoch)/\(iteration)"))
    let out = model.forward(input, &ctx)
    let terms = model.loss(out, input, weights: t.lossWeights)
    var total = terms.total
    var values = terms.values
    if plan.isBase && t.compressionLoss {
      var c: Tensor?
      for (key, rows) in compressionRows(out) {
        let l = try compression.loss(key: key, current: rows)
        c = c.map { $0 + l } ?? l
      }
      if let c {
        total = total + c * t.compressionWeight
        values.append(("compression", c.item))
      }
      for (key, rows) in compressionRows(out) { compression.remember(key: key, current: rows.detached()) }
    }
    values.insert(("total", total.item), at: 0)
    model.parameters.zeroGrad()
    // Each rank's loss is a mean over its share; scaling by share/global makes the summed
    // gradients equal the gradient of the global-batch mean.
    total.backward(seed: [Float(indices.count) / Float(globalBatch)])
    reduceGradients(model.parameters)
    values.append(("grad_norm", model.parameters.gradNorm()))
    try update(plan, learningRate: learningRate)
    return values
  }

  /// The optimiser step of `plan` on the (summed) gradients.
  func update(_ plan: StepPlan, learningRate: Float) throws {
    let t = config.train
    if plan.isBase {
      if t.clip > 0 { model.parameters.clipGradNorm(t.clip) }
      adam.learningRate = learningRate
      adam.step()
    } else {
      projection.projectGradients(model.parameters)
      pullTowardOld(t.pull)
      sgd.learningRate = learningRate
      sgd.step()
    }
  }

  /// Token-mean decoder features f^{rec 1…L−1} of every modality: the compression loss's rows.
  func compressionRows(_ out: ModelOutput) -> [(String, Tensor)] {
    var rows: [(String, Tensor)] = []
    for m in model.config.modalities.sorted() {
      let recs = out.reconstructions[m]!.decoderFeatures
      for (i, f) in recs.dropLast().enumerated() { rows.append(("\(m.rawValue).\(i)", f.mean(axes: [1]))) }
    }
    return rows
  }

  /// θ ← (1 − pull)·θ + pull·θ_old.
  func pullTowardOld(_ pull: Float) {
    guard pull > 0 else { return }
    for (name, p) in model.parameters.named {
      guard let old = thetaOld[name] else { continue }
      p.data.withUnsafeMutableBufferPointer { w in
        for i in 0..<w.count { w[i] = (1 - pull) * w[i] + pull * old[i] }
      }
    }
  }

  // MARK: checkpoint state

  /// Identifies the parameter layout: a checkpoint of another model shape is refused.
  public var shapeHash: UInt64 {
    var h = FNV1a64()
    for (n, t) in model.parameters.named { h.combine("\(n)\(t.shape);") }
    return h.value
  }

  /// Everything the trainer needs to continue exactly: parameters, optimiser states, θ_old,
  /// projection Gram matrices, compression buffers, loss curves.
  public func save(into c: inout Checkpoint) throws {
    for (n, t) in model.parameters.named { c.floats["param/\(n)"] = t.data }
    for (k, v) in adam.stateDict() { c.floats["adam/\(k)"] = v }
    for (k, v) in sgd.stateDict() { c.floats["sgd/\(k)"] = v }
    for (k, v) in thetaOld { c.floats["theta_old/\(k)"] = v }
    for (k, v) in projection.grams { c.floats["gram/\(k)"] = v }
    for (k, rows) in compression.buffers { c.floats["compression/\(k)"] = rows.flatMap { $0 } }
    let curves = try JSONSerialization.data(withJSONObject: ["curves": lossCurves, "epoch_sums": epochSums], options: [.sortedKeys])
    c.texts["loss_curves"] = String(decoding: curves, as: UTF8.self)
  }

  public func restore(from c: Checkpoint) throws {
    guard c.shapeHash == shapeHash else {
      throw CheckpointError.mismatch("the checkpoint holds a model of another shape (different model config or class count); refusing to load it")
    }
    func part(_ prefix: String) -> [String: [Float]] {
      Dictionary(uniqueKeysWithValues: c.floats.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
    }
    // Same shape hash ⇒ same names and shapes: each stored array fits its parameter.
    try model.parameters.load(part("param/").reduce(into: [:]) { out, kv in
      out[kv.key] = Tensor(shape: model.parameters[kv.key]?.shape ?? [kv.value.count], data: kv.value)
    })
    try adam.loadStateDict(part("adam/"))
    try sgd.loadStateDict(part("sgd/"))
    thetaOld = part("theta_old/")
    try projection.restore(grams: part("gram/"))
    let d = model.config.hidden
    compression.restore(part("compression/").mapValues { flat in stride(from: 0, to: flat.count, by: d).map { Array(flat[$0..<($0 + d)]) } })
    if let text = c.texts["loss_curves"], let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
      lossCurves = obj["curves"] as? [String: [Double]] ?? [:]
      epochSums = obj["epoch_sums"] as? [String: Double] ?? [:]
    }
  }

  /// At the end of a step: adds this step's FFN output statistics to the projection matrices.
  public func accumulateProjection(_ data: PreparedSet, batchSize: Int) throws {
    let mc = model.config
    GradMode.withoutGrad {
      for start in stride(from: 0, to: data.count, by: batchSize) {
        let idx = Array(start..<min(start + batchSize, data.count))
        var ctx = ForwardContext.eval
        let out = model.forward(data.batch(idx, modalities: mc.modalities, withImages: mc.mamba), &ctx)
        for m in mc.modalities {
          let ffn = out.reconstructions[m]!.ffnOutputs
          for (i, f) in ffn.enumerated() {
            let layer = i < mc.encoderLayers ? "encoder.\(i)" : "decoder.\(i - mc.encoderLayers)"
            projection.accumulate(layer: "mrn.\(m.rawValue).\(layer).linear2", rows: f.mean(axes: [1]).data, d: mc.hidden)
          }
        }
      }
    }
    try projection.refresh()
  }

  /// Anomaly maps and image scores for `data` (evaluation mode).
  public func score(_ data: PreparedSet, indices: [Int], batchSize: Int) -> (scores: [Float], maps: [[Float]]) {
    let mc = model.config
    var scores: [Float] = [], maps: [[Float]] = []
    let s = mc.inputSize
    for start in stride(from: 0, to: indices.count, by: batchSize) {
      let idx = Array(indices[start..<min(start + batchSize, indices.count)])
      let input = data.batch(idx, modalities: mc.modalities, withImages: mc.mamba)
      var ctx = ForwardContext.eval
      let out = GradMode.withoutGrad { model.forward(input, &ctx) }
      let am = model.anomalyMaps(out, input, blurSigma: config.eval.blurSigma > 0 ? config.eval.blurSigma : nil,
                                 poolKernel: config.eval.pool > 0 ? config.eval.pool : nil)
      scores += am.scores
      for b in 0..<idx.count { maps.append(Array(am.maps.data[(b * s * s)..<((b + 1) * s * s)])) }
    }
    return (scores, maps)
  }
}
