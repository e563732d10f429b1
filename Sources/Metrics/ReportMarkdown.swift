import Foundation

/// `report.md` of a run: the protocol, a per-step table of every class's metrics and their mean,
/// the forgetting line, and the paper-style summary table.
public enum MarkdownReport {
  public static func render(matrix: MetricsMatrix, summary: [SummaryEntry], title: String = "IUMAD report") -> String {
    var out = "# \(Markdown.escape(title))\n\n"
    out += "Protocol: \(matrix.evaluationProtocol.summary).\n\n"
    out += "All values in percent (fractions × 100). FM is the forgetting measure of Eq. 1 (lower is better).\n\n"
    out += "## Per step\n\n"
    out += stepTable(matrix)
    out += "\n" + forgettingLine(matrix) + "\n"
    let weak = belowChance(matrix)
    if !weak.isEmpty { out += "\n" + weak }
    let kinds = defectKindTable(matrix)
    if !kinds.isEmpty {
      out += "\n## Per defect kind\n\n"
      out += "Each kind scored against the good test images of the same class, then averaged over the classes "
        + "that have it (a colour-only, a geometry-only and a combined defect can fare very differently).\n\n" + kinds
    }
    if !summary.isEmpty {
      out += "\n## Summary\n\n"
      out += "Mean over all classes after the last step; FM of I-AUROC.\n\n"
      out += SummaryTable.markdown(summary)
    }
    return out
  }

  /// Rows: classes in schedule order, then the mean; columns: I-AUROC, P-AUROC, AUPRO per step.
  static func stepTable(_ matrix: MetricsMatrix) -> String {
    stepTable(classes: matrix.classes, steps: matrix.steps) { step, className, metric in
      let m = className.map { matrix.metrics(step: step, class: $0) } ?? matrix.mean(step: step)
      return Markdown.percent(m?[metric])
    }
  }

  /// The per-step table with any cell text: `cell(step, class, metric)`, class nil for the mean row.
  static func stepTable(classes: [String], steps: [Int], cell: (Int, String?, MetricName) -> String) -> String {
    var header = ["Class"]
    for step in steps {
      header += MetricName.allCases.map { "Step \(step + 1) \($0.title)" }
    }
    var rows: [[String]] = []
    for className in classes {
      rows.append([Markdown.escape(className)] + steps.flatMap { step in MetricName.allCases.map { cell(step, className, $0) } })
    }
    rows.append(["**Mean**"] + steps.flatMap { step in MetricName.allCases.map { cell(step, nil, $0) } })
    return Markdown.table(header: header, rows: rows)
  }

  /// A warning for every class whose I-AUROC fell below 0.5 at some step: its good images then
  /// score higher than its defective ones — the model does not reconstruct that class's normal
  /// look (a class an incremental step could not learn, or surfaces that vary more than the
  /// model has learned), so good images light up as much as defects (docs/quality.md).
  static func belowChance(_ matrix: MetricsMatrix) -> String {
    var lines: [String] = []
    for step in matrix.steps {
      for c in matrix.classes(step: step) {
        if let m = matrix.metrics(step: step, class: c), m.iAUROC < 0.5 {
          lines.append("- \(Markdown.escape(c)), step \(step + 1): I-AUROC \(Markdown.percent(m.iAUROC))")
        }
      }
    }
    guard !lines.isEmpty else { return "" }
    return "**Below chance** (good images of the class score higher than its defective ones: the model does not "
      + "reconstruct the class's normal look — a class an incremental step could not learn, or surfaces that vary more "
      + "than the model has learned — so good images light up as much as defects; docs/quality.md):\n\n"
      + lines.joined(separator: "\n") + "\n"
  }

  /// Rows: defect kinds; columns: I-AUROC, P-AUROC, AUPRO of each step (mean over classes).
  static func defectKindTable(_ matrix: MetricsMatrix) -> String {
    let kinds = Set(matrix.steps.flatMap { matrix.kindMeans(step: $0).keys }).sorted()
    guard !kinds.isEmpty else { return "" }
    var header = ["Defect kind"]
    for step in matrix.steps { header += MetricName.allCases.map { "Step \(step + 1) \($0.title)" } }
    let rows = kinds.map { kind in
      [Markdown.escape(kind)] + matrix.steps.flatMap { step in
        MetricName.allCases.map { Markdown.percent(matrix.kindMeans(step: step)[kind]?[$0]) }
      }
    }
    return Markdown.table(header: header, rows: rows)
  }

  /// The learning-curve section: a link to the plot and each step's points as a table.
  public static func learningCurves(_ curves: LearningCurves) -> String {
    var out = "## Learning curves\n\n![Learning curves](plots/learning_curves.svg)\n\n"
    out += "Each step's new classes, evaluated during training (`eval.every_epochs`), in percent.\n\n"
    let rows = curves.points.map { p in
      ["\(p.step + 1)", "\(p.epoch)"] + MetricName.allCases.map { Markdown.percent(p.metrics[$0]) }
    }
    return out + Markdown.table(header: ["Step", "Epoch"] + MetricName.allCases.map(\.title), rows: rows, textColumns: 0)
  }

  static func forgettingLine(_ matrix: MetricsMatrix) -> String {
    let fm = matrix.forgetting()
    return forgettingLine(steps: matrix.steps.count) { Markdown.percent(fm[$0] ?? nil) }
  }

  /// "FM: I-AUROC … · P-AUROC … · AUPRO …" with each value's text from `value`.
  static func forgettingLine(steps: Int, _ value: (MetricName) -> String) -> String {
    let parts = MetricName.allCases.map { "\($0.title) \(value($0))" }
    return "FM: " + parts.joined(separator: " · ") + (steps < 2 ? " (undefined with a single step)" : "")
  }

  /// `report.md` of a multi-seed run: the per-step table and FM as mean ± std over seeds, and
  /// one line per seed (its final means and FM) pointing at that seed's own report.
  public static func render(seeds stats: MetricsAcrossSeeds, title: String) -> String {
    var out = "# \(Markdown.escape(title))\n\n"
    out += "Protocol: \(stats.evaluationProtocol.summary).\n\n"
    out += "\(stats.seeds.count) seeds (\(stats.seeds.map(String.init).joined(separator: ", "))): every value is the mean ± sample "
      + "standard deviation over seeds, in percent. Step means are taken per seed first; FM (Eq. 1, lower is better) is each "
      + "seed's own FM.\n\n"
    out += "## Per step\n\n"
    out += stepTable(classes: stats.classes, steps: stats.steps) { step, className, metric in
      Markdown.spread(className.map { stats.spread(step: step, class: $0, metric: metric) } ?? stats.meanSpread(step: step, metric: metric))
    }
    out += "\n" + forgettingLine(steps: stats.steps.count) { Markdown.spread(stats.forgetting($0)) } + "\n"
    out += "\n## Seeds\n\n"
    let rows = zip(stats.seeds, stats.runs).map { seed, run -> [String] in
      let final = run.steps.last.flatMap { run.mean(step: $0) }
      let fm = run.forgetting()
      return ["[\(seed)](seed-\(seed)/report.md)"] + MetricName.allCases.map { Markdown.percent(final?[$0]) }
        + [Markdown.percent(fm[.iAUROC] ?? nil)]
    }
    out += Markdown.table(header: ["Seed"] + MetricName.allCases.map { "Final \($0.title)" } + ["FM I-AUROC"], rows: rows)
    return out
  }
}

/// Markdown formatting shared by the report tables.
enum Markdown {
  /// A fraction as a percentage with one decimal, "–" for nil.
  static func percent(_ value: Double?) -> String {
    guard let v = value else { return "–" }
    let scaled = (v * 1000).rounded() / 10
    return scaled == 0 ? "0.0" : String(format: "%.1f", scaled)  // never "-0.0"
  }

  /// "mean ± std" in percent (the mean alone for one seed), "–" for nil.
  static func spread(_ value: Spread?) -> String {
    guard let value else { return "–" }
    return percent(value.mean) + (value.std.map { " ± " + percent($0) } ?? "")
  }

  /// Pipes would split a cell.
  static func escape(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }

  /// The first `textColumns` columns are left-aligned labels, the rest right-aligned numbers.
  static func table(header: [String], rows: [[String]], textColumns: Int = 1) -> String {
    var out = "| " + header.joined(separator: " | ") + " |\n"
    out += "|" + header.indices.map { $0 < textColumns ? " --- " : " ---: " }.joined(separator: "|") + "|\n"
    for row in rows { out += "| " + row.joined(separator: " | ") + " |\n" }
    return out
  }
}
