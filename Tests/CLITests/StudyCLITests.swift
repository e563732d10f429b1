import Foundation
import Testing
import TestSupport

/// `iumad study` and `iumad train --seeds` end to end: the real binary on synthetic data with
/// the tiny config, a 2×2 grid (spurious 0/1 × IBFM on/off) over 2-1x1 with 2 seeds.
@Suite("iumad study and multi-seed training end to end", .serialized)
struct StudyCLITests {
  var tinyConfig: String { packageRoot.appendingPathComponent("configs/tiny.yaml").path }

  /// Three classes at 64 px (shared by the tests of this suite).
  static let synthesis = synthesize("study-data", ["--classes", "3", "--train", "16", "--test", "8", "--size", "64", "--seed", "3"])
  static var dataset: String { get throws { try synthesis.get() } }

  /// Short schedules: this checks the machinery, not the detector's quality.
  func quick(_ dir: URL) throws -> [String] {
    try ["--data", Self.dataset, "--set", "backbone.cache=\(dir.path)/cache", "--set", "train.epochs_base=6",
     "--set", "train.epochs_incremental=2", "--set", "eval.heatmaps_per_class=0", "--set", "eval.write_maps=off"]
  }

  func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

  @Test func gridOfTwoByTwoWithTwoSeedsWritesTableAndChartsAndResumes() throws {
    let dir = try temporaryDirectory("study")
    let out = dir.appendingPathComponent("study")
    let command = ["study", "--config", tinyConfig, "--out", out.path, "--grid", "perturb.spurious=0,1", "--grid", "ibfm=on,off",
                   "--seeds", "2"] + (try quick(dir))
    let r = try runIUMAD(command)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let fm = FileManager.default
    for f in ["study.md", "study.csv", "study.json", "plots/i_auroc_per_step.svg", "plots/aupro_per_step.svg", "plots/fm.svg"] {
      #expect(fm.fileExists(atPath: out.appendingPathComponent(f).path), "missing \(f)")
    }
    let cells = ["spurious-0_ibfm-on", "spurious-0_ibfm-off", "spurious-1_ibfm-on", "spurious-1_ibfm-off"]

    // The table: one row per cell, every step's I-AUROC and AUPRO and both FMs as mean ± std.
    let md = try text(out.appendingPathComponent("study.md"))
    #expect(md.contains("| perturb.spurious | ibfm | Seeds | Step 1 I-AUROC | Step 1 AUPRO | Step 2 I-AUROC | Step 2 AUPRO | FM I-AUROC | FM AUPRO | Time |"), "\(md)")
    for (spurious, ibfm) in [("0", "on"), ("0", "off"), ("1", "on"), ("1", "off")] {
      let row = try #require(md.split(separator: "\n").first { $0.hasPrefix("| \(spurious) | \(ibfm) | 2 |") }, "row \(spurious) \(ibfm)\n\(md)")
      let values = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.dropFirst(3).dropLast()
      #expect(values.count == 6 && values.allSatisfy { $0.contains(" ± ") }, "\(row)")
    }
    #expect(r.stdout.contains("# IUMAD study: tiny"), "the table is printed")
    let csv = try text(out.appendingPathComponent("study.csv")).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    #expect(csv[0].joined(separator: ",") == "cell,perturb.spurious,ibfm,step,metric,mean,std,n")
    #expect(Set(csv.dropFirst().map { String($0[0]) }) == Set(cells))
    #expect(csv.count == 1 + 4 * (2 * 3 + 3), "per cell: 2 steps × 3 metrics and 3 FMs")
    for row in csv.dropFirst() {
      #expect(row[7] == "2" && Double(row[6]) != nil, "\(row)")
      if row[3] != "fm" { #expect((0...1).contains(Double(row[5])!), "\(row)") }
    }
    // Figure 2-shaped charts: a bar per step per cell, FM per cell.
    let bars = try text(out.appendingPathComponent("plots/i_auroc_per_step.svg"))
    #expect(bars.components(separatedBy: "<rect").count - 1 == 2 + 4 * 2 + 2, "background, frame, 8 bars, 2 legend squares")
    #expect(bars.contains("perturb.spurious=1") && bars.contains("ibfm=off") && bars.contains("step 1 (base)"))
    #expect(try text(out.appendingPathComponent("plots/fm.svg")).components(separatedBy: "<rect").count - 1 == 2 + 4 * 2 + 2)

    // Every cell: two complete seed runs of its own configuration, and the cell's mean ± std report.
    for cell in cells {
      let cellDir = out.appendingPathComponent("cells/\(cell)")
      #expect(try text(cellDir.appendingPathComponent("report.md")).contains("2 seeds (0, 1)"))
      for seed in [0, 1] {
        let run = cellDir.appendingPathComponent("seed-\(seed)")
        #expect(fm.fileExists(atPath: run.appendingPathComponent("finished.json").path), "\(cell) seed \(seed)")
        let config = try text(run.appendingPathComponent("config.yaml"))
        #expect(config.contains("\nseed: \(seed)\n") && config.contains("spurious: \(cell.contains("spurious-1") ? "1.0" : "0.0")"))
        // tiny.yaml uses the default map (each modality's residual), which ibfm=off keeps.
        #expect(config.contains("anomaly_map: modal") && config.contains("ibfm: \(cell.hasSuffix("ibfm-off") ? "off" : "on")"))
      }
    }
    // Perturbed training images are new images: no feature of the unperturbed cells fits them.
    let perturbedLog = try text(out.appendingPathComponent("cells/spurious-1_ibfm-on/seed-0/train.log"))
    #expect(perturbedLog.contains("(features: 0 cached, "), "\(perturbedLog)")
    let plainLog = try text(out.appendingPathComponent("cells/spurious-0_ibfm-off/seed-0/train.log"))
    #expect(!plainLog.contains("(features: 0 cached, "), "the second plain cell reuses the first one's features")

    // Again: every cell is finished and read back; the results are the same.
    let csvBefore = try text(out.appendingPathComponent("study.csv"))
    let again = try runIUMAD(command)
    #expect(again.status == 0, "stderr: \(again.stderr)")
    #expect(again.stderr.components(separatedBy: "finished earlier").count - 1 == 8 && !again.stderr.contains("training in"), "\(again.stderr)")
    #expect(try text(out.appendingPathComponent("study.md")) == md)

    // An interrupted seed (no finished.json yet) continues from its checkpoints.
    try fm.removeItem(at: out.appendingPathComponent("cells/spurious-1_ibfm-off/seed-1/finished.json"))
    let resumed = try runIUMAD(command)
    #expect(resumed.status == 0, "stderr: \(resumed.stderr)")
    #expect(resumed.stderr.contains("training in \(out.path)/cells/spurious-1_ibfm-off/seed-1") && resumed.stderr.contains("resuming from"), "\(resumed.stderr)")
    #expect(try text(out.appendingPathComponent("study.csv")) == csvBefore)
  }

  @Test func trainWithSeedsReportsMeanAndStdAndSkipsFinishedSeeds() throws {
    let dir = try temporaryDirectory("seeds")
    let out = dir.appendingPathComponent("run")
    let command = ["train", "--config", tinyConfig, "--out", out.path, "--seeds", "2", "--set", "seed=5"] + (try quick(dir))
    let r = try runIUMAD(command)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    for f in ["config.yaml", "report.md", "metrics-seeds.json", "metrics-seeds.csv", "plots/i_auroc_per_class.svg",
              "seed-5/metrics.json", "seed-5/report.md", "seed-6/finished.json", "seed-6/model.safetensors"] {
      #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), "missing \(f)")
    }
    #expect(r.stdout.contains("2 seeds (5, 6)") && r.stdout.contains(" ± ") && r.stdout.contains("FM: I-AUROC"), "\(r.stdout)")
    #expect(try text(out.appendingPathComponent("config.yaml")).contains("seeds: [5, 6]"))
    // A third seed later: the two finished ones are read back, only seed 7 trains.
    let more = try runIUMAD(["train", "--config", tinyConfig, "--out", out.path, "--seeds", "3", "--set", "seed=5"] + quick(dir))
    #expect(more.status == 0, "stderr: \(more.stderr)")
    #expect(more.stderr.components(separatedBy: "finished earlier").count - 1 == 2 && more.stderr.contains("seed 7 (3/3): training in"), "\(more.stderr)")
    #expect(more.stdout.contains("3 seeds (5, 6, 7)"))
    // A seed directory finished under another configuration is refused, not mixed in.
    let other = try runIUMAD(["train", "--config", tinyConfig, "--out", out.path, "--seeds", "2", "--set", "seed=5",
                              "--set", "perturb.redundant=0.1"] + quick(dir))
    #expect(other.status != 0 && other.stderr.contains("seed-5 holds a run finished with another configuration"), "\(other.stderr)")
  }

  @Test func problemsStopTheStudyBeforeAnyTraining() throws {
    let dir = try temporaryDirectory("study-bad")
    let out = dir.appendingPathComponent("study")
    let r = try runIUMAD(["study", "--config", tinyConfig, "--out", out.path, "--grid", "perturb.spurious=0,abc", "--grid", "model.hiden=4"] + quick(dir))
    #expect(r.status != 0 && r.stderr.contains("--grid perturb.spurious=abc: perturb.spurious: expected a number, got 'abc'")
            && r.stderr.contains("model.hiden: unknown key"), "\(r.stderr)")
    let seeds = try runIUMAD(["study", "--config", tinyConfig, "--out", out.path, "--grid", "seed=1,2"] + quick(dir))
    #expect(seeds.status != 0 && seeds.stderr.contains("use --seeds N"), "\(seeds.stderr)")
    let none = try runIUMAD(["study", "--config", tinyConfig, "--out", out.path] + quick(dir))
    #expect(none.status != 0 && none.stderr.contains("give at least one --grid"), "\(none.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out.path), "nothing is written")
  }
}
