import Cluster
import Datasets
import Foundation
import Model
import Storage
import Tensor

/// One micro-batch's forward pass, kept until its backward.
struct MicroBatch {
  let indices: [Int]
  let output: ModelOutput
  let terms: LossTerms
}

/// One step of the schedule: which classes it adds and how long it trains.
public struct StepPlan: Equatable, Sendable {
  public let index: Int
  public let classes: [String]
  public let epochs: Int
  public var isBase: Bool { index == 0 }

  public init(index: Int, classes: [String], epochs: Int) {
    self.index = index
    self.classes = classes
    self.epochs = epochs
  }
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
  public internal(set) var projection = GradientProjection()
  public private(set) var compression: CompressionLoss
  var adam: AdamW
  var sgd: SGD
  var thetaOld: [String: [Float]] = [:]
  /// Parameter names by module (`train.clip_scope: module`), formed once.
  let moduleGroups: [[String]]
  /// The process group gradients are summed over (a world of one by default).
  public var communicator: Communicator = LocalCommunicator()
  /// Mean of each loss term per epoch, for the loss-curve plot.
  public private(set) var lossCurves: [String: [Double]] = [:]

  public init(config: RunConfig, classes: Int) {
    self.config = config
    model = IBIUMAD(config: config.model, classes: classes, seed: config.seed)
    moduleGroups = model.parameters.groups(by: IBIUMAD.module(of:))
    compression = CompressionLoss(capacity: config.train.compressionBuffer)
    adam = AdamW(params: model.parameters, learningRate: config.train.lr, betas: (config.train.beta1, config.train.beta2),
                 weightDecay: config.train.weightDecay)
    sgd = SGD(params: model.parameters, learningRate: config.train.incrementalLR, weightDecay: config.train.incrementalWeightDecay)
  }

  /// Loss sums of the epoch in progress (kept in checkpoints so curves survive a resume).
  var epochSums: [String: Double] = [:]

  /// Trains `plan` on `data` from `start` (a resumed position, or the beginning), calling
  /// `report` after every iteration, `epochEnd(epochsDone)` after each epoch (before its
  /// checkpoint) and `checkpoint(epoch, nextIteration)` after each update.
  public func train(_ plan: StepPlan, data: PreparedSet,
                    start: (epoch: Int, iteration: Int) = (0, 0),
                    report: (IterationReport) -> Void = { _ in },
                    epochEnd: (Int) throws -> Void = { _ in },
                    checkpoint: (Int, Int) throws -> Void = { _, _ in }) throws {
    let t = config.train
    if plan.isBase && start == (0, 0) && model.config.standardizeFeatures {
      // Fixed for the rest of the run: later steps' classes are standardised with the base
      // classes' statistics, so the weights keep meaning what they meant (docs/decisions.md).
      model.featureStatistics = Self.featureStatistics(data, modalities: model.config.modalities)
    }
    if !plan.isBase && start == (0, 0) {
      // The frozen previous model θ_old that every update is pulled toward.
      thetaOld = Dictionary(uniqueKeysWithValues: model.parameters.named.map { ($0.name, $0.tensor.data) })
    }
    let sampler = EpochSampler(count: data.count, seed: config.seed &+ UInt64(plan.index) &* 1_000_003)
    let schedule = StepLR(baseRate: t.lr, stepSize: t.stepLRStep, gamma: t.stepLRGamma)
    let globalBatch = t.globalBatch(samples: data.count)
    let scale = t.learningRateScale(globalBatch: globalBatch)
    for epoch in start.epoch..<plan.epochs {
      // The loss is the mean over each whole global batch (the last one may be short).
      let batches = sampler.globalBatches(epoch: epoch, globalBatch: globalBatch)
      let lr = (plan.isBase ? schedule.rate(epoch: epoch) : t.incrementalLR) * scale
      if epoch != start.epoch || start.iteration == 0 { epochSums = [:] }
      for (it, batch) in batches.enumerated() where epoch != start.epoch || it >= start.iteration {
        let parts = EpochSampler.microBatches(batch, micro: t.microBatch, rank: communicator.rank, worldSize: communicator.size)
        let warm = t.warmupIterations > 0 ? min(1, Float(epoch * batches.count + it + 1) / Float(t.warmupIterations)) : 1
        let losses = try iteration(plan, data: data, parts: parts, globalBatch: batch.count,
                                   epoch: epoch, iteration: it, learningRate: lr * warm)
        for (n, v) in losses { epochSums[n, default: 0] += Double(v) }
        report(IterationReport(step: plan.index, epoch: epoch, epochs: plan.epochs, iteration: it,
                               iterationsPerEpoch: batches.count, samples: parts.reduce(0) { $0 + $1.count }, losses: losses, learningRate: lr * warm))
        if it + 1 == batches.count {
          for (n, s) in epochSums { lossCurves["step\(plan.index).\(n)", default: []].append(s / Double(max(batches.count, 1))) }
          epochSums = [:]
          try epochEnd(epoch + 1)
          try checkpoint(epoch + 1, 0)
        } else {
          try checkpoint(epoch, it + 1)
        }
      }
    }
  }

  /// One iteration on this rank's micro-batches `parts` of a global batch
  /// (`EpochSampler.microBatches`): forward → `GradientReducer` (each micro-batch's loss scaled
  /// by size / global batch, so the reduced gradient is the global-batch mean's, bit-identical
  /// for 1, 2, 4, … ranks when `train.micro_batch` is fixed) → update.
  func iteration(_ plan: StepPlan, data: PreparedSet, parts: [[Int]], globalBatch: Int,
                 epoch: Int, iteration: Int, learningRate: Float) throws -> [(name: String, value: Float)] {
    let t = config.train
    let slots = ["total"] + model.lossTermNames
    func forward(_ part: [Int]) -> MicroBatch {
      let input = data.batch(part, modalities: model.config.modalities, withImages: model.config.mamba)
      // Each sample's randomness is named by the sample, not by its batch or rank.
      let streams = part.map { RNG(seed: config.seed, name: "sample/\(plan.index)/\(epoch)/\($0)") }
      var ctx = ForwardContext(training: true, dropout: model.config.dropout, jitter: true, streams: streams)
      let out = model.forward(input, &ctx)
      return MicroBatch(indices: part, output: out, terms: model.loss(out, input, weights: t.lossWeights))
    }
    let reducer = GradientReducer(communicator: communicator, parameters: model.parameters.tensors, lossCount: slots.count,
                                  bucketElements: max(1, Int(t.bucketMB * 262_144)))
    func backward(_ mb: MicroBatch, rowGradients: [String: [Float]], isLast: Bool) {
      let scale = Float(mb.indices.count) / Float(globalBatch)
      var objective = mb.terms.total * scale
      for (key, rows) in compressionRows(mb.output) {
        if let g = rowGradients[key] { objective = objective + (rows * Tensor(shape: rows.shape, data: g)).sum() }
      }
      let losses = [mb.terms.total.item * scale] + mb.terms.values.map { $0.value * scale }
      reducer.backward(isLast: isLast, losses: losses) { objective.backward(leafReady: $0) }
    }
    var compressionValue: Float?
    if plan.isBase && t.compressionLoss {
      // A batch-level loss: every rank needs all rows of the global batch, so all graphs of the
      // share stay alive until the rows' gradients are known.
      let forwards = parts.map(forward)
      let (value, gradients) = try compressionGradients(forwards)
      compressionValue = value
      for (j, (mb, g)) in zip(forwards, gradients).enumerated() { backward(mb, rowGradients: g, isLast: j == forwards.count - 1) }
    } else {
      for (j, part) in parts.enumerated() { backward(forward(part), rowGradients: [:], isLast: j == parts.count - 1) }
    }
    var values = zip(slots, reducer.finish()).map { (name: $0, value: $1) }
    if let c = compressionValue {
      values[0].value += c * t.compressionWeight
      values.append(("compression", c))
    }
    values.append(("grad_norm", model.parameters.gradNorm()))
    try update(plan, learningRate: learningRate)
    return values
  }

  /// The compression loss of the whole global batch (rows all-gathered in rank order, i.e.
  /// global batch order), the mean over its keys, and, per micro-batch of this rank, the
  /// gradient of compression_weight × loss with respect to its rows. The buffers remember the global rows.
  func compressionGradients(_ forwards: [MicroBatch]) throws -> (Float, [[String: [Float]]]) {
    let d = model.config.hidden
    var value: Float = 0
    var perPart = [[String: [Float]]](repeating: [:], count: forwards.count)
    for key in compressionKeys {
      let local = forwards.flatMap { mb in compressionRows(mb.output).first { $0.0 == key }!.1.data }
      let all = communicator.allGather(floats: local)
      let first = all[..<communicator.rank].reduce(0) { $0 + $1.count } / d
      let leaf = Tensor(shape: [all.reduce(0) { $0 + $1.count } / d, d], data: all.flatMap { $0 }, requiresGrad: true)
      let loss = try compression.loss(key: key, current: leaf)
      // IUF averages the term over its layers; here over every (modality, layer) key.
      (loss * (config.train.compressionWeight / Float(compressionKeys.count))).backward()
      value += loss.item / Float(compressionKeys.count)
      let grad = leaf.grad ?? [Float](repeating: 0, count: leaf.count)
      var row = first
      for (j, mb) in forwards.enumerated() {
        perPart[j][key] = Array(grad[(row * d)..<((row + mb.indices.count) * d)])
        row += mb.indices.count
      }
      compression.remember(key: key, current: leaf.detached())
    }
    return (value, perPart)
  }

  /// The optimiser step of `plan` on the (summed) gradients.
  func update(_ plan: StepPlan, learningRate: Float) throws {
    let t = config.train
    if plan.isBase {
      clip(t.clip)
      adam.learningRate = learningRate
      adam.step()
    } else {
      // IUF clips the incremental steps too (its configs: 0.1), before the projection.
      clip(t.incrementalClip)
      projection.projectGradients(model.parameters)
      pullTowardOld(t.pull)
      sgd.learningRate = learningRate
      sgd.step()
    }
  }

  func clip(_ maxNorm: Float) {
    guard maxNorm > 0 else { return }
    switch config.train.clipScope {
    case .global: model.parameters.clipGradNorm(maxNorm)
    case .module: model.parameters.clipGradNorm(maxNorm, groups: moduleGroups)
    }
  }

  /// The compression loss's keys: "modality.layer" for the decoder features f^{rec 1…L−1}.
  var compressionKeys: [String] {
    model.config.modalities.sorted().flatMap { m in (0..<(model.config.decoderLayers - 1)).map { "\(m.rawValue).\($0)" } }
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

  /// Rank 0's initial parameters on every rank: seeded initialisation already agrees on
  /// identical machines, but libm's log/cos (Box–Muller) may differ across hosts.
  public func broadcastParameters(_ communicator: Communicator) {
    guard communicator.size > 1 else { return }
    let params = model.parameters.tensors
    var bytes = params.flatMap { $0.data }.withUnsafeBytes { [UInt8]($0) }
    communicator.broadcast(&bytes, root: 0)
    bytes.withUnsafeBytes { raw in
      let floats = raw.bindMemory(to: Float.self)
      var offset = 0
      for p in params {
        p.data = Array(floats[offset..<(offset + p.count)])
        offset += p.count
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
    for (m, s) in model.featureStatistics { c.floats["feature_stats/\(m.rawValue)"] = s.packed }
    for (k, v) in model.mapStatistics?.named(prefix: "map_stats/") ?? [:] { c.floats[k] = v }
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
    model.featureStatistics = try Self.featureStatistics(part("feature_stats/"), channels: model.config.featureChannels)
    // Every checkpoint is written after the base step measured them: none means another version.
    if model.config.standardizeFeatures && Set(model.featureStatistics.keys) != Set(model.config.modalities) {
      throw CheckpointError.mismatch("the checkpoint holds no feature statistics for \(model.config.modalities.map(\.rawValue)) but model.standardize_features is on (written by an older version?); start over with --resume never")
    }
    let mapEntries = c.floats.filter { $0.key.hasPrefix("map_stats/") }
    model.mapStatistics = mapEntries.isEmpty ? nil : try MapStatistics(named: mapEntries, prefix: "map_stats/", channels: model.config.featureChannels)
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
}
