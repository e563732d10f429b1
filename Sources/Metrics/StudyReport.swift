import Foundation

/// One `key=value` of a study grid cell, as the user wrote the key.
public struct StudySetting: Codable, Equatable, Sendable {
  public var key: String
  public var value: String

  public init(key: String, value: String) {
    self.key = key
    self.value = value
  }
}

/// One cell of a study grid (a full schedule, possibly over several seeds) and where it stands.
public struct StudyCell: Sendable {
  public enum Outcome: Sendable {
    /// Every seed trained; `seconds` is the sum of the seeds' run times.
    case finished(MetricsAcrossSeeds, seconds: Double)
    case pending
    /// The combination is not a valid configuration (e.g. IBFM with one modality).
    case notApplicable(String)
  }

  /// The cell's directory name under `cells/`.
  public var name: String
  public var settings: [StudySetting]
  public var outcome: Outcome

  public init(name: String, settings: [StudySetting], outcome: Outcome) {
    self.name = name
    self.settings = settings
    self.outcome = outcome
  }

  public var label: String { settings.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") }

  public var result: MetricsAcrossSeeds? {
    if case .finished(let r, _) = outcome { return r }
    return nil
  }
}

/// The files of a study directory: `study.md` (per cell: each step's mean I-AUROC and AUPRO
/// and FM, mean ± std over seeds), `study.csv`, `study.json`, and Figure 2-shaped charts
/// `plots/i_auroc_per_step.svg`, `plots/aupro_per_step.svg` (bars per incremental step, grouped
/// by cell) and `plots/fm.svg` (FM per cell).
public enum StudyReport {
  public static func write(directory: URL, title: String, context: [String], cells: [StudyCell]) throws {
    let plots = directory.appendingPathComponent("plots")
    try FileManager.default.createDirectory(at: plots, withIntermediateDirectories: true)
    try Data(markdown(title: title, context: context, cells: cells).utf8).write(to: directory.appendingPathComponent("study.md"))
    try Data(csv(cells).utf8).write(to: directory.appendingPathComponent("study.csv"))
    try json(title: title, context: context, cells: cells).write(to: directory.appendingPathComponent("study.json"))
    try Data(stepChart(.iAUROC, cells).utf8).write(to: plots.appendingPathComponent("i_auroc_per_step.svg"))
    try Data(stepChart(.aupro, cells).utf8).write(to: plots.appendingPathComponent("aupro_per_step.svg"))
    try Data(forgettingChart(cells).utf8).write(to: plots.appendingPathComponent("fm.svg"))
  }

  /// Metrics of the table and charts (P-AUROC is in the CSV and JSON).
  static let shown: [MetricName] = [.iAUROC, .aupro]

  static func stepCount(_ cells: [StudyCell]) -> Int { cells.compactMap { $0.result?.steps.count }.max() ?? 0 }

  static func markdown(title: String, context: [String], cells: [StudyCell]) -> String {
    var out = "# \(Markdown.escape(title))\n\n"
    out += context.map { "- \($0)\n" }.joined() + "\n"
    out += "Values in percent: mean ± sample standard deviation over seeds. Step k is the mean over the classes seen after "
      + "step k (step 1 = base step), computed per seed; FM (Eq. 1, lower is better) is each seed's own FM.\n\n"
    let keys = cells.first?.settings.map(\.key) ?? []
    let steps = stepCount(cells)
    var header = keys.map(Markdown.escape) + ["Seeds"]
    for s in 0..<steps { header += shown.map { "Step \(s + 1) \($0.title)" } }
    header += shown.map { "FM \($0.title)" } + ["Time"]
    var rows: [[String]] = []
    for cell in cells {
      var row = cell.settings.map { Markdown.escape($0.value) }
      switch cell.outcome {
      case .finished(let r, let seconds):
        row.append("\(r.seeds.count)")
        for s in 0..<steps {
          row += shown.map { m in s < r.steps.count ? Markdown.spread(r.meanSpread(step: r.steps[s], metric: m)) : "–" }
        }
        row += shown.map { Markdown.spread(r.forgetting($0)) } + [String(format: "%.0f s", seconds)]
      case .pending:
        row += ["pending"] + Array(repeating: "", count: header.count - row.count - 1)
      case .notApplicable(let why):
        row += ["n/a: " + Markdown.escape(why)] + Array(repeating: "", count: header.count - row.count - 1)
      }
      rows.append(row)
    }
    out += "## Results\n\n" + Markdown.table(header: header, rows: rows, textColumns: keys.count) + "\n"
    out += "## Charts\n\n"
    out += "![I-AUROC per step](plots/i_auroc_per_step.svg)\n\n![AUPRO per step](plots/aupro_per_step.svg)\n\n![FM per cell](plots/fm.svg)\n\n"
    out += "## Cells\n\n"
    for cell in cells {
      let link = cell.result != nil ? "[\(cell.name)](cells/\(cell.name)/report.md)" : cell.name
      out += "- \(link): \(Markdown.escape(cell.label))\n"
    }
    return out
  }

  /// Long format: `cell,<grid keys…>,step,metric,mean,std,n`; step is 1-based (step 1 = base
  /// step) or `fm`; only finished cells have rows; an undefined std is empty.
  static func csv(_ cells: [StudyCell]) -> String {
    let keys = cells.first?.settings.map(\.key) ?? []
    var lines = [(["cell"] + keys + ["step", "metric", "mean", "std", "n"]).map(CSV.field).joined(separator: ",")]
    for cell in cells {
      guard let r = cell.result else { continue }
      let prefix = ([cell.name] + cell.settings.map(\.value)).map(CSV.field).joined(separator: ",")
      func row(_ step: String, _ m: MetricName, _ s: Spread?) {
        guard let s else { return }
        lines.append("\(prefix),\(step),\(m.rawValue),\(s.mean),\(s.std.map { "\($0)" } ?? ""),\(s.n)")
      }
      for step in r.steps {
        for m in MetricName.allCases { row("\(step + 1)", m, r.meanSpread(step: step, metric: m)) }
      }
      for m in MetricName.allCases { row("fm", m, r.forgetting(m)) }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  static func json(title: String, context: [String], cells: [StudyCell]) throws -> Data {
    struct Step: Encodable {
      var step: Int
      var metrics: [String: Spread]
    }
    struct Cell: Encodable {
      var name: String
      var settings: [StudySetting]
      var status: String
      var reason: String?
      var seeds: [UInt64]?
      var seconds: Double?
      var steps: [Step]?
      var forgetting: [String: Spread]?
    }
    struct File: Encodable {
      var title: String
      var context: [String]
      var cells: [Cell]
    }
    func byMetric(_ f: (MetricName) -> Spread?) -> [String: Spread] {
      Dictionary(uniqueKeysWithValues: MetricName.allCases.compactMap { m in f(m).map { (m.rawValue, $0) } })
    }
    let entries = cells.map { cell -> Cell in
      var c = Cell(name: cell.name, settings: cell.settings, status: "pending")
      switch cell.outcome {
      case .finished(let r, let seconds):
        c.status = "finished"
        c.seeds = r.seeds
        c.seconds = seconds
        c.steps = r.steps.map { step in Step(step: step + 1, metrics: byMetric { r.meanSpread(step: step, metric: $0) }) }
        c.forgetting = byMetric { r.forgetting($0) }
      case .pending: break
      case .notApplicable(let why):
        c.status = "not_applicable"
        c.reason = why
      }
      return c
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(File(title: title, context: context, cells: entries))
  }

  /// Cells that have results, each labelled with one line per setting.
  static func finished(_ cells: [StudyCell]) -> (labels: [String], results: [MetricsAcrossSeeds]) {
    let done = cells.filter { $0.result != nil }
    return (done.map { $0.settings.map { "\($0.key)=\($0.value)" }.joined(separator: "\n") }, done.map { $0.result! })
  }

  /// Bars per incremental step (one colour per step), grouped by cell, with ±std error bars.
  static func stepChart(_ metric: MetricName, _ cells: [StudyCell]) -> String {
    let (labels, results) = finished(cells)
    let series = (0..<stepCount(cells)).map { s in
      BarSeries(name: s == 0 ? "step 1 (base)" : "step \(s + 1)", values: results.map { r in
        s < r.steps.count ? r.meanSpread(step: r.steps[s], metric: metric).map { (100 * $0.mean, $0.std.map { 100 * $0 }) } : nil
      })
    }
    return SVGBarChart.render(title: "\(metric.title) after each step (mean ± std over seeds)", xLabel: "cell",
                              yLabel: "\(metric.title) (%)", groups: labels, series: series, yRange: 0...100)
  }

  /// FM of I-AUROC and of AUPRO per cell, with ±std error bars.
  static func forgettingChart(_ cells: [StudyCell]) -> String {
    let (labels, results) = finished(cells)
    let series = shown.map { metric in
      BarSeries(name: "FM \(metric.title)", values: results.map { r in
        r.forgetting(metric).map { (100 * $0.mean, $0.std.map { 100 * $0 }) }
      })
    }
    return SVGBarChart.render(title: "Forgetting FM per cell (mean ± std over seeds)", xLabel: "cell",
                              yLabel: "FM (percentage points)", groups: labels, series: series)
  }
}
