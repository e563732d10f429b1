import Foundation

/// The report of `iumad dataset inspect`: what a dataset holds, per class and split, and every
/// problem found. Encoded as JSON with snake_case keys.
public struct DatasetSummary: Codable, Sendable {
  public struct SplitSummary: Codable, Sendable {
    public var samples: Int = 0
    public var defectTypes: [String: Int] = [:]
    /// "WxH" → number of samples of that size (among samples that could be read).
    public var imageSizes: [String: Int] = [:]
    /// Mean fraction of valid depth pixels over the readable samples; nil if none was readable.
    public var validDepthFraction: Double?

    enum CodingKeys: String, CodingKey {
      case samples, defectTypes = "defect_types", imageSizes = "image_sizes", validDepthFraction = "valid_depth_fraction"
    }
  }

  public var root: String
  public var format: String
  public var classes: [String]
  public var sampleCount: Int
  public var perClass: [String: [String: SplitSummary]]
  public var problems: [String]

  // Explicit snake_case keys: a key strategy would also rewrite class names used as dictionary
  // keys (Eyecandies' "CandyCane").
  enum CodingKeys: String, CodingKey {
    case root, format, classes, sampleCount = "sample_count", perClass = "per_class", problems
  }

  public init(root: String, format: DatasetFormat, scan: DatasetScan, checks: [Result<SampleStats, DatasetError>]) {
    precondition(checks.count == scan.samples.count, "DatasetSummary: one check per sample")
    self.root = root
    self.format = format.rawValue
    classes = scan.classes
    sampleCount = scan.samples.count
    var perClass: [String: [String: SplitSummary]] = [:]
    var fractions: [String: [String: [Double]]] = [:]
    var problems = scan.problems.map(\.description)
    for (sample, check) in zip(scan.samples, checks) {
      let split = sample.split.rawValue
      var entry = perClass[sample.className, default: [:]][split, default: SplitSummary()]
      entry.samples += 1
      entry.defectTypes[sample.defectType, default: 0] += 1
      switch check {
      case .success(let stats):
        entry.imageSizes["\(stats.width)x\(stats.height)", default: 0] += 1
        fractions[sample.className, default: [:]][split, default: []].append(stats.validDepthFraction)
      case .failure(let e):
        problems.append(e.description)
      }
      perClass[sample.className, default: [:]][split] = entry
    }
    for (className, splits) in fractions {
      for (split, values) in splits {
        let mean = values.reduce(0, +) / Double(values.count)
        perClass[className]?[split]?.validDepthFraction = (mean * 10_000).rounded() / 10_000
      }
    }
    // A class is evaluated by comparing its good and defective test images: it needs both.
    for className in scan.classes {
      let test = scan.samples.filter { $0.className == className && $0.split == .test }
      for (label, what) in [(1, "defective"), (0, "good")] where !test.isEmpty && !test.contains(where: { $0.label == label }) {
        problems.append("class '\(className)': no \(what) test samples (evaluation needs good and defective ones)")
      }
    }
    self.perClass = perClass
    self.problems = problems
  }

  public func json() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(self)
  }
}
