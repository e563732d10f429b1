import Tensor

/// Facts about one sample that passed its checks.
public struct SampleStats: Sendable, Equatable {
  public var width: Int
  public var height: Int
  /// Fraction of depth pixels that are valid (finite, non-zero).
  public var validDepthFraction: Double
}

/// A dataset whose every sample loaded cleanly.
public struct ValidatedDataset: Sendable {
  public var samples: [Sample]
  public var stats: [SampleStats]
  /// Problems whose files were left out (only when skipping bad samples was asked for).
  public var skipped: [DatasetError]
}

/// The validation pass run before training and by `iumad dataset inspect`: every sample is
/// opened and checked (in parallel), and all problems are collected rather than the first.
public enum DatasetValidator {
  public static func check(_ sample: Sample) -> Result<SampleStats, DatasetError> {
    do {
      let loaded = try SampleLoader.load(sample)
      let valid = loaded.xyz.zValues.reduce(0) { $0 + (DepthProcessing.isValid($1) ? 1 : 0) }
      return .success(SampleStats(width: loaded.rgb.width, height: loaded.rgb.height,
                                  validDepthFraction: Double(valid) / Double(max(loaded.xyz.pixelCount, 1))))
    } catch let e as DatasetError {
      return .failure(e)
    } catch {
      return .failure(.unreadableImage(.corrupt(path: sample.rgbPath, reason: "\(error)")))
    }
  }

  /// `check` for every sample, in the order given; files are read in parallel.
  public static func checkAll(_ samples: [Sample]) -> [Result<SampleStats, DatasetError>] {
    var results = [Result<SampleStats, DatasetError>?](repeating: nil, count: samples.count)
    results.withUnsafeMutableBufferPointer { out in
      Threading.parallelFor(samples.count) { range in
        for i in range { out[i] = check(samples[i]) }
      }
    }
    return results.map { $0! }
  }

  /// Checks a scanned dataset. Without `skipBadSamples`, any problem (structural ones from the
  /// scan included) throws `DatasetValidationError` listing them all; with it, bad samples are
  /// left out and listed in `skipped`. A dataset with no usable sample always throws.
  public static func validate(_ scan: DatasetScan, skipBadSamples: Bool) throws -> ValidatedDataset {
    let results = checkAll(scan.samples)
    var problems = scan.problems
    var kept = ValidatedDataset(samples: [], stats: [], skipped: [])
    for (sample, result) in zip(scan.samples, results) {
      switch result {
      case .success(let stats):
        kept.samples.append(sample)
        kept.stats.append(stats)
      case .failure(let e):
        problems.append(e)
      }
    }
    if problems.isEmpty { return kept }
    let fatal = problems.contains { if case .missingRoot = $0 { return true }; if case .emptyRoot = $0 { return true }; return false }
    if !skipBadSamples || fatal || kept.samples.isEmpty { throw DatasetValidationError(problems: problems) }
    kept.skipped = problems
    return kept
  }
}
