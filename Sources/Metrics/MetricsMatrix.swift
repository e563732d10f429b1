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

  public init(evaluationProtocol: EvaluationProtocol) {
    self.evaluationProtocol = evaluationProtocol
  }

  /// Stores (or replaces) one class's metrics after `step`.
  public mutating func record(step: Int, class className: String, metrics: ClassMetrics) {
    if !classes.contains(className) { classes.append(className) }
    cells[step, default: [:]][className] = metrics
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

  /// Long format, one row per value: `step,class,metric,value` (classes in recorded order).
  public func csv() -> String {
    var lines = ["step,class,metric,value"]
    for step in steps {
      for className in classes(step: step) {
        let m = metrics(step: step, class: className)!
        for metric in MetricName.allCases {
          lines.append("\(step),\(CSV.field(className)),\(metric.rawValue),\(m[metric])")
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
    case evaluationProtocol = "protocol", classes, steps, forgetting
  }

  private struct StepEntry: Codable {
    var step: Int
    var classes: [String: ClassMetrics]
    /// Derived: written for readers of metrics.json, ignored when decoding.
    var mean: ClassMetrics?
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: Keys.self)
    evaluationProtocol = try c.decode(EvaluationProtocol.self, forKey: .evaluationProtocol)
    classes = try c.decode([String].self, forKey: .classes)
    for entry in try c.decode([StepEntry].self, forKey: .steps) {
      if let unknown = entry.classes.keys.sorted().first(where: { !classes.contains($0) }) {
        throw DecodingError.dataCorruptedError(forKey: .steps, in: c,
                                               debugDescription: "step \(entry.step) names class '\(unknown)', which is not in \"classes\"")
      }
      cells[entry.step] = entry.classes
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: Keys.self)
    try c.encode(evaluationProtocol, forKey: .evaluationProtocol)
    try c.encode(classes, forKey: .classes)
    try c.encode(steps.map { StepEntry(step: $0, classes: cells[$0]!, mean: mean(step: $0)) }, forKey: .steps)
    var fm = c.nestedContainer(keyedBy: MetricName.self, forKey: .forgetting)
    for (metric, value) in forgetting() {
      try fm.encode(value, forKey: metric)  // null when undefined
    }
  }
}

/// RFC 4180 quoting for the few strings (class names) that go into CSV files.
enum CSV {
  static func field(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }
}
