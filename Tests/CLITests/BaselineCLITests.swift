import Foundation
import Testing
import TestSupport

/// `iumad baseline` end to end: a synthesised 64-pixel dataset, the tiny config, the real
/// binary and the files it writes. Serialized: the runs share the cores and a feature cache.
@Suite("iumad baseline end to end", .serialized)
struct BaselineCLITests {
  static let tinyConfig = packageRoot.appendingPathComponent("configs/tiny.yaml").path

  /// 3 classes at 64 px with 40 training and 20 test images each (5 defect-free): with fewer
  /// test images one good image decides a class's I-AUROC (docs/baseline.md has the spread).
  static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-baseline-\(UUID().uuidString)")
  static let synthesis = synthesize(into: directory.appendingPathComponent("data").path,
                                    ["--classes", "3", "--train", "40", "--test", "20", "--size", "64", "--seed", "0"])
  static var data: String { get throws { try synthesis.get() } }

  func baseline(_ name: String, _ extra: [String]) throws -> (run: URL, result: ProcessResult) {
    let run = Self.directory.appendingPathComponent(name)
    let r = try runIUMAD(["baseline", "--config", Self.tinyConfig, "--data", Self.data, "--out", run.path,
                          "--set", "backbone.cache=\(Self.directory.path)/cache"] + extra)
    return (run, r)
  }

  /// metrics.csv as (step, class, metric) → value text.
  func metrics(_ run: URL) throws -> [String: String] {
    let csv = try String(contentsOf: run.appendingPathComponent("metrics.csv"), encoding: .utf8)
    var out: [String: String] = [:]
    for row in csv.split(separator: "\n").dropFirst() {
      let f = row.split(separator: ",").map(String.init)
      out["\(f[0])/\(f[1])/\(f[2])"] = f[3]
    }
    return out
  }

  @Test func scheduleRunWritesWhatATrainingRunWrites() throws {
    let (run, r) = try baseline("incremental", [])  // tiny.yaml: schedule 2-1x1
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let fm = FileManager.default
    for f in ["config.yaml", "baseline.log", "baseline.json", "metrics.json", "metrics.csv", "report.md", "plots/i_auroc_per_class.svg"] {
      #expect(fm.fileExists(atPath: run.appendingPathComponent(f).path), "missing \(f)")
    }
    #expect(!fm.fileExists(atPath: run.appendingPathComponent("plots/loss.svg").path), "nothing is trained")
    #expect(r.stderr.contains("step 1/2 evaluated on 2 classes: I-AUROC") && r.stderr.contains("step 2/2 evaluated on 3 classes"), "\(r.stderr)")
    #expect(r.stdout.contains("# IUMAD run: PatchCore baseline (coreset 0.1, k=1), RGB + depth, 2-1"), "\(r.stdout)")
    let heatmaps = try fm.contentsOfDirectory(atPath: run.appendingPathComponent("heatmaps/step-1").path)
    #expect(heatmaps.filter { $0.hasSuffix(".png") }.count == 2 * 2)
    let maps = try fm.subpathsOfDirectory(atPath: run.appendingPathComponent("maps/step-2").path).filter { $0.hasSuffix(".tiff") }
    #expect(maps.count == 3 * 20)

    // The synthetic defects are easy for nearest neighbours too.
    let m = try metrics(run)
    let base = m.filter { $0.key.hasPrefix("1/") && $0.key.hasSuffix("/i_auroc") }.map { Double($0.value)! }
    #expect(base.count == 2)
    #expect(base.reduce(0, +) / Double(base.count) >= 0.9, "base-step I-AUROC per class: \(base)")
    let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("baseline.json"))) as? [String: Any]
    let steps = summary?["steps"] as? [[String: Any]] ?? []
    #expect(steps.count == 2)
    let bank = (steps.last?["modalities"] as? [[String: Any]])?.compactMap { $0["bank_tokens"] as? Int }
    // 44 training images (train + validation) of 16 tokens per class, ⌊10 %⌋ kept, 3 classes.
    #expect(bank == [3 * 70, 3 * 70], "\(String(describing: bank))")

    // `iumad evaluate` on the written maps under the same protocol gives the run's numbers.
    let ev = try runIUMAD(["evaluate", "--maps", run.appendingPathComponent("maps/step-2").path, "--data", Self.data,
                           "--protocol", "uniad", "--input-size", "64", "--pool", "16", "--json"])
    #expect(ev.status == 0, "stderr: \(ev.stderr)")
    let classes = (try JSONSerialization.jsonObject(with: Data(ev.stdout.utf8)) as? [String: Any])?["classes"] as? [String: [String: Double]] ?? [:]
    for (key, value) in m where key.hasPrefix("2/") {
      let parts = key.split(separator: "/").map(String.init)
      let theirs = classes[parts[1]]?[parts[2]] ?? -1
      #expect(abs(Double(value)! - theirs) < 1e-3, "\(key): run \(value) vs evaluate \(theirs)")
    }

    // Coresets and statistics are per class, so after the last step the bank, the maps and the
    // metrics do not depend on the schedule: 3-0 in one step gives 2-1x1's last step exactly.
    let (once, r2) = try baseline("one-step", ["--set", "train.schedule=3-0"])
    #expect(r2.status == 0, "stderr: \(r2.stderr)")
    let m2 = try metrics(once)
    #expect(m2.count == 9)
    for (key, value) in m2 { #expect(m["2" + key.dropFirst()] == value, "\(key)") }
    let someMap = try #require(maps.sorted().first)
    #expect(fm.contents(atPath: run.appendingPathComponent("maps/step-2/\(someMap)").path)
      == fm.contents(atPath: once.appendingPathComponent("maps/step-1/\(someMap)").path))
  }

  /// With validation images outside data.train_splits, they (not held-out training images)
  /// give the normalisation statistics, and the bank holds the training split alone.
  @Test func validationImagesCalibrateWhenTheBankLeavesThemOut() throws {
    let (run, r) = try baseline("validation", ["--set", "data.train_splits=train", "--set", "train.schedule=3-0"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("baseline.json"))) as? [String: Any]
    let step = try #require((summary?["steps"] as? [[String: Any]])?.first)
    #expect(step["calibration"] as? [String: String] == ["box": "validation", "disc": "validation", "ring": "validation"])
    let modalities = step["modalities"] as? [[String: Any]] ?? []
    // 40 training images of 16 tokens per class, 10 % kept; 4 validation images of 16 tokens.
    #expect(modalities.map { $0["bank_tokens"] as? Int } == [3 * 64, 3 * 64])
    #expect(modalities.map { $0["calibration_tokens"] as? Int } == [3 * 4 * 16, 3 * 4 * 16])
    #expect(r.stderr.contains("calibration from validation"), "\(r.stderr)")
  }

  @Test func badOptionsAreNamedAndHelpExplains() throws {
    let (_, r) = try baseline("bad", ["--coreset", "0", "--neighbours", "0"])
    #expect(r.status != 0 && r.stderr.contains("--coreset: 0.0 is not in (0, 1]") && r.stderr.contains("--neighbours: expected at least 1, got 0"), "\(r.stderr)")
    let (_, tooMany) = try baseline("bad-classes", ["--set", "train.schedule=4-0"])
    #expect(tooMany.status != 0 && tooMany.stderr.contains("schedule 4-0 needs 4 classes but the dataset has 3"), "\(tooMany.stderr)")
    let help = try runIUMAD(["baseline", "--help"])
    #expect(help.status == 0)
    for text in ["PatchCore", "--coreset", "--neighbours", "--config", "--set", "memory bank", "baseline.json"] {
      #expect(help.stdout.contains(text), "help lacks \(text)")
    }
  }
}
