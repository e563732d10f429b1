import ArgumentParser
import Datasets
import Foundation
import ImageIO
import Metrics

extension EvaluationProtocol: ExpressibleByArgument {}

struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Score anomaly maps written in the MVTec 3D-AD layout: I-AUROC, P-AUROC, AUPRO per class.",
    discussion: """
      Reads every test sample of the dataset at --data (MVTec 3D-AD layout), its anomaly map \
      DIR/<class>/test/<defect>/<NNN>.tiff (float32, one channel, one per test image; NNN is the \
      stem of the rgb file) and its ground-truth mask (any nonzero value = defect; a good sample \
      without a mask is all good).

      --protocol official (default): maps and masks at the original image size (a map of another \
      size is an error), image score = max of the map.

      --protocol uniad (the paper's): map resized bilinearly and mask by nearest neighbour to \
      --input-size, image score = max of the --pool × --pool average-pooled map (stride 1).

      AUPRO integrates the PRO curve to FPR 0.3. No protocol flips AUROC (no 1 − AUC). \
      Definitions: docs/metrics.md.
      """
  )

  @Option(help: "Directory of anomaly maps: <class>/test/<defect>/<NNN>.tiff.")
  var maps: String

  @Option(help: "Dataset root in the MVTec 3D-AD layout.")
  var data: String

  @Option(name: .customLong("protocol"), help: "official or uniad.")
  var evaluationProtocol: EvaluationProtocol = .official

  @Option(help: "uniad: average-pooling window of the image score (default: input size / 14).")
  var pool: Int?

  @Option(help: "uniad: side of the square resolution maps and masks are resized to.")
  var inputSize: Int = 224

  @Flag(help: "Print one JSON object (per-class and mean values) instead of a table.")
  var json = false

  func validate() throws {
    if evaluationProtocol == .official && (pool != nil) {
      throw ValidationError("--pool applies only to --protocol uniad")
    }
    do { _ = try settings() } catch { throw ValidationError("\(error)") }
  }

  func settings() throws -> ProtocolSettings {
    try ProtocolSettings(evaluationProtocol, inputSize: inputSize, pool: pool)
  }

  func run() throws {
    let scan = DatasetReader.scan(format: .mvtec3d, root: data)
    guard scan.problems.isEmpty else { throw DatasetValidationError(problems: scan.problems) }
    let test = scan.samples.filter { $0.split == .test }
    guard !test.isEmpty else { throw ValidationError("dataset '\(data)' has no test samples") }
    let settings = try settings()
    var results: [(String, ClassMetrics)] = []
    for className in Set(test.map(\.className)).sorted() {
      let samples = test.filter { $0.className == className }
      let images = try samples.map { try prepare($0, settings) }
      let scores = try ClassScores(className: className, images: images, labels: samples.map(\.label))
      results.append((className, try Evaluation.evaluate(scores)))
    }
    let mean = ClassMetrics.mean(results.map(\.1))!
    if json {
      try printJSON(results, mean: mean)
    } else {
      printTable(results, mean: mean)
    }
  }

  /// One test image's map and mask at the protocol's resolution.
  func prepare(_ sample: Sample, _ settings: ProtocolSettings) throws -> PreparedImage {
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

  func printTable(_ results: [(String, ClassMetrics)], mean: ClassMetrics) {
    print("protocol: \(evaluationProtocol.summary)")
    let width = max(5, results.map(\.0.count).max() ?? 0)
    func row(_ name: String, _ cells: [String]) -> String {
      name.padding(toLength: width, withPad: " ", startingAt: 0) + cells.map { $0.leftPadding(9) }.joined()
    }
    print(row("class", MetricName.allCases.map(\.title)))
    for (name, m) in results + [("mean", mean)] {
      print(row(name, MetricName.allCases.map { String(format: "%.4f", m[$0]) }))
    }
  }

  func printJSON(_ results: [(String, ClassMetrics)], mean: ClassMetrics) throws {
    func object(_ m: ClassMetrics) -> [String: Double] {
      Dictionary(uniqueKeysWithValues: MetricName.allCases.map { ($0.rawValue, m[$0]) })
    }
    var classes: [String: Any] = [:]
    for (name, m) in results { classes[name] = object(m) }
    var top: [String: Any] = ["protocol": evaluationProtocol.rawValue, "classes": classes, "mean": object(mean)]
    if evaluationProtocol == .uniad {
      let s = try settings()
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
