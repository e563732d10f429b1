import Foundation
import Model
import Tensor

// MARK: evaluation-mode passes of the trainer: statistics and scoring

/// What the trainer measures without training: the feature statistics that standardise the
/// MRN's input (base step), the good-image statistics that normalise the maps (every step), and
/// the anomaly maps of a set.
extension IncrementalTrainer {
  /// Feature statistics stored as `ChannelStatistics.packed` under modality names.
  public static func featureStatistics(_ named: [String: [Float]], channels: Int) throws -> [Modality: ChannelStatistics] {
    var out: [Modality: ChannelStatistics] = [:]
    for (k, v) in named {
      guard let m = Modality(rawValue: k), let s = ChannelStatistics(packed: v, channels: channels) else {
        throw StatisticsError.malformed("feature_stats/\(k)")
      }
      out[m] = s
    }
    return out
  }

  /// Per-channel statistics of every modality's features over all tokens of `data`.
  static func featureStatistics(_ data: PreparedSet, modalities: [Modality]) -> [Modality: ChannelStatistics] {
    var out: [Modality: ChannelStatistics] = [:]
    for m in modalities {
      var s = ChannelStatistics(channels: data.channels)
      for block in data.features[m]! { s.add(rows: block) }
      out[m] = s
    }
    return out
  }

  /// The model's map statistics pooled with those of `pool`'s (good) images under the current
  /// parameters; nil when the maps are not normalised.
  public func mapStatistics(adding pool: PreparedSet, batchSize: Int) -> MapStatistics? {
    let v = model.mapVariant
    guard v.normalization != .none else { return nil }
    var stats = model.mapStatistics ?? MapStatistics()
    stats.merge(model.measureMapStatistics(sources: v.sources, normalization: v.normalization) { body in
      forEachOutput(pool, batchSize: batchSize) { body(model.residuals($0, sources: v.sources)) }
    })
    return stats
  }

  /// Evaluation-mode forward passes over `data` in batches, in order.
  public func forEachOutput(_ data: PreparedSet, batchSize: Int, _ body: (ModelOutput) throws -> Void) rethrows {
    let mc = model.config
    try GradMode.withoutGrad {
      for start in stride(from: 0, to: data.count, by: batchSize) {
        var ctx = ForwardContext.eval
        try body(model.forward(data.batch(Array(start..<min(start + batchSize, data.count)), modalities: mc.modalities, withImages: mc.mamba), &ctx))
      }
    }
  }

  /// Anomaly maps and image scores for `data` (evaluation mode); `statistics` nil = the model's.
  public func score(_ data: PreparedSet, indices: [Int], batchSize: Int, statistics: MapStatistics? = nil) -> (scores: [Float], maps: [[Float]]) {
    let mc = model.config
    var scores: [Float] = [], maps: [[Float]] = []
    let s = mc.inputSize
    for start in stride(from: 0, to: indices.count, by: batchSize) {
      let idx = Array(indices[start..<min(start + batchSize, indices.count)])
      let input = data.batch(idx, modalities: mc.modalities, withImages: mc.mamba)
      var ctx = ForwardContext.eval
      let out = GradMode.withoutGrad { model.forward(input, &ctx) }
      let am = model.anomalyMaps(out, blurSigma: config.eval.mapBlurSigma,
                                 poolKernel: config.eval.mapPoolKernel, statistics: statistics)
      scores += am.scores
      for b in 0..<idx.count { maps.append(Array(am.maps.data[(b * s * s)..<((b + 1) * s * s)])) }
    }
    return (scores, maps)
  }
}
