import Tensor

/// What the map normalisation knows about good images: per source, the statistics of the
/// residual's channels (for `channel`) and of the source's token score before its z-score.
/// Measured at the end of every step on that step's good images and pooled with the earlier
/// steps' (docs/decisions.md), so no earlier class's data is needed.
public struct MapStatistics: Equatable, Sendable {
  public var channel: [MapSource: ChannelStatistics] = [:]
  public var score: [MapSource: ChannelStatistics] = [:]
  public init() {}

  /// Pools `other` into these statistics, source by source.
  public mutating func merge(_ other: MapStatistics) {
    for (k, v) in other.channel { channel[k, default: ChannelStatistics(channels: v.channels)].merge(v) }
    for (k, v) in other.score { score[k, default: ChannelStatistics(channels: 1)].merge(v) }
  }

  // MARK: storage as named float arrays (checkpoints and model files)

  public func named(prefix: String) -> [String: [Float]] {
    var out: [String: [Float]] = [:]
    for (k, v) in channel { out["\(prefix)channel.\(k.rawValue)"] = v.packed }
    for (k, v) in score { out["\(prefix)score.\(k.rawValue)"] = v.packed }
    return out
  }

  /// The inverse of `named`; throws naming the entry that does not fit.
  public init(named: [String: [Float]], prefix: String, channels: Int) throws {
    for (key, value) in named where key.hasPrefix(prefix) {
      let parts = key.dropFirst(prefix.count).split(separator: ".")
      guard parts.count == 2, let source = MapSource(rawValue: String(parts[1])) else {
        throw StatisticsError.malformed(key)
      }
      switch parts[0] {
      case "channel":
        guard let s = ChannelStatistics(packed: value, channels: channels) else { throw StatisticsError.malformed(key) }
        channel[source] = s
      case "score":
        guard let s = ChannelStatistics(packed: value, channels: 1) else { throw StatisticsError.malformed(key) }
        score[source] = s
      default: throw StatisticsError.malformed(key)
      }
    }
  }
}

public enum StatisticsError: Error, CustomStringConvertible {
  case malformed(String)
  case missing(String)
  public var description: String {
    switch self {
    case .malformed(let k): return "statistics entry '\(k)' has the wrong name or size"
    case .missing(let what): return "missing statistics: \(what)"
    }
  }
}

extension IBIUMAD {
  /// Statistics of `sources` under `normalization` over good images, from the residual
  /// batches `batches` yields (called once, or twice for `channel`: its token scores need the
  /// channel statistics first). Rows are added in the order yielded, so the result is
  /// deterministic.
  public func measureMapStatistics(sources: [MapSource], normalization: MapNormalization,
                                   _ batches: ((SourceResiduals) -> Void) -> Void) -> MapStatistics {
    var stats = MapStatistics()
    let c = config.featureChannels
    if normalization == .channel {
      batches { r in
        for source in sources { stats.channel[source, default: ChannelStatistics(channels: c)].add(rows: r[source]!) }
      }
    }
    batches { r in
      for source in sources {
        stats.score[source, default: ChannelStatistics(channels: 1)].add(rows: innerScores(r[source]!, source, normalization, statistics: stats))
      }
    }
    return stats
  }
}
