import Backbone
import Cluster
import Datasets
import Foundation
import Incremental
import Model
import Tensor

/// A problem that stops a run before training starts (dataset, classes, weights, output).
public struct RunSetupError: Error, CustomStringConvertible {
  public let problems: [String]
  public init(_ problems: [String]) { self.problems = problems }
  public var description: String { problems.joined(separator: "\n") }
}

/// From files on disk to `PreparedSet`s: scanning and validating the dataset, resolving the
/// class order, preprocessing (SPEC §5) and backbone features through the on-disk cache.
public final class DataPipeline {
  public let config: RunConfig
  public let samples: [Sample]
  /// The schedule's class order (all classes the schedule uses).
  public let classes: [String]
  public var schedule: Schedule { config.train.schedule }
  public let skipped: [String]
  /// The run's identity: this configuration and the files the scan found (before validation,
  /// so `SeedRuns` can compute it with a scan alone).
  public let identity: RunIdentity
  let extractor: FeatureExtractor
  let cache: FeatureCache
  let preprocessor: Preprocessor
  /// Extraction statistics of the last `prepare` (for logs and tests).
  public private(set) var lastCacheHits = 0, lastComputed = 0, lastCorrupt: [String] = []

  public static var defaultWeightsDirectory: String {
    ProcessInfo.processInfo.environment["IUMAD_WEIGHTS_DIR"] ?? NSHomeDirectory() + "/.cache/iumad/weights"
  }

  public init(config: RunConfig) throws {
    self.config = config
    var problems: [String] = []
    let root = config.data.root
    var isDir: ObjCBool = false
    if root.isEmpty { problems.append("data.root: not set (use --data ROOT or data.root in the config)") }
    else if !FileManager.default.fileExists(atPath: root, isDirectory: &isDir) || !isDir.boolValue {
      problems.append("data.root: '\(root)' is not a directory")
    }
    guard problems.isEmpty else { throw RunSetupError(problems) }

    let scan = Self.scan(config)
    identity = RunIdentity(config: config, samples: scan.samples)
    let validated = try DatasetValidator.validate(scan, skipBadSamples: config.data.skipBadSamples)
    samples = validated.samples
    skipped = validated.skipped.map { String(describing: $0) }

    let available = Set(samples.map(\.className))
    classes = config.data.classes.isEmpty ? available.sorted() : config.data.classes
    for c in classes where !available.contains(c) {
      problems.append("data.classes: class '\(c)' has no samples under \(root) (found: \(available.sorted().joined(separator: ", ")))")
    }
    let schedule = config.train.schedule
    if schedule.totalClasses > classes.count {
      problems.append("train.schedule: \(ScheduleError.tooFewClasses(schedule: schedule.description, needed: schedule.totalClasses, available: classes.count))")
    }
    if config.perturb.spurious > 0 && Set(Self.training(samples, of: classes, splits: config.data.trainSplits).map(\.className)).count < 2 {
      problems.append("perturb.spurious: \(config.perturb.spurious) needs training images of at least two classes to cut patches from")
    }
    for c in classes.prefix(schedule.totalClasses) {
      let test = samples.filter { $0.className == c && $0.split == .test }
      if test.isEmpty { problems.append("data: class '\(c)' has no test samples") } else {
        // Every metric after a step compares good with defective test images of each class.
        if !test.contains(where: { $0.label == 1 }) { problems.append("data: class '\(c)' has no defective test samples (I-AUROC needs good and defective ones)") }
        if !test.contains(where: { $0.label == 0 }) { problems.append("data: class '\(c)' has no good test samples (I-AUROC needs good and defective ones)") }
      }
      if !samples.contains(where: { $0.className == c && config.data.trainSplits.contains($0.split.rawValue) }) {
        problems.append("data: class '\(c)' has no training samples in \(config.data.trainSplits)")
      }
    }

    // Weights problems are listed together with the dataset's.
    var made: FeatureExtractor?
    do { made = try Self.makeExtractor(config) } catch let e as RunSetupError { problems += e.problems }
    guard problems.isEmpty, let made else { throw RunSetupError(problems) }
    extractor = made
    let cacheDir = config.backbone.cache.isEmpty ? NSHomeDirectory() + "/.cache/iumad/features" : config.backbone.cache
    cache = try FeatureCache(directory: cacheDir)
    preprocessor = Preprocessor(inputSize: config.model.inputSize, depthMode: config.data.depthMode)
  }

  /// The frozen backbone + neck a config names, with its weights checked against the model's C_in.
  /// The schedule's class order: `data.classes`, else the dataset's classes sorted by name.
  public static func classOrder(_ config: RunConfig, scan: DatasetScan) -> [String] {
    config.data.classes.isEmpty ? scan.classes : config.data.classes
  }

  /// The dataset layout's listing of `data.root` (no file is opened).
  public static func scan(_ config: RunConfig) -> DatasetScan {
    DatasetReader.scan(
      format: config.data.format, root: config.data.root,
      options: DatasetOptions(eyecandiesImageIndex: config.data.imageIndex, metaFiles: config.data.meta,
                              knownClasses: config.data.classes.isEmpty ? nil : config.data.classes))
  }

  /// Where Scripts/fetch_weights.sh (or convert_weights.py) puts the weights of `arch`.
  public static func defaultWeights(_ arch: String) -> String {
    "\(defaultWeightsDirectory)/efficientnet-\(arch.replacingOccurrences(of: "efficientnet-", with: "")).safetensors"
  }

  /// The weights file the config reads, or the problem (with how to get the file) when it is missing.
  public static func weights(_ config: RunConfig) -> Result<String, RunSetupError> {
    let arch = config.backbone.name
    let path = config.backbone.weights.isEmpty ? defaultWeights(arch) : config.backbone.weights
    if FileManager.default.fileExists(atPath: path) { return .success(path) }
    let lite0 = (try? EfficientNetConfig.named(arch).name) == "efficientnet-lite0"
    let how = lite0 ? "run Scripts/fetch_weights.sh, which fetches and converts them"
      : "Scripts/fetch_weights.sh fetches only lite0; download a PyTorch EfficientNet-\(arch) ImageNet checkpoint (.pth, e.g. from lukemelas/EfficientNet-PyTorch or timm) and convert it: python3 Scripts/convert_weights.py FILE.pth \(path)"
    return .failure(RunSetupError(["backbone.weights: '\(path)' not found (\(how); or set backbone.weights)"]))
  }

  public static func makeExtractor(_ config: RunConfig) throws -> FeatureExtractor {
    let arch = config.backbone.name
    let weights = try Self.weights(config).get()
    let net: EfficientNet
    do { net = try EfficientNet(config: try EfficientNetConfig.named(arch), safetensorsPath: weights) } catch {
      throw RunSetupError(["backbone: \(error)"])
    }
    if net.config.neckChannels != config.model.featureChannels {
      throw RunSetupError(["model.feature_channels: \(config.model.featureChannels) does not match backbone \(arch), which gives \(net.config.neckChannels) (set model.feature_channels: \(net.config.neckChannels))"])
    }
    return try FeatureExtractor(backbone: net, inputSize: config.model.inputSize,
                                resize: config.backbone.bilinearAlignCorners ? .bilinearAlignCorners : .area)
  }

  /// The classes the schedule uses, in order (the first `schedule.totalClasses` of `classes`).
  public var scheduledClasses: [String] { Array(classes.prefix(schedule.totalClasses)) }

  /// The classes each step of the schedule adds.
  public var stepClasses: [[String]] { schedule.stepClasses(scheduledClasses) }

  /// Training samples of `stepClasses` (the configured training splits).
  public func trainingSamples(_ stepClasses: [String]) -> [Sample] {
    Self.training(samples, of: stepClasses, splits: config.data.trainSplits)
  }

  static func training(_ samples: [Sample], of classes: [String], splits: [String]) -> [Sample] {
    samples.filter { classes.contains($0.className) && splits.contains($0.split.rawValue) }
  }

  /// Test samples of `seenClasses`, in dataset order.
  public func testSamples(_ seenClasses: [String]) -> [Sample] {
    samples.filter { seenClasses.contains($0.className) && $0.split == .test }
  }

  /// Preprocesses `samples` and extracts their features (cached), in parallel over samples.
  /// With `sharedBy` (every rank preparing the same samples), each rank first fills the cache
  /// with its 1/N of the missing features; on a shared filesystem the rest are then cache hits,
  /// elsewhere each rank computes what it still misses.
  /// With `training`, `perturb.*` is applied to the training-split samples (`TrainingPerturber`);
  /// evaluation and validation never pass it.
  public func prepare(_ samples: [Sample], modalities: [Modality], sharedBy communicator: Communicator? = nil,
                      training: Bool = false) throws -> PreparedSet {
    let s = config.model.inputSize
    var prepared = try Threading.parallelMap(samples.count) { try preprocessor.prepare(samples[$0]) }
    let perturbed = training ? try perturber.perturb(&prepared) : [:]
    var set = PreparedSet(inputSize: s, tokens: config.model.tokens, channels: config.model.featureChannels)
    set.samples = samples
    set.labels = samples.map { classes.firstIndex(of: $0.className) ?? 0 }
    set.masks = prepared.map(\.mask)
    lastCacheHits = 0; lastComputed = 0; lastCorrupt = []
    for m in modalities {
      let images = prepared.map { m == .rgb ? $0.rgb : $0.depth }
      let requests = samples.enumerated().map { i, sample in
        // A perturbed image also depends on its donors' files and on the plan (its own key).
        FeatureRequest(files: files(sample, m) + (perturbed[i]?.donors.flatMap { files($0, m) } ?? []),
                       preprocessing: preprocessingKey(m) + (perturbed[i].map { ";perturbed:" + $0.key } ?? ""),
                       load: { Tensor(shape: [3, s, s], data: images[i]) })
      }
      if let communicator, communicator.size > 1 {
        _ = try cache.extract(requests, with: extractor, rank: communicator.rank, worldSize: communicator.size)
        communicator.barrier()
      }
      let result = try cache.extract(requests, with: extractor)
      lastCacheHits += result.hits
      lastComputed += result.computed
      lastCorrupt += result.corrupt
      set.images[m] = images
      set.features[m] = result.features.map(\.data)
    }
    return set
  }

  var perturber: TrainingPerturber {
    TrainingPerturber(perturbation: config.perturb, seed: config.seed, root: config.data.root,
                      pool: trainingSamples(classes),
                      load: { [preprocessor] in try preprocessor.prepare($0) })
  }

  func files(_ sample: Sample, _ m: Modality) -> [String] {
    if m == .rgb { return [sample.rgbPath] }
    if case .depthPNG(let info) = sample.depthKind { return [sample.depthPath, info] }
    return [sample.depthPath]
  }

  func preprocessingKey(_ m: Modality) -> String {
    m == .rgb ? "rgb;antialiased-bilinear;imagenet;size=\(config.model.inputSize)"
      : "depth;\(config.data.depthMode.rawValue);fill-nearest;p1-p99;imagenet;size=\(config.model.inputSize)"
  }
}
