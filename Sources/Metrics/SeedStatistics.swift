import Foundation

/// Mean and sample standard deviation (n − 1 in the denominator) of one quantity over seeds;
/// the deviation is nil for a single seed, where it is undefined.
public struct Spread: Codable, Equatable, Sendable {
  public var mean: Double
  public var std: Double?
  public var n: Int

  /// nil for no values.
  public init?(_ values: [Double]) {
    guard !values.isEmpty else { return nil }
    n = values.count
    mean = values.reduce(0, +) / Double(n)
    let m = mean
    std = n > 1 ? (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(n - 1)).squareRoot() : nil
  }
}

/// The metrics of the same schedule trained with several seeds (SPEC §8 per seed; here their
/// mean ± std). Every statistic is taken over per-seed values: a step's mean over classes is
/// computed per seed first, and FM is each seed's FM (Eq. 1), never the FM of averaged scores.
public struct MetricsAcrossSeeds: Sendable {
  public let seeds: [UInt64]
  public let runs: [MetricsMatrix]

  /// Checks that the runs are comparable: same protocol, steps and classes at every step.
  public init(seeds: [UInt64], runs: [MetricsMatrix]) throws {
    guard !runs.isEmpty, seeds.count == runs.count else {
      throw MetricsError.countMismatch(what: "runs of seeds \(seeds)", expected: seeds.count, found: runs.count)
    }
    let first = runs[0]
    for (seed, run) in zip(seeds, runs).dropFirst() {
      let what = "seed \(seed) against seed \(seeds[0])"
      if run.evaluationProtocol != first.evaluationProtocol {
        throw MetricsError.invalidArgument(what: what, reason: "evaluated under protocol \(run.evaluationProtocol.rawValue), not \(first.evaluationProtocol.rawValue)")
      }
      if run.steps != first.steps || run.steps.contains(where: { run.classes(step: $0) != first.classes(step: $0) }) {
        throw MetricsError.invalidArgument(what: what, reason: "the runs evaluated different steps or classes; the seeds must share one schedule")
      }
    }
    self.seeds = seeds
    self.runs = runs
  }

  public var evaluationProtocol: EvaluationProtocol { runs[0].evaluationProtocol }
  public var classes: [String] { runs[0].classes }
  public var steps: [Int] { runs[0].steps }
  public func classes(step: Int) -> [String] { runs[0].classes(step: step) }

  /// One class's metric after `step`, over seeds.
  public func spread(step: Int, class className: String, metric: MetricName) -> Spread? {
    Spread(runs.compactMap { $0.metrics(step: step, class: className)?[metric] })
  }

  /// The mean over the classes seen at `step`, over seeds.
  public func meanSpread(step: Int, metric: MetricName) -> Spread? {
    Spread(runs.compactMap { $0.mean(step: step)?[metric] })
  }

  /// FM of `metric` over seeds; nil where FM is undefined (a single step).
  public func forgetting(_ metric: MetricName) -> Spread? {
    Spread(runs.compactMap { $0.forgetting()[metric] ?? nil })
  }

  /// The per-class means as a matrix (for the plots of a single run).
  public var meanMatrix: MetricsMatrix {
    var m = MetricsMatrix(evaluationProtocol: evaluationProtocol)
    for step in steps {
      for c in classes(step: step) {
        let v = MetricName.allCases.map { spread(step: step, class: c, metric: $0)!.mean }
        m.record(step: step, class: c, metrics: ClassMetrics(iAUROC: v[0], pAUROC: v[1], aupro: v[2]))
      }
    }
    return m
  }

  // MARK: files

  /// `metrics-seeds.json`: per step (numbered from 1, as in metrics.json), per class and mean over
  /// classes, every metric's spread; FM's spread per metric.
  public func jsonData() throws -> Data {
    struct Step: Encodable {
      var step: Int
      var classes: [String: [String: Spread]]
      var mean: [String: Spread]
    }
    struct File: Encodable {
      var `protocol`: String
      var seeds: [UInt64]
      var classes: [String]
      var steps: [Step]
      var forgetting: [String: Spread?]
    }
    func byMetric(_ f: (MetricName) -> Spread?) -> [String: Spread] {
      Dictionary(uniqueKeysWithValues: MetricName.allCases.compactMap { m in f(m).map { (m.rawValue, $0) } })
    }
    let file = File(
      protocol: evaluationProtocol.rawValue, seeds: seeds, classes: classes,
      steps: steps.map { step in
        Step(step: step + 1,
             classes: Dictionary(uniqueKeysWithValues: classes(step: step).map { c in (c, byMetric { spread(step: step, class: c, metric: $0) }) }),
             mean: byMetric { meanSpread(step: step, metric: $0) })
      },
      forgetting: Dictionary(uniqueKeysWithValues: MetricName.allCases.map { ($0.rawValue, forgetting($0)) }))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(file)
  }

  /// `metrics-seeds.csv`, long format: `step,class,metric,mean,std,n`; class `(mean)` holds the
  /// mean over classes and step `fm` the forgetting measure; an undefined std is empty.
  public func csv() -> String {
    var lines = ["step,class,metric,mean,std,n"]
    func row(_ step: String, _ c: String, _ m: MetricName, _ s: Spread?) {
      guard let s else { return }
      lines.append("\(step),\(CSV.field(c)),\(m.rawValue),\(s.mean),\(s.std.map { "\($0)" } ?? ""),\(s.n)")
    }
    for step in steps {
      for c in classes(step: step) {
        for m in MetricName.allCases { row("\(step + 1)", c, m, spread(step: step, class: c, metric: m)) }
      }
      for m in MetricName.allCases { row("\(step + 1)", "(mean)", m, meanSpread(step: step, metric: m)) }
    }
    for m in MetricName.allCases { row("fm", "(mean)", m, forgetting(m)) }
    return lines.joined(separator: "\n") + "\n"
  }
}
