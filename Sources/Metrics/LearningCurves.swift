import Foundation

/// `eval.every_epochs`: the step's own classes evaluated during training — how detection grows
/// with epochs, so a user can see whether a step was long enough (docs/quality.md).
public struct LearningCurves: Codable, Equatable, Sendable {
  public struct Point: Codable, Equatable, Sendable {
    /// 0-based step of the schedule, and epochs trained in that step when measured.
    public var step: Int
    public var epoch: Int
    /// Mean over the step's new classes.
    public var metrics: ClassMetrics
    public init(step: Int, epoch: Int, metrics: ClassMetrics) {
      self.step = step
      self.epoch = epoch
      self.metrics = metrics
    }
  }

  public private(set) var points: [Point] = []
  public init() {}

  /// Adds (or replaces, after a resume re-measured it) the point of (step, epoch).
  public mutating func record(_ p: Point) {
    points.removeAll { $0.step == p.step && $0.epoch == p.epoch }
    points.append(p)
    points.sort { ($0.step, $0.epoch) < ($1.step, $1.epoch) }
  }

  public var isEmpty: Bool { points.isEmpty }

  public func jsonData() throws -> Data {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try e.encode(self)
  }

  /// I-AUROC and AUPRO (percent) against epoch, one pair of lines per step ("Step N I-AUROC").
  public func svg() -> String {
    let steps = Set(points.map(\.step)).sorted()
    var series: [LineSeries] = []
    for s in steps {
      let ps = points.filter { $0.step == s }
      for metric in [MetricName.iAUROC, .aupro] {
        series.append(LineSeries(name: "Step \(s + 1) \(metric.title)", points: ps.map { (x: Double($0.epoch), y: 100 * $0.metrics[metric]) }))
      }
    }
    return SVGLineChart.render(title: "Learning curves: each step's new classes during training", xLabel: "epoch of the step",
                               yLabel: "percent", series: series, yRange: 0...100)
  }
}
