import Foundation
import Testing
import TestSupport

/// `iumad train` end to end on a freshly synthesised dataset with the tiny config, plus the
/// checks that must stop a run before training starts. Runs the real binary, real files.
@Suite("iumad train end to end", .serialized)
struct TrainCLITests {
  static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  var tinyConfig: String { Self.repo.appendingPathComponent("configs/tiny.yaml").path }

  /// A 4-class synthetic dataset at 64 px (shared by the tests of this suite).
  static let synthesis = synthesize("train-data", ["--classes", "4", "--train", "40", "--test", "10", "--size", "64", "--seed", "11"])
  static var dataset: String { get throws { try synthesis.get() } }

  func train(_ out: URL, _ extra: [String]) throws -> ProcessResult {
    try runIUMAD(["train", "--config", tinyConfig, "--data", Self.dataset, "--out", out.path,
                  "--set", "backbone.cache=\(out.path)/cache", "--set", "train.schedule=2-1x2",
                  "--set", "train.epochs_base=40", "--set", "train.epochs_incremental=3"] + extra)
  }

  @Test func schedule2x1x2WritesEveryArtefact() throws {
    let out = try temporaryDirectory("train").appendingPathComponent("run")
    let r = try train(out, [])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let fm = FileManager.default
    for f in ["config.yaml", "train.log", "metrics.json", "metrics.csv", "report.md", "plots/i_auroc_per_class.svg", "plots/loss.svg"] {
      #expect(fm.fileExists(atPath: out.appendingPathComponent(f).path), "missing \(f)")
    }
    // Three steps: 2 classes, then 3, then 4, each evaluated on every class seen so far.
    let csv = try String(contentsOf: out.appendingPathComponent("metrics.csv"), encoding: .utf8)
    let rows = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
    #expect(Set(rows.map { $0[0] }) == ["1", "2", "3"], "steps numbered from 1, as report.md and maps/step-N")
    #expect(rows.filter { $0[0] == "1" && $0[2] == "i_auroc" }.count == 2)
    #expect(rows.filter { $0[0] == "3" && $0[2] == "i_auroc" }.count == 4)
    for row in rows { let v = Double(row[3])!; #expect(v >= 0 && v <= 1) }
    // The synthetic defects are easy: after the base step the base classes are found.
    let base = rows.filter { $0[0] == "1" && $0[2] == "i_auroc" }.map { Double($0[3])! }
    #expect(base.reduce(0, +) / Double(base.count) >= 0.9, "base-step I-AUROC per class: \(base)")
    let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("metrics.json"))) as? [String: Any]
    #expect(metrics?["forgetting"] != nil || metrics?["fm"] != nil, "metrics.json keys: \(metrics?.keys.sorted() ?? [])")
    let report = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
    #expect(report.contains("IB-IUMAD") && report.contains("2-1x2") && report.contains("FM"))
    // report.md links the plots and every step's heatmaps (relative paths that exist) …
    let links = report.components(separatedBy: "](").dropFirst().compactMap { $0.split(separator: ")").first.map(String.init) }
    #expect(links.contains("plots/loss.svg") && links.contains("plots/i_auroc_per_class.svg"), "\(links)")
    for step in 1...3 { #expect(links.contains { $0.hasPrefix("heatmaps/step-\(step)/") }, "no heatmap of step \(step) linked") }
    for link in links { #expect(fm.fileExists(atPath: out.appendingPathComponent(link).path), "report.md links a missing \(link)") }
    // … and report.html holds the same, self-contained: plots inline, heatmaps embedded, nothing fetched.
    let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
    #expect(html.contains("<table>") && html.contains("<svg") && html.contains("data:image/png;base64,"))
    #expect(!html.contains("src=\"heatmaps/") && !html.contains("src=\"plots/") && !html.contains("missing:"))
    // Heatmaps per step and one float32 TIFF map per test image of the last step.
    let heatmaps = try fm.contentsOfDirectory(atPath: out.appendingPathComponent("heatmaps/step-1").path)
    #expect(heatmaps.filter { $0.hasSuffix(".png") }.count == 4)
    let testImages = try fm.subpathsOfDirectory(atPath: Self.dataset).filter { $0.contains("/test/") && $0.contains("/rgb/") && $0.hasSuffix(".png") }
    let maps = try fm.subpathsOfDirectory(atPath: out.appendingPathComponent("maps/step-3").path).filter { $0.hasSuffix(".tiff") }
    #expect(maps.count == testImages.count && maps.count == 4 * 10)
    // The resolved config reproduces the run's settings.
    let resolved = try String(contentsOf: out.appendingPathComponent("config.yaml"), encoding: .utf8)
    #expect(resolved.contains("schedule: 2-1x2") && resolved.contains("epochs_incremental: 3"))

    // `iumad evaluate` rescoring the written maps under the same protocol gives the run's numbers.
    let ev = try runIUMAD(["evaluate", "--maps", out.appendingPathComponent("maps/step-3").path, "--data", Self.dataset,
                           "--protocol", "uniad", "--input-size", "64", "--pool", "16", "--json"])
    #expect(ev.status == 0, "stderr: \(ev.stderr)")
    let evObj = try JSONSerialization.jsonObject(with: Data(ev.stdout.utf8)) as? [String: Any]
    let classes = evObj?["classes"] as? [String: [String: Double]] ?? [:]
    for row in rows where row[0] == "3" {
      let mine = Double(row[3])!, theirs = classes[String(row[1])]?[String(row[2])] ?? -1
      #expect(abs(mine - theirs) < 1e-3, "\(row[1]) \(row[2]): run \(mine) vs evaluate \(theirs)")
    }

    // `iumad infer` with the saved model on a folder and on one file.
    let model = out.appendingPathComponent("model.safetensors").path
    #expect(fm.fileExists(atPath: model))
    let cls = try fm.contentsOfDirectory(atPath: Self.dataset).filter { !$0.hasPrefix(".") }.sorted()[0]
    let folder = "\(try Self.dataset)/\(cls)/test/color"
    let inferOut = out.appendingPathComponent("infer").path
    let inf = try runIUMAD(["infer", "--checkpoint", model, "--input", folder, "--out", inferOut])
    #expect(inf.status == 0, "stderr: \(inf.stderr)")
    let scores = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: inferOut + "/scores.json"))) as? [String: Any]
    let images = scores?["images"] as? [[String: Any]] ?? []
    let inputs = try fm.contentsOfDirectory(atPath: folder + "/rgb").filter { $0.hasSuffix(".png") }
    #expect(images.count == inputs.count && !inputs.isEmpty)
    #expect(images.allSatisfy { $0["score"] is Double && $0["anomalous"] is Bool })
    // scores.csv: one row per image with the decision.
    let scoresCSV = try String(contentsOfFile: inferOut + "/scores.csv", encoding: .utf8).split(separator: "\n")
    #expect(scoresCSV.first == "file,score,threshold,verdict" && scoresCSV.count == inputs.count + 1)
    #expect(scoresCSV.dropFirst().allSatisfy { $0.hasSuffix(",anomalous") || $0.hasSuffix(",ok") })
    #expect((scores?["threshold"] as? Double).map { $0 > 0 } == true)
    for f in inputs {
      let stem = (f as NSString).deletingPathExtension
      #expect(fm.fileExists(atPath: "\(inferOut)/\(stem).tiff") && fm.fileExists(atPath: "\(inferOut)/\(stem).png"))
    }
    let one = try runIUMAD(["infer", "--checkpoint", model, "--input", "\(folder)/rgb/\(inputs[0])", "--out", inferOut + "-one"])
    #expect(one.status != 0 && one.stderr.contains("give --depth"), "\(one.stderr)")
  }

  @Test func ablationWithoutMambaAndIBFMRuns() throws {
    let out = try temporaryDirectory("train-iuf").appendingPathComponent("run")
    let r = try train(out, ["--set", "model.mamba=off", "--set", "model.ibfm=off", "--set", "model.anomaly_map=modal",
                            "--set", "train.epochs_base=5", "--set", "train.epochs_incremental=1"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let report = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
    #expect(report.contains("| RGB + depth | IUF |"))
  }

  @Test func problemsStopTheRunBeforeTraining() throws {
    let dir = try temporaryDirectory("train-bad")
    // A broken config: every problem listed.
    let broken = dir.appendingPathComponent("broken.yaml")
    try Data("model: {preset: tiny, hidden: lots}\ntrain: {schedule: 6-1x4, bogus: 1}\n".utf8).write(to: broken)
    let r1 = try runIUMAD(["train", "--config", broken.path, "--data", Self.dataset, "--out", dir.appendingPathComponent("r1").path])
    #expect(r1.status != 0 && r1.stderr.contains("model.hidden: expected an integer") && r1.stderr.contains("train.bogus: unknown key"), "\(r1.stderr)")
    // A schedule needing more classes than the dataset has, and a class the dataset lacks.
    let r2 = try runIUMAD(["train", "--config", tinyConfig, "--data", Self.dataset, "--out", dir.appendingPathComponent("r2").path,
                           "--set", "train.schedule=6-1x4", "--set", "data.classes=disc,box,teapot,ring"])
    #expect(r2.status != 0 && r2.stderr.contains("schedule 6-1x4 needs 10 classes but the dataset has 4") && r2.stderr.contains("'teapot'"), "\(r2.stderr)")
    #expect(!(r2.stderr.contains("epoch")), "training must not start")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("r2").path), "a failed setup leaves no run folder behind")
    // An output directory that cannot be written.
    let blocker = dir.appendingPathComponent("file")
    try Data().write(to: blocker)
    let r3 = try runIUMAD(["train", "--config", tinyConfig, "--data", Self.dataset, "--out", blocker.appendingPathComponent("run").path])
    #expect(r3.status != 0 && r3.stderr.contains("cannot write to the run directory") && r3.stderr.contains("'\(blocker.path)' is a file, not a directory"),
            "\(r3.stderr)")
  }

  /// The README's two train commands, default --out: the single run in runs/<config>, the seeds
  /// in runs/<config>-seeds; neither touches the other's folder.
  @Test func singleAndMultiSeedRunsDefaultToSeparateFolders() throws {
    let dir = try temporaryDirectory("train-default-out")
    let common = try ["--config", tinyConfig, "--data", Self.dataset, "--set", "backbone.cache=\(dir.path)/cache", "--set", "train.schedule=2-0",
                  "--set", "train.epochs_base=1", "--set", "eval.heatmaps_per_class=0", "--set", "eval.write_maps=off"]
    let single = try runProcess(try iumadBinary().path, ["train"] + common, directory: dir)
    #expect(single.status == 0, "\(single.stderr)")
    let metrics = try Data(contentsOf: dir.appendingPathComponent("runs/tiny/metrics.json"))
    let seeds = try runProcess(try iumadBinary().path, ["train", "--seeds", "2"] + common, directory: dir)
    #expect(seeds.status == 0, "\(seeds.stderr)")
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs/tiny-seeds/metrics-seeds.json").path))
    #expect(try Data(contentsOf: dir.appendingPathComponent("runs/tiny/metrics.json")) == metrics)
    // Pointed at the single run's folder, a seeds run refuses instead of mixing.
    let mixed = try runProcess(try iumadBinary().path, ["train", "--seeds", "2", "--out", "runs/tiny"] + common, directory: dir)
    #expect(mixed.status == 1 && mixed.stderr.contains("holds a single run"), "\(mixed.stderr)")
  }
}
