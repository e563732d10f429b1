import Foundation
import Testing
import TestSupport

/// `iumad evaluate --run RUN` re-scores a run from its own configuration — any layout, the
/// classes it had learned at the step — and prints exactly the run's numbers.
@Suite("iumad evaluate --run", .serialized)
struct RescoreCLITests {
  /// The MVTec-layout synth set, indexed again as an IUF/UniAD JSONL meta file.
  static func jsonlIndex(of root: String) throws -> String {
    var lines: [String] = []
    let fm = FileManager.default
    for cls in try fm.contentsOfDirectory(atPath: root).filter({ !$0.hasPrefix(".") }).sorted() {
      for split in ["train", "validation", "test"] {
        for kind in ((try? fm.contentsOfDirectory(atPath: "\(root)/\(cls)/\(split)")) ?? []).sorted() {
          for png in try fm.contentsOfDirectory(atPath: "\(root)/\(cls)/\(split)/\(kind)/rgb").sorted() {
            let stem = String(png.dropLast(4)), base = "\(cls)/\(split)/\(kind)"
            var entry: [String: Any] = ["filename": "\(base)/rgb/\(png)", "filename_xyz": "\(base)/xyz/\(stem).tiff",
                                        "label": kind == "good" ? 0 : 1, "clsname": cls]
            entry["maskname"] = split == "test" ? "\(base)/gt/\(png)" : NSNull()
            lines.append(String(decoding: try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
          }
        }
      }
    }
    let meta = root + "/all.jsonl"
    try (lines.joined(separator: "\n") + "\n").write(toFile: meta, atomically: true, encoding: .utf8)
    return meta
  }

  func metrics(_ json: String) throws -> [String: [String: Double]] {
    let top = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    return try #require(top["classes"] as? [String: [String: Double]])
  }

  /// step → class → metric → value, from RUN/metrics.csv (steps numbered from 1, as everywhere).
  func runMetrics(_ run: String) throws -> [Int: [String: [String: Double]]] {
    var out: [Int: [String: [String: Double]]] = [:]
    for row in try String(contentsOfFile: run + "/metrics.csv", encoding: .utf8).split(separator: "\n").dropFirst() {
      let f = row.split(separator: ",").map(String.init)
      out[Int(f[0])!, default: [:]][f[1], default: [:]][f[2]] = Double(f[3])!
    }
    return out
  }

  @Test func aJSONLRunIsRescoredToExactlyItsNumbersPerStepAndClass() throws {
    let root = try temporaryDirectory("rescore")
    let data = root.appendingPathComponent("data").path, run = root.appendingPathComponent("run").path
    #expect(try runIUMAD(["synth", "--out", data, "--classes", "3", "--train", "8", "--test", "6", "--size", "64", "--seed", "51"]).status == 0)
    let meta = try Self.jsonlIndex(of: data)
    let trained = try runIUMAD(["train", "--config", packageRoot.appendingPathComponent("configs/tiny.yaml").path, "--data", data, "--out", run,
                                "--set", "data.format=jsonl", "--set", "data.meta=\(meta)", "--set", "train.schedule=2-1",
                                "--set", "train.epochs_base=6", "--set", "train.epochs_incremental=2", "--set", "backbone.cache=\(root.path)/cache"])
    try #require(trained.status == 0, "\(trained.stderr)")
    let expected = try runMetrics(run)
    for step in [1, 2] {
      let r = try runIUMAD(["evaluate", "--run", run, "--step", "\(step)", "--json"])
      try #require(r.status == 0, "\(r.stderr)")
      let got = try metrics(r.stdout)
      #expect(Set(got.keys) == Set(expected[step]!.keys), "step \(step): the classes learned by then")
      for (cls, values) in expected[step]! {
        // Equal to the last bits of a Double (the sums run in another order on re-scoring).
        for (name, value) in values { #expect(abs((got[cls]?[name] ?? -1) - value) < 1e-12, "step \(step) \(cls) \(name): \(got[cls]?[name] ?? -1) vs \(value)") }
      }
    }
    // The default step is the last; --classes narrows it and must name learned classes.
    let last = try runIUMAD(["evaluate", "--run", run, "--json"])
    #expect(try metrics(last.stdout).count == 3)
    let first = try #require(expected[1]!.keys.sorted().first)
    let one = try runIUMAD(["evaluate", "--run", run, "--classes", first, "--json"])
    #expect(try metrics(one.stdout).keys.sorted() == [first])
    let unlearned = try #require(Set(expected[2]!.keys).subtracting(expected[1]!.keys).first)
    let bad = try runIUMAD(["evaluate", "--run", run, "--step", "1", "--classes", unlearned])
    #expect(bad.status == 1 && bad.stderr.contains("'\(unlearned)' was not learned by step 1"), "\(bad.stderr)")
    // Flags for the same data without --run: any layout, --classes.
    let flags = try runIUMAD(["evaluate", "--maps", run + "/maps/step-2", "--data", data, "--format", "jsonl", "--meta", meta,
                              "--protocol", "uniad", "--input-size", "64", "--classes", first, "--json"])
    #expect(flags.status == 0, "\(flags.stderr)")
    let flagged = try metrics(flags.stdout)
    #expect(abs((flagged[first]?["aupro"] ?? -1) - expected[2]![first]!["aupro"]!) < 1e-12)
  }

  /// The tiny preset, schedule 1-1, on two synthetic classes of 7 training images each (fewer
  /// than the batch of 8); returns the temporary root (the run is ROOT/run) and the result.
  func trainTwoSmallClasses(_ name: String, _ settings: [String]) throws -> (URL, ProcessResult) {
    let root = try temporaryDirectory(name)
    let data = root.appendingPathComponent("data").path
    #expect(try runIUMAD(["synth", "--out", data, "--classes", "2", "--train", "6", "--test", "4", "--size", "64", "--seed", "52"]).status == 0)
    let r = try runIUMAD(["train", "--config", packageRoot.appendingPathComponent("configs/tiny.yaml").path, "--data", data,
                          "--out", root.appendingPathComponent("run").path, "--set", "train.schedule=1-1",
                          "--set", "backbone.cache=\(root.path)/cache"] + settings)
    return (root, r)
  }

  @Test func progressSaysWhatItIsDoingAndNeverReportsZeroSpeed() throws {
    let (root, r) = try trainTwoSmallClasses("progress", ["--set", "train.epochs_base=2", "--set", "train.epochs_incremental=2"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!r.stderr.contains(" 0.0 samples/s"), "\(r.stderr)")
    #expect(r.stderr.contains("step 1/2: features of") && r.stderr.contains("step 1/2: evaluating 1 classes on"), "\(r.stderr)")
    // Each class has 7 training images, fewer than the batch of 8: the log says what happens.
    #expect(r.stderr.contains("step 2/2: 7 samples < train.batch_size 8: this step's global batch is 7, one iteration per epoch"), "\(r.stderr)")
    #expect(r.stderr.contains("step 2/2: global batch 7, 1 iterations per epoch, 2 in all; constrained-SGD lr 0.001"), "\(r.stderr)")
    let report = try String(contentsOfFile: root.appendingPathComponent("run/report.md").path, encoding: .utf8)
    #expect(report.contains("## Training") && report.contains("): 2 epochs on 7 images; global batch 7, 1 iterations per epoch, 2 in all"), "\(report)")
    // Before a step has ended the ETA is a lower bound; after, it includes the measured step ends.
    let lines = r.stderr.split(separator: "\n")
    #expect(lines.contains { $0.contains("step 1/2 epoch") && $0.contains("ETA ≥ ") }, "\(r.stderr)")
    #expect(lines.contains { $0.contains("step 2/2 epoch") && $0.contains("ETA ") && !$0.contains("ETA ≥") }, "\(r.stderr)")
  }

  /// The documented rule for a step smaller than the global batch, with a learning-rate rule:
  /// the step trains at its sample count, and the rule scales by that count, not batch_size.
  @Test func aSmallStepScalesItsLearningRateByItsOwnBatch() throws {
    let (_, r) = try trainTwoSmallClasses("small-step", ["--set", "train.epochs_base=1", "--set", "train.epochs_incremental=1",
                                                         "--set", "train.batch_size=32", "--set", "train.lr_scaling=linear"])
    #expect(r.status == 0, "\(r.stderr)")
    // 7 images at batch_size 32 and reference_batch 8: lr × 7/8 (tiny: lr 0.003, incremental_lr 0.001).
    #expect(r.stderr.contains("step 1/2: global batch 7, 1 iterations per epoch, 1 in all; AdamW lr 0.00262 (lr × linear scale 0.875 for batch 7 / reference_batch 8)"), "\(r.stderr)")
    #expect(r.stderr.contains("step 2/2: global batch 7, 1 iterations per epoch, 1 in all; constrained-SGD lr 0.000875 (incremental_lr × linear scale 0.875"), "\(r.stderr)")
    #expect(r.stderr.contains("step 2/2 epoch 1/1 it 1/1") && r.stderr.contains("lr 8.75e-04"), "\(r.stderr)")
  }
}
