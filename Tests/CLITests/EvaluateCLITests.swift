import Datasets
import Foundation
import ImageIO
import Metrics
import Testing
import TestSupport

/// `iumad evaluate` end to end: a synthesised dataset, maps written by the test, the binary run
/// under both protocols. Serialized: each test runs child processes on the shared cores.
@Suite(.serialized) struct EvaluateCLITests {
  /// A 2-class, 32-pixel dataset and its test samples.
  static func dataset(_ root: URL) throws -> [Sample] {
    let r = try runIUMAD(["synth", "--out", root.path, "--classes", "2", "--train", "2", "--test", "8", "--size", "32", "--seed", "3"])
    try #require(r.status == 0, "synth failed: \(r.stderr)")
    let scan = DatasetReader.scan(format: .mvtec3d, root: root.path)
    try #require(scan.problems.isEmpty, "\(scan.problems)")
    return scan.samples.filter { $0.split == .test }
  }

  /// Writes one map per test sample, computed from its ground truth and label.
  static func writeMaps(_ samples: [Sample], to root: URL, _ score: (_ gt: Float, _ label: Int) -> Float) throws {
    for s in samples {
      let mask = try SampleLoader.readMask(try #require(s.maskPath))
      let map = Image(width: mask.width, height: mask.height, channels: 1, data: mask.data.map { score($0, s.label) })
      try AnomalyMapFiles.write(map, originalWidth: mask.width, originalHeight: mask.height, root: root.path, sample: s)
    }
  }

  /// Runs `iumad evaluate --json` and returns the mean and per-class objects.
  static func evaluate(_ maps: URL, _ data: URL, _ extra: [String] = []) throws -> (mean: [String: Double], classes: [String: [String: Double]], top: [String: Any]) {
    let r = try runIUMAD(["evaluate", "--maps", maps.path, "--data", data.path, "--json"] + extra)
    try #require(r.status == 0, "evaluate failed: \(r.stderr)")
    let top = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
    return (try #require(top["mean"] as? [String: Double]), try #require(top["classes"] as? [String: [String: Double]]), top)
  }

  @Test func perfectDetectorScoresOneUnderBothProtocols() throws {
    let dir = try temporaryDirectory("evaluate-perfect")
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = dir.appendingPathComponent("data"), maps = dir.appendingPathComponent("maps")
    let samples = try Self.dataset(data)
    #expect(Set(samples.map(\.className)).count == 2 && samples.contains { $0.label == 0 } && samples.contains { $0.label == 1 })
    try Self.writeMaps(samples, to: maps) { gt, _ in gt }

    let official = try Self.evaluate(maps, data)
    #expect(official.top["protocol"] as? String == "official")
    #expect(official.classes.count == 2)
    for metric in ["i_auroc", "p_auroc", "aupro"] {
      #expect(official.mean[metric] == 1, "official \(metric): \(official.mean)")
      for (name, values) in official.classes { #expect(values[metric] == 1, "official \(name) \(metric)") }
    }
    // uniad at the dataset's own size (no resampling, 2×2 pooling): still perfect.
    let uniad = try Self.evaluate(maps, data, ["--protocol", "uniad", "--input-size", "32", "--pool", "2"])
    #expect(uniad.top["protocol"] as? String == "uniad" && uniad.top["pool"] as? Int == 2)
    for metric in ["i_auroc", "p_auroc", "aupro"] { #expect(uniad.mean[metric] == 1, "uniad \(metric): \(uniad.mean)") }
    // uniad at the default 224 (bilinear upsampling blurs region edges): image scores stay perfect.
    let uniad224 = try Self.evaluate(maps, data, ["--protocol", "uniad"])
    #expect(uniad224.top["input_size"] as? Int == 224 && uniad224.top["pool"] as? Int == 16)
    #expect(uniad224.mean["i_auroc"] == 1)

    // The table names the protocol and every class.
    let table = try runIUMAD(["evaluate", "--maps", maps.path, "--data", data.path])
    #expect(table.status == 0)
    #expect(table.stdout.contains("protocol: official"))
    for name in official.classes.keys { #expect(table.stdout.contains("\n\(name) ")) }
    #expect(table.stdout.contains("mean ") && table.stdout.contains("1.0000"))
  }

  @Test func invertedDetectorScoresZeroBecauseNothingIsFlipped() throws {
    let dir = try temporaryDirectory("evaluate-inverted")
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = dir.appendingPathComponent("data"), maps = dir.appendingPathComponent("maps")
    let samples = try Self.dataset(data)
    // Defects score 0; defect-free pixels 1 on good images and 0.5 on defective ones, so every
    // good image also outscores every defective one.
    try Self.writeMaps(samples, to: maps) { gt, label in gt != 0 ? 0 : (label == 0 ? 1 : 0.5) }
    for extra in [[], ["--protocol", "uniad", "--input-size", "32"]] {
      let r = try Self.evaluate(maps, data, extra)
      for metric in ["i_auroc", "p_auroc", "aupro"] { #expect(r.mean[metric] == 0, "\(extra) \(metric): \(r.mean)") }
    }
  }

  @Test func missingOrMisSizedMapIsAnErrorNamingTheFile() throws {
    let dir = try temporaryDirectory("evaluate-missing")
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = dir.appendingPathComponent("data"), maps = dir.appendingPathComponent("maps")
    let samples = try Self.dataset(data)
    try Self.writeMaps(samples, to: maps) { gt, _ in gt }
    let victim = AnomalyMapFiles.path(root: maps.path, sample: samples[3])
    try FileManager.default.removeItem(atPath: victim)
    let missing = try runIUMAD(["evaluate", "--maps", maps.path, "--data", data.path])
    #expect(missing.status != 0)
    #expect(missing.stderr.contains(victim) && missing.stderr.contains("does not exist"), "\(missing.stderr)")

    try TIFF.write(Image(width: 16, height: 16, channels: 1), to: victim)
    let small = try runIUMAD(["evaluate", "--maps", maps.path, "--data", data.path])
    #expect(small.status != 0)
    #expect(small.stderr.contains(victim) && small.stderr.contains("16x16"), "\(small.stderr)")
    // uniad resizes every map to the input size, so the small map is accepted there.
    #expect(try runIUMAD(["evaluate", "--maps", maps.path, "--data", data.path, "--protocol", "uniad", "--input-size", "32"]).status == 0)

    let badPool = try runIUMAD(["evaluate", "--maps", maps.path, "--data", data.path, "--pool", "3"])
    #expect(badPool.status != 0 && badPool.stderr.contains("--pool applies only to --protocol uniad"))
  }
}
