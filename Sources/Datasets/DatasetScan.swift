/// What a layout reader found: the samples it could assemble and every structural problem
/// (missing partner files, bad meta lines ...) it met on the way. Readers never stop at the first
/// problem, so one pass lists them all.
public struct DatasetScan: Sendable {
  public var samples: [Sample]
  public var problems: [DatasetError]

  public init(samples: [Sample] = [], problems: [DatasetError] = []) {
    self.samples = samples
    self.problems = problems
  }

  /// Class names in sorted order (the default class order of incremental schedules).
  public var classes: [String] { Array(Set(samples.map(\.className))).sorted() }
}

/// The on-disk layouts we read.
public enum DatasetFormat: String, Sendable, CaseIterable {
  case mvtec3d, eyecandies, jsonl
}

/// Options for locating samples.
public struct DatasetOptions: Sendable {
  /// Eyecandies: which of the six lighting variants `<id>_image_K.png` is the RGB input.
  public var eyecandiesImageIndex: Int = 4
  /// JSONL: the meta files (one JSON object a line), relative to the image root or absolute.
  public var metaFiles: [String] = []
  /// JSONL: the classes a meta file may name; nil means the image root's top-level directories.
  public var knownClasses: [String]? = nil

  public init(eyecandiesImageIndex: Int = 4, metaFiles: [String] = [], knownClasses: [String]? = nil) {
    self.eyecandiesImageIndex = eyecandiesImageIndex
    self.metaFiles = metaFiles
    self.knownClasses = knownClasses
  }
}

public enum DatasetReader {
  /// Locates the samples of a dataset in `format` under `root` (no image is opened yet).
  public static func scan(format: DatasetFormat, root: String, options: DatasetOptions = DatasetOptions()) -> DatasetScan {
    guard FileSystem.isDirectory(root) else { return DatasetScan(problems: [.missingRoot(path: root)]) }
    var scan: DatasetScan
    switch format {
    case .mvtec3d: scan = MVTec3DLayout.scan(root: root)
    case .eyecandies: scan = EyecandiesLayout.scan(root: root, imageIndex: options.eyecandiesImageIndex)
    case .jsonl: scan = MetaFileLayout.scan(root: root, metaFiles: options.metaFiles, knownClasses: options.knownClasses)
    }
    if scan.samples.isEmpty && scan.problems.isEmpty {
      scan.problems.append(.emptyRoot(path: root, layout: format.rawValue))
    }
    return scan
  }
}
