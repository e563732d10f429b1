import Foundation
import ImageIO
import Tensor

/// Sizes of a synthetic dataset.
public struct SyntheticDatasetConfig: Sendable {
  public var classes: Int
  /// Samples per class in `train/good`.
  public var train: Int
  /// Samples per class in `validation/good`.
  public var validation: Int
  /// Samples per class in `test`, dealt in turn to good, color, dent, combined.
  public var test: Int
  /// Image width and height in pixels.
  public var size: Int
  public var seed: UInt64

  public init(classes: Int, train: Int, validation: Int, test: Int, size: Int, seed: UInt64) {
    self.classes = classes
    self.train = train
    self.validation = validation
    self.test = test
    self.size = size
    self.seed = seed
  }
}

/// `iumad synth`: a dataset in the real MVTec 3D-AD layout (PNG via libpng, float32 TIFF via
/// libtiff), so every reader path is exercised without downloading anything:
///
///     <class>/train/good/{rgb/NNN.png, xyz/NNN.tiff}
///     <class>/validation/good/{rgb,xyz}/...
///     <class>/test/{good,color,dent,combined}/{rgb,xyz,gt}/NNN.*
///
/// `color` changes albedo only, `dent` pushes the surface in (depth only, the RGB is rendered
/// from the undented surface), `combined` has one of each at separate places. GT masks are 255
/// exactly on the changed pixels (all zero for `good`). Output is byte-identical for equal
/// configs: each sample draws from its own generator `RNG(seed:, stream:)`, whatever the thread.
public enum SyntheticDataset {
  public static let defectTypes: [String] = SyntheticDefect.allCases.filter { $0 != .good }.map(\.rawValue)
  public static let maxClasses = 100

  public static func classNames(count: Int) -> [String] { SyntheticClass.catalogue(count: count).map(\.name) }

  /// One file set to render.
  struct Job {
    var classIndex: Int
    var split: Split
    var defect: SyntheticDefect
    var index: Int
    var folder: String
    var stem: String
  }

  public static func validate(_ config: SyntheticDatasetConfig) throws {
    func fail(_ s: String) -> SyntheticDatasetError { .invalidConfig(s) }
    guard (1...maxClasses).contains(config.classes) else { throw fail("classes must be 1...\(maxClasses), got \(config.classes)") }
    guard config.train >= 1 else { throw fail("train must be at least 1, got \(config.train)") }
    guard config.validation >= 0, config.test >= 0 else { throw fail("validation and test counts must not be negative") }
    guard (32...4096).contains(config.size) else { throw fail("size must be 32...4096 pixels, got \(config.size)") }
  }

  /// Writes the dataset under `root` (created if needed; existing files are overwritten).
  /// Returns the number of samples written.
  @discardableResult
  public static func write(_ config: SyntheticDatasetConfig, to root: String) throws -> Int {
    try validate(config)
    let classes = SyntheticClass.catalogue(count: config.classes)
    let jobs = plan(config, classes: classes, root: root)
    let splitOfFolder = Dictionary(jobs.map { ($0.folder, $0.split) }, uniquingKeysWith: { a, _ in a })
    for (folder, split) in splitOfFolder.sorted(by: { $0.key < $1.key }) {
      for sub in split == .test ? ["rgb", "xyz", "gt"] : ["rgb", "xyz"] {
        try createDirectory(FileSystem.join(folder, sub))
      }
    }
    let renderer = SyntheticRenderer(size: config.size)
    var failures = [Error?](repeating: nil, count: jobs.count)
    failures.withUnsafeMutableBufferPointer { out in
      Threading.parallelFor(jobs.count) { range in
        for j in range {
          do { try writeSample(jobs[j], classes: classes, renderer: renderer, seed: config.seed) } catch { out[j] = error }
        }
      }
    }
    if let error = failures.compactMap({ $0 }).first { throw error }
    return jobs.count
  }

  static func plan(_ config: SyntheticDatasetConfig, classes: [SyntheticClass], root: String) -> [Job] {
    var jobs: [Job] = []
    let width = String(max(config.train, config.validation, config.test) - 1).count
    let stem = { (i: Int) in String(repeating: "0", count: max(0, max(3, width) - String(i).count)) + String(i) }
    for (k, cls) in classes.enumerated() {
      let base = FileSystem.join(root, cls.name)
      for i in 0..<config.train {
        jobs.append(Job(classIndex: k, split: .train, defect: .good, index: i, folder: FileSystem.join(base, "train", "good"), stem: stem(i)))
      }
      for i in 0..<config.validation {
        jobs.append(Job(classIndex: k, split: .validation, defect: .good, index: i, folder: FileSystem.join(base, "validation", "good"), stem: stem(i)))
      }
      var perDefect: [SyntheticDefect: Int] = [:]
      for i in 0..<config.test {
        let defect = SyntheticDefect.allCases[i % SyntheticDefect.allCases.count]
        let number = perDefect[defect, default: 0]
        perDefect[defect] = number + 1
        jobs.append(Job(classIndex: k, split: .test, defect: defect, index: i,
                        folder: FileSystem.join(base, "test", defect.rawValue), stem: stem(number)))
      }
    }
    return jobs
  }

  private static func writeSample(_ job: Job, classes: [SyntheticClass], renderer: SyntheticRenderer, seed: UInt64) throws {
    let splitCode: UInt64 = job.split == .train ? 0 : job.split == .validation ? 1 : 2
    let stream = UInt64(job.classIndex) << 40 | splitCode << 32 | UInt64(job.index)
    var rng = RNG(seed: seed, stream: stream)
    var defectRNG = RNG(seed: seed, stream: stream | 1 << 63)
    let sample = renderer.render(classes[job.classIndex], defect: job.defect, rng: &rng, defectRNG: &defectRNG)
    try PNG.write(sample.rgb, to: FileSystem.join(job.folder, "rgb", job.stem + ".png"))
    try TIFF.write(sample.xyz, to: FileSystem.join(job.folder, "xyz", job.stem + ".tiff"))
    if job.split == .test {
      try PNG.write(sample.mask, to: FileSystem.join(job.folder, "gt", job.stem + ".png"))
    }
  }

  private static func createDirectory(_ path: String) throws {
    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
      throw SyntheticDatasetError.cannotCreate(path: path, reason: error.localizedDescription)
    }
  }
}

public enum SyntheticDatasetError: Error, Equatable, CustomStringConvertible {
  case invalidConfig(String)
  case cannotCreate(path: String, reason: String)

  public var description: String {
    switch self {
    case .invalidConfig(let s): return "invalid synthetic dataset settings: \(s)"
    case .cannotCreate(let p, let r): return "cannot create directory '\(p)': \(r)"
    }
  }
}
