import Foundation

/// Writes the metric artefacts of a run directory (SPEC §8): `metrics.json`, `metrics.csv`,
/// `report.md` (linking the plots and heatmaps), `report.html` (the same, self-contained),
/// `plots/i_auroc_per_class.svg` and, when curves are given, `plots/loss.svg`.
/// Heatmaps and anomaly maps are written per image (`Heatmap`, `AnomalyMapFiles`).
public enum ReportFiles {
  public static func write(runDirectory: URL, matrix: MetricsMatrix, summary: [SummaryEntry],
                           lossCurves: [(name: String, values: [Double])] = [], learningCurves: LearningCurves = LearningCurves(),
                           title: String = "IUMAD report", training: [String] = []) throws {
    let plots = runDirectory.appendingPathComponent("plots")
    try FileManager.default.createDirectory(at: plots, withIntermediateDirectories: true)
    try matrix.writeJSON(to: runDirectory.appendingPathComponent("metrics.json"))
    try matrix.writeCSV(to: runDirectory.appendingPathComponent("metrics.csv"))
    try write(ReportPlots.classIAUROC(matrix), plots.appendingPathComponent("i_auroc_per_class.svg"))
    if !learningCurves.isEmpty {
      try learningCurves.jsonData().write(to: runDirectory.appendingPathComponent("learning-curves.json"))
      try write(learningCurves.svg(), plots.appendingPathComponent("learning_curves.svg"))
    }
    if !lossCurves.isEmpty {
      // The classes each step added, for the step markers.
      let added = matrix.steps.map { k in matrix.classes(step: k).filter { c in k == 0 || !matrix.classes(step: k - 1).contains(c) } }
      try write(ReportPlots.lossPanels(lossCurves, stepClasses: added), plots.appendingPathComponent("loss.svg"))
    }
    var report = MarkdownReport.render(matrix: matrix, summary: summary, title: title)
    if !training.isEmpty { report += "\n## Training\n\n" + training.map { "- \($0)\n" }.joined() }
    if !learningCurves.isEmpty { report += "\n" + MarkdownReport.learningCurves(learningCurves) }
    report += figures(runDirectory)
    try write(report, runDirectory.appendingPathComponent("report.md"))
    try write(ReportHTML.render(markdown: report, title: title, resourcesIn: runDirectory), runDirectory.appendingPathComponent("report.html"))
  }

  /// report.md's links to what the run drew (paths relative to the run directory, so they render
  /// on a code-hosting site too): the plots, then every step's heatmaps.
  static func figures(_ runDirectory: URL) -> String {
    let fm = FileManager.default
    let plots = [("I-AUROC per class and step", "plots/i_auroc_per_class.svg"), ("Training losses", "plots/loss.svg")]
      .filter { fm.fileExists(atPath: runDirectory.appendingPathComponent($0.1).path) }
    var out = plots.isEmpty ? "" : "\n## Plots\n\n" + plots.map { "![\($0.0)](\($0.1))" }.joined(separator: " ") + "\n"
    let folder = runDirectory.appendingPathComponent("heatmaps")
    let steps = ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).compactMap { $0.hasPrefix("step-") ? Int($0.dropFirst(5)) : nil }.sorted()
    guard !steps.isEmpty else { return out }
    out += "\n## Heatmaps\n\nEach: the image, its anomaly map, the overlay with the ground truth outlined; defective images first, "
      + "named class_defect_image. One colour range per step.\n"
    for k in steps {
      let files = ((try? fm.contentsOfDirectory(atPath: folder.appendingPathComponent("step-\(k)").path)) ?? []).filter { $0.hasSuffix(".png") }.sorted()
      guard !files.isEmpty else { continue }
      out += "\n### Step \(k)\n\n" + files.map { "![\(String($0.dropLast(4)))](heatmaps/step-\(k)/\($0))" }.joined(separator: " ") + "\n"
    }
    return out
  }

  /// The report of several seeds at the top of a multi-seed run directory (each seed's own run
  /// directory is `seed-K/`): `metrics-seeds.json`, `metrics-seeds.csv`, `report.md` (mean ± std)
  /// and `plots/i_auroc_per_class.svg` of the per-class means.
  public static func write(runDirectory: URL, seeds: MetricsAcrossSeeds, title: String) throws {
    let plots = runDirectory.appendingPathComponent("plots")
    try FileManager.default.createDirectory(at: plots, withIntermediateDirectories: true)
    try seeds.jsonData().write(to: runDirectory.appendingPathComponent("metrics-seeds.json"))
    try write(seeds.csv(), runDirectory.appendingPathComponent("metrics-seeds.csv"))
    try write(MarkdownReport.render(seeds: seeds, title: title), runDirectory.appendingPathComponent("report.md"))
    try write(ReportPlots.classIAUROC(seeds.meanMatrix, note: "mean of \(seeds.seeds.count) seeds"), plots.appendingPathComponent("i_auroc_per_class.svg"))
  }

  private static func write(_ text: String, _ url: URL) throws {
    try Data(text.utf8).write(to: url)
  }
}
