/// The plots of a run directory (`plots/*.svg`).
public enum ReportPlots {
  /// Per-class I-AUROC (percent) across steps: one line per class, from the step it was learned;
  /// `note` goes into the title (e.g. "mean of 4 seeds").
  public static func classIAUROC(_ matrix: MetricsMatrix, note: String? = nil) -> String {
    let series = matrix.classes.map { className in
      LineSeries(name: className, points: matrix.steps.compactMap { step in
        matrix.metrics(step: step, class: className).map { (x: Double(step + 1), y: 100 * $0.iAUROC) }
      })
    }
    return SVGLineChart.render(title: "I-AUROC per class across steps (\(matrix.evaluationProtocol.rawValue) protocol\(note.map { ", " + $0 } ?? ""))",
                               xLabel: "step", yLabel: "I-AUROC (%)", series: series, yRange: 0...100)
  }

  /// Loss curves: value i of each curve is plotted at x = i + 1 (the caller's epochs or logging
  /// intervals, named by `xLabel`).
  public static func lossCurves(_ curves: [(name: String, values: [Double])], title: String = "Training loss",
                                xLabel: String = "epoch") -> String {
    let series = curves.map { c in
      LineSeries(name: c.name, points: c.values.enumerated().map { (x: Double($0.offset + 1), y: $0.element) })
    }
    return SVGLineChart.render(title: title, xLabel: xLabel, yLabel: "loss", series: series)
  }
}
