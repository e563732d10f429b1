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
    if !summary.isEmpty {
      out += "\n## Summary\n\n"
      out += "Mean over all classes after the last step; FM of I-AUROC.\n\n"
      out += SummaryTable.markdown(summary)
    }
    return out
  }

  /// Rows: classes in schedule order, then the mean; columns: I-AUROC, P-AUROC, AUPRO per step.
  static func stepTable(_ matrix: MetricsMatrix) -> String {
    var header = ["Class"]
    for step in matrix.steps {
      header += MetricName.allCases.map { "Step \(step + 1) \($0.title)" }
    }
    var rows: [[String]] = []
    for className in matrix.classes {
      rows.append([Markdown.escape(className)] + matrix.steps.flatMap { step in
        MetricName.allCases.map { Markdown.percent(matrix.metrics(step: step, class: className)?[$0]) }
      })
    }
    rows.append(["**Mean**"] + matrix.steps.flatMap { step in
      MetricName.allCases.map { Markdown.percent(matrix.mean(step: step)?[$0]) }
    })
    return Markdown.table(header: header, rows: rows)
  }

  static func forgettingLine(_ matrix: MetricsMatrix) -> String {
    let fm = matrix.forgetting()
    let parts = MetricName.allCases.map { "\($0.title) \(Markdown.percent(fm[$0] ?? nil))" }
    return "FM: " + parts.joined(separator: " · ") + (matrix.steps.count < 2 ? " (undefined with a single step)" : "")
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
