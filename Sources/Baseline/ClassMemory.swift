import Tensor

/// What one class adds to one modality's memory: its coreset tokens, and the nearest-neighbour
/// distances of defect-free tokens that are not in the bank (`calibration`), from which the
/// modality's z-score statistics come.
public struct ClassMemory {
  public var bankTokens: [Float]
  public var calibration: [Float]
  /// Where `calibration` came from, for the summary: "validation" or "held-out training images".
  public var calibrationSource: String
}

/// Builds `ClassMemory`s: coresets are taken per class (docs/decisions.md: the bank after any
/// schedule is then the same, and the cost grows linearly with the number of classes).
public struct ClassMemoryBuilder {
  public let settings: BaselineSettings
  public let sampler: CoresetSampler
  public let scorer: NearestNeighbourScorer
  public let dim: Int

  public init(settings: BaselineSettings, seed: UInt64, dim: Int) {
    self.settings = settings
    self.dim = dim
    sampler = CoresetSampler(settings: settings, seed: seed)
    scorer = NearestNeighbourScorer(dim: dim, k: settings.neighbours)
  }

  /// `training`: one [T·dim] feature block per training image of the class; `validation`: the
  /// same for defect-free images the bank never sees (nil or empty when there are none).
  /// `stream` names class and modality (each gets its own random start and hold-out draw).
  public func build(className: String, training: [[Float]], validation: [[Float]]?, stream: String) throws -> ClassMemory {
    let bank = coreset(training, stream: stream)
    if let validation, !validation.isEmpty {
      return ClassMemory(bankTokens: bank, calibration: scorer.score(validation.flatMap { $0 }, bank: bank),
                         calibrationSource: "validation")
    }
    // No unseen defect-free images: hold some training images out of a second, calibration
    // bank built the same way from the rest, and measure them against it.
    guard training.count >= 2 else {
      throw BaselineError.tooFewCalibrationImages(className: className, trainingImages: training.count)
    }
    let held = Set(heldOut(count: training.count, stream: stream))
    let rest = training.indices.filter { !held.contains($0) }.map { training[$0] }
    let calibrationBank = coreset(rest, stream: stream + ".calibration")
    let queries = held.sorted().flatMap { training[$0] }
    return ClassMemory(bankTokens: bank, calibration: scorer.score(queries, bank: calibrationBank),
                       calibrationSource: "held-out training images")
  }

  /// The coreset tokens of a set of images.
  func coreset(_ images: [[Float]], stream: String) -> [Float] {
    let all = images.flatMap { $0 }
    let n = all.count / dim
    let keep = sampler.select(all, count: n, dim: dim, stream: stream)
    if keep.count == n { return all }
    var out = [Float](repeating: 0, count: keep.count * dim)
    for (i, j) in keep.enumerated() { out[(i * dim)..<((i + 1) * dim)] = all[(j * dim)..<((j + 1) * dim)] }
    return out
  }

  /// The images held out for calibration: a seeded ⌈fraction·count⌉ of them, at least one
  /// and at most count − 1.
  func heldOut(count n: Int, stream: String) -> [Int] {
    let h = min(n - 1, max(1, Int((settings.calibrationFraction * Double(n) - 1e-9).rounded(.up))))
    var rng = RNG(seed: sampler.seed, name: "baseline.calibration." + stream)
    return Array(rng.permutation(n).prefix(h))
  }
}
