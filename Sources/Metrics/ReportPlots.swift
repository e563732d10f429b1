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

  /// The losses of a whole run on one page: curves named "stepK.term" (one value per epoch) laid
  /// end to end on a cumulative-epoch axis, dashed lines where a step starts, labelled with the
  /// classes it adds; the total on top, then one small panel per term, log scale throughout
  /// (losses span decades), grad_norm in its own panel.
  public static func lossPanels(_ curves: [(name: String, values: [Double])], stepClasses: [[String]]) -> String {
    var byTerm: [String: [Int: [Double]]] = [:], lengths: [Int: Int] = [:]
    for c in curves {
      guard c.name.hasPrefix("step"), let dot = c.name.firstIndex(of: "."), let k = Int(c.name[c.name.index(c.name.startIndex, offsetBy: 4)..<dot]) else { continue }
      byTerm[String(c.name[c.name.index(after: dot)...]), default: [:]][k] = c.values
      lengths[k] = max(lengths[k] ?? 0, c.values.count)
    }
    var offset: [Int: Double] = [:], total = 0.0
    for k in lengths.keys.sorted() { offset[k] = total; total += Double(lengths[k]!) }
    let markers = lengths.keys.sorted().dropFirst().map { k in
      (x: offset[k]! + 0.5, label: "step \(k + 1)" + (k < stepClasses.count ? ": +" + stepClasses[k].joined(separator: ", ") : ""))
    }
    let order = ["total"] + byTerm.keys.filter { $0 != "total" && $0 != "grad_norm" }.sorted() + ["grad_norm"]
    let terms = order.filter { byTerm[$0] != nil }
    let big = ChartLayout(width: 960, height: 300, left: 72, right: 20, top: 40, bottom: 48)
    let small = ChartLayout(width: 320, height: 232, left: 60, right: 14, top: 34, bottom: 56)
    var panels: [(svg: String, x: Double, y: Double)] = []
    var y = 0.0
    for (i, term) in terms.enumerated() {
      let points = byTerm[term]!.keys.sorted().flatMap { k in byTerm[term]![k]!.enumerated().map { (x: offset[k]! + Double($0.offset + 1), y: $0.element) } }
      let layout = i == 0 ? big : small
      let svg = SVGLineChart.render(title: term, xLabel: "epoch (all steps)", yLabel: "\(term) (log)", series: [LineSeries(name: term, points: points)],
                                    layout: layout, logY: true, markers: i == 0 ? markers : markers.map { (x: $0.x, label: "") },
                                    xRange: 0...max(total, 1))
      if i == 0 { panels.append((svg, 0, 0)); y = big.height } else {
        let column = Double((i - 1) % 3)
        panels.append((svg, column * small.width, y + Double((i - 1) / 3) * small.height))
      }
    }
    let height = terms.count <= 1 ? big.height : y + Double((terms.count - 2) / 3 + 1) * small.height
    var out = """
      <?xml version="1.0" encoding="UTF-8"?>
      <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(SVGChart.n(big.width))" height="\(SVGChart.n(height))" \
      viewBox="0 0 \(SVGChart.n(big.width)) \(SVGChart.n(height))" font-family="sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>

      """
    if terms.isEmpty { out += "<text x=\"480\" y=\"150\" text-anchor=\"middle\" fill=\"#7f7f7f\">no data</text>\n" }
    for p in panels {
      // Each panel is a chart of its own, nested at its place.
      guard let open = p.svg.range(of: "<svg ") else { continue }
      out += "<svg x=\"\(SVGChart.n(p.x))\" y=\"\(SVGChart.n(p.y))\" " + p.svg[open.upperBound...]
    }
    return out + "</svg>\n"
  }
}
