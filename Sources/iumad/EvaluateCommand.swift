import ArgumentParser
import Datasets
import Foundation
import ImageIO
import Incremental
import Runs
import Metrics

extension EvaluationProtocol: ExpressibleByArgument {}

struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Score anomaly maps written in the MVTec 3D-AD layout: I-AUROC, P-AUROC, AUPRO per class.",
    discussion: """
      Reads every test sample of the dataset at --data (--format mvtec3d, eyecandies or jsonl), \
      its anomaly map DIR/<class>/test/<defect>/<NNN>.tiff (float32, one channel, one per test \
      image; NNN is the stem of the rgb file) and its ground-truth mask (any nonzero value = \
      defect; a good sample without a mask is all good). --classes limits the classes scored.

      --run RUN [--step N] re-scores a run: data, layout, protocol, input size and pool come from \
      RUN/config.yaml, the maps from RUN/maps/step-N, the classes are those learned by step N.

      --protocol official (default): maps and masks at the original image size (a map of another \
      size is an error), image score = max of the map.

      --protocol uniad (the paper's): map resized bilinearly and mask by nearest neighbour to \
      --input-size, image score = max of the --pool × --pool average-pooled map (stride 1).

      AUPRO integrates the PRO curve to FPR 0.3. No protocol flips AUROC (no 1 − AUC). \
      Definitions: docs/metrics.md.
      """
  )

  @Option(name: .customLong("run"), help: "A run directory: re-score its maps with its own configuration (data, layout, protocol, input size, pool) and the classes it had learned at --step; gives the run's numbers.")
  var runDirectory: String?

  @Option(help: "With --run: the step whose maps to score (default: the last step with maps).")
  var step: Int?

  @Option(help: "Directory of anomaly maps: <class>/test/<defect>/<NNN>.tiff.")
  var maps: String?

  @Option(help: "Dataset root.")
  var data: String?

  @Option(help: "Dataset layout: mvtec3d, eyecandies or jsonl.")
  var format: DatasetFormat = .mvtec3d

  @Option(help: "JSONL meta file (repeatable; required for --format jsonl).")
  var meta: [String] = []

  @Option(help: "Eyecandies lighting variant used as RGB (<id>_image_K.png, 0...5).")
  var imageIndex: Int = 4

  @Option(help: "Comma-separated classes to score (default: every class with test samples).")
  var classes: String?

  @Option(name: .customLong("protocol"), help: "official or uniad.")
  var evaluationProtocol: EvaluationProtocol = .official

  @Option(help: "uniad: average-pooling window of the image score (default: 16, the backbone stride, as training and UniAD).")
  var pool: Int?

  @Option(help: "uniad: side of the square resolution maps and masks are resized to.")
  var inputSize: Int = 224

  @Flag(help: "Print one JSON object (per-class and mean values) instead of a table.")
  var json = false

  func validate() throws {
    if runDirectory == nil {
      guard maps != nil, data != nil else { throw ValidationError("give --maps DIR and --data ROOT, or --run RUN") }
      if step != nil { throw ValidationError("--step applies only with --run") }
    } else if maps != nil || data != nil || !meta.isEmpty || pool != nil {
      throw ValidationError("--run reads maps, data, layout and protocol from the run; leave out --maps, --data, --meta and --pool")
    }
    if evaluationProtocol == .official && (pool != nil) {
      throw ValidationError("--pool applies only to --protocol uniad")
    }
    if format == .jsonl && meta.isEmpty && runDirectory == nil { throw ValidationError("--format jsonl needs at least one --meta FILE") }
    if !(0...5).contains(imageIndex) { throw ValidationError("--image-index must be 0...5, got \(imageIndex)") }
    do { _ = try ProtocolSettings(evaluationProtocol, inputSize: inputSize, pool: pool) } catch { throw ValidationError("\(error)") }
  }

  /// What to score: the maps folder, the test samples by class, and the protocol settings.
  struct Job {
    var maps: String
    var samples: [Sample]
    var classes: [String]
    var settings: ProtocolSettings
  }

  func run() throws {
    let job = try runDirectory.map(jobFromRun) ?? jobFromFlags()
    let results = try Evaluation.byClass(job.classes, samples: job.samples) { try prepare(job.samples[$0], maps: job.maps, job.settings) }
      .map { ($0.className, $0.metrics) }
    let mean = ClassMetrics.mean(results.map(\.1))!
    if json {
      try printJSON(results, mean: mean, settings: job.settings)
    } else {
      printTable(results, mean: mean, settings: job.settings)
    }
  }

  func jobFromFlags() throws -> Job {
    let wanted = classes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    let scan = DatasetReader.scan(format: format, root: data!, options: DatasetOptions(eyecandiesImageIndex: imageIndex, metaFiles: meta))
    guard scan.problems.isEmpty else { throw DatasetValidationError(problems: scan.problems) }
    let test = scan.samples.filter { $0.split == .test }
    guard !test.isEmpty else { throw InputError("dataset '\(data!)' has no test samples in the \(format.rawValue) layout") }
    let present = Set(test.map(\.className))
    if let missing = wanted?.first(where: { !present.contains($0) }) {
      throw InputError("--classes: '\(missing)' has no test samples under \(data!) (found: \(present.sorted().joined(separator: ", ")))")
    }
    return Job(maps: maps!, samples: test, classes: wanted ?? present.sorted(),
               settings: try ProtocolSettings(evaluationProtocol, inputSize: inputSize, pool: pool))
  }

  /// The run's resolved config decides everything; the classes are those learned by --step.
  func jobFromRun(_ run: String) throws -> Job {
    let dir = URL(fileURLWithPath: run)
    let config: RunConfig
    do { config = try RunConfig.load(path: dir.appendingPathComponent("config.yaml").path) } catch let e as ConfigError {
      throw InputError(e.description)
    }
    let steps = ((try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("maps").path)) ?? [])
      .compactMap { $0.hasPrefix("step-") ? Int($0.dropFirst(5)) : nil }.sorted()
    guard let chosen = step ?? steps.last else { throw InputError("\(dir.path)/maps: no step-N folders (eval.write_maps was off, or no step has finished)") }
    guard steps.contains(chosen) else { throw InputError("--step \(chosen): \(dir.path)/maps has \(steps.map { "step-\($0)" }.joined(separator: ", "))") }
    let scan = DataPipeline.scan(config)
    guard scan.problems.isEmpty else { throw DatasetValidationError(problems: scan.problems) }
    let all = DataPipeline.classOrder(config, scan: scan)
    let schedule = config.train.schedule
    guard schedule.totalClasses <= all.count, chosen <= schedule.stepCount else {
      throw InputError("\(dir.path): its schedule \(schedule) does not fit the data at \(config.data.root) any more")
    }
    var seen = schedule.stepClasses(all).prefix(chosen).flatMap { $0 }
    if let wanted = classes?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
      if let extra = wanted.first(where: { !seen.contains($0) }) {
        throw InputError("--classes: '\(extra)' was not learned by step \(chosen) (learned: \(seen.joined(separator: ", ")))")
      }
      seen = wanted
    }
    return Job(maps: dir.appendingPathComponent("maps/step-\(chosen)").path, samples: scan.samples.filter { $0.split == .test },
               classes: seen, settings: try StepEvaluator(config: config, runDirectory: dir).settings)
  }

  /// One test image's map and mask at the protocol's resolution.
  func prepare(_ sample: Sample, maps: String, _ settings: ProtocolSettings) throws -> PreparedImage {
    let map = try AnomalyMapFiles.read(root: maps, sample: sample)
    let mask = try sample.maskPath.map(SampleLoader.readMask) ?? allGood(sizeOf: sample.rgbPath)
    if settings.kind == .official && (map.width != mask.width || map.height != mask.height) {
      throw MetricsError.badMap(path: AnomalyMapFiles.path(root: maps, sample: sample),
                                reason: "is \(map.sizeDescription) but the image is \(mask.sizeDescription); the official protocol scores maps at the original size")
    }
    return try settings.prepare(map: map, mask: mask)
  }

  /// The mask of a good sample that has no ground-truth file: zeros at the image's size.
  func allGood(sizeOf rgbPath: String) throws -> Image {
    let rgb = try PNG.read(rgbPath)
    return Image(width: rgb.width, height: rgb.height, channels: 1)
  }

  func printTable(_ results: [(String, ClassMetrics)], mean: ClassMetrics, settings: ProtocolSettings) {
    print("protocol: \(settings.kind.summary)")
    let width = max(5, results.map(\.0.count).max() ?? 0)
    func row(_ name: String, _ cells: [String]) -> String {
      name.padding(toLength: width, withPad: " ", startingAt: 0) + cells.map { $0.leftPadding(9) }.joined()
    }
    print(row("class", MetricName.allCases.map(\.title)))
    for (name, m) in results + [("mean", mean)] {
      print(row(name, MetricName.allCases.map { String(format: "%.4f", m[$0]) }))
    }
  }

  func printJSON(_ results: [(String, ClassMetrics)], mean: ClassMetrics, settings s: ProtocolSettings) throws {
    func object(_ m: ClassMetrics) -> [String: Double] {
      Dictionary(uniqueKeysWithValues: MetricName.allCases.map { ($0.rawValue, m[$0]) })
    }
    var classes: [String: Any] = [:]
    for (name, m) in results { classes[name] = object(m) }
    var top: [String: Any] = ["protocol": s.kind.rawValue, "classes": classes, "mean": object(mean)]
    if s.kind == .uniad {
      top["input_size"] = s.inputSize
      top["pool"] = s.pool
    }
    let data = try JSONSerialization.data(withJSONObject: top, options: [.prettyPrinted, .sortedKeys])
    FileHandle.standardOutput.write(data)
    print()
  }
}

extension String {
  fileprivate func leftPadding(_ n: Int) -> String {
    count >= n ? " " + self : String(repeating: " ", count: n - count) + self
  }
}
