import Foundation

/// Every evaluation of an incremental run: step × class × {I-AUROC, P-AUROC, AUPRO}. A step holds
/// the classes seen so far; a class not yet learned at a step is absent there (nil).
///
/// Written as `metrics.json` (with per-step means and FM for convenience; they are recomputed,
/// not read back) and `metrics.csv`, and stored in checkpoints through `jsonData()` / `init(json:)`.
public struct MetricsMatrix: Codable, Equatable, Sendable {
  /// The protocol the numbers were computed under (named in every report).
  public var evaluationProtocol: EvaluationProtocol
  /// Class names in the order they were first recorded (the schedule's order).
  public private(set) var classes: [String] = []
  private var cells: [Int: [String: ClassMetrics]] = [:]
  /// step → class → defect kind → metrics against that class's good images (optional).
  private var kindCells: [Int: [String: [String: ClassMetrics]]] = [:]

  public init(evaluationProtocol: EvaluationProtocol) {
    self.evaluationProtocol = evaluationProtocol
  }

  /// Stores (or replaces) one class's metrics after `step`.
  public mutating func record(step: Int, class className: String, metrics: ClassMetrics) {
    if !classes.contains(className) { classes.append(className) }
    cells[step, default: [:]][className] = metrics
  }

  /// Stores one class's per-defect-kind metrics after `step` (`Evaluation.byDefectKind`).
  public mutating func record(step: Int, class className: String, kinds: [String: ClassMetrics]) {
    kindCells[step, default: [:]][className] = kinds
  }

  public func kinds(step: Int, class className: String) -> [String: ClassMetrics] { kindCells[step]?[className] ?? [:] }

  /// Each defect kind's metrics averaged over the classes of `step` that have it.
  public func kindMeans(step: Int) -> [String: ClassMetrics] {
    var all: [String: [ClassMetrics]] = [:]
    for c in classes(step: step) { for (k, m) in kinds(step: step, class: c) { all[k, default: []].append(m) } }
    return all.compactMapValues { ClassMetrics.mean($0) }
  }

  /// The recorded steps, ascending.
  public var steps: [Int] { cells.keys.sorted() }

  public func metrics(step: Int, class className: String) -> ClassMetrics? { cells[step]?[className] }

  /// The classes evaluated at `step`, in first-recorded order.
  public func classes(step: Int) -> [String] { classes.filter { cells[step]?[$0] != nil } }

  /// The mean over the classes evaluated at `step` (nil if none).
  public func mean(step: Int) -> ClassMetrics? {
    ClassMetrics.mean(classes(step: step).compactMap { metrics(step: step, class: $0) })
  }

  /// FM (Eq. 1, see `Forgetting`) of each metric over the recorded steps; nil where undefined.
  public func forgetting() -> [MetricName: Double?] {
    var out: [MetricName: Double?] = [:]
    for metric in MetricName.allCases {
      out[metric] = Forgetting.measure(cells.mapValues { $0.mapValues { $0[metric] } })
    }
    return out
  }

  // MARK: files

  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(self)
  }

  public init(json: Data) throws {
    self = try JSONDecoder().decode(MetricsMatrix.self, from: json)
  }

  public func writeJSON(to url: URL) throws {
    try jsonData().write(to: url)
  }

  /// Long format, one row per value: `step,class,metric,value` (classes in recorded order; steps
  /// numbered from 1 as in report.md, maps/step-N and heatmaps/step-N).
  public func csv() -> String {
    var lines = ["step,class,metric,value"]
    for step in steps {
      for className in classes(step: step) {
        let m = metrics(step: step, class: className)!
        for metric in MetricName.allCases {
          lines.append("\(step + 1),\(CSV.field(className)),\(metric.rawValue),\(m[metric])")
        }
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  public func writeCSV(to url: URL) throws {
    try Data(csv().utf8).write(to: url)
  }

  // MARK: Codable

  private enum Keys: String, CodingKey {
    case evaluationProtocol = "protocol", classes, steps, forgetting, firstStep = "first_step"
  }

  private struct StepEntry: Codable {
    var step: Int
    var classes: [String: ClassMetrics]
    /// Derived: written for readers of metrics.json, ignored when decoding.
    var mean: ClassMetrics?
    /// class → defect kind → metrics (absent in files written before it existed).
    var defectKinds: [String: [String: ClassMetrics]]?
    /// Derived: each kind's mean over classes.
    var defectKindMeans: [String: ClassMetrics]?

    enum CodingKeys: String, CodingKey {
      case step, classes, mean, defectKinds = "defect_kinds", defectKindMeans = "defect_kind_means"
    }
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: Keys.self)
    evaluationProtocol = try c.decode(EvaluationProtocol.self, forKey: .evaluationProtocol)
    classes = try c.decode([String].self, forKey: .classes)
    // Files number steps from `first_step` (1 since it exists; 0 before, and in old checkpoints).
    let first = try c.decodeIfPresent(Int.self, forKey: .firstStep) ?? 0
    for var entry in try c.decode([StepEntry].self, forKey: .steps) {
      entry.step -= first
      if let unknown = entry.classes.keys.sorted().first(where: { !classes.contains($0) }) {
        throw DecodingError.dataCorruptedError(forKey: .steps, in: c,
                                               debugDescription: "step \(entry.step) names class '\(unknown)', which is not in \"classes\"")
      }
      cells[entry.step] = entry.classes
      if let k = entry.defectKinds, !k.isEmpty { kindCells[entry.step] = k }
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: Keys.self)
    try c.encode(evaluationProtocol, forKey: .evaluationProtocol)
    try c.encode(classes, forKey: .classes)
    try c.encode(1, forKey: .firstStep)
    try c.encode(steps.map { s in
      StepEntry(step: s + 1, classes: cells[s]!, mean: mean(step: s), defectKinds: kindCells[s],
                defectKindMeans: kindCells[s] == nil ? nil : kindMeans(step: s))
    }, forKey: .steps)
    var fm = c.nestedContainer(keyedBy: MetricName.self, forKey: .forgetting)
    for (metric, value) in forgetting() {
      try fm.encode(value, forKey: metric)  // null when undefined
    }
  }
}

/// RFC 4180 quoting for the few strings (class names) that go into CSV files.
/// RFC 4180 quoting of one field (the reports' CSVs, `iumad infer`'s scores.csv).
public enum CSV {
  public static func field(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }
}
