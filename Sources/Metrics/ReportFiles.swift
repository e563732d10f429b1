import Foundation

/// Writes the metric artefacts of a run directory (SPEC §8): `metrics.json`, `metrics.csv`,
/// `report.md`, `plots/i_auroc_per_class.svg` and, when curves are given, `plots/loss.svg`.
/// Heatmaps and anomaly maps are written per image (`Heatmap`, `AnomalyMapFiles`).
public enum ReportFiles {
  public static func write(runDirectory: URL, matrix: MetricsMatrix, summary: [SummaryEntry],
                           lossCurves: [(name: String, values: [Double])] = [], learningCurves: LearningCurves = LearningCurves(),
                           title: String = "IUMAD report") throws {
    let plots = runDirectory.appendingPathComponent("plots")
    try FileManager.default.createDirectory(at: plots, withIntermediateDirectories: true)
    try matrix.writeJSON(to: runDirectory.appendingPathComponent("metrics.json"))
    try matrix.writeCSV(to: runDirectory.appendingPathComponent("metrics.csv"))
    var report = MarkdownReport.render(matrix: matrix, summary: summary, title: title)
    if !learningCurves.isEmpty { report += "\n" + MarkdownReport.learningCurves(learningCurves) }
    try write(report, runDirectory.appendingPathComponent("report.md"))
    try write(ReportPlots.classIAUROC(matrix), plots.appendingPathComponent("i_auroc_per_class.svg"))
    if !learningCurves.isEmpty {
      try learningCurves.jsonData().write(to: runDirectory.appendingPathComponent("learning-curves.json"))
      try write(learningCurves.svg(), plots.appendingPathComponent("learning_curves.svg"))
    }
    if !lossCurves.isEmpty {
      try write(ReportPlots.lossCurves(lossCurves), plots.appendingPathComponent("loss.svg"))
    }
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
