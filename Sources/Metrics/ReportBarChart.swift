import Foundation

/// One colour of a grouped bar chart: per group a value and an optional error half-width
/// (drawn as an error bar), or nil for no bar in that group.
struct BarSeries {
  var name: String
  var values: [(value: Double, error: Double?)?]
}

/// Grouped bars (the shape of the paper's Figure 2): one group per x label, one bar per series
/// in each group, bars rising from zero (negative values hang below it), error bars of ±error.
/// Group labels may hold several lines ("\n"); the chart widens with the number of bars.
enum SVGBarChart {
  static func render(title: String, xLabel: String, yLabel: String, groups: [String], series: [BarSeries],
                     yRange: ClosedRange<Double>? = nil) -> String {
    let n = SVGChart.n
    let lines = groups.map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
    var l = ChartLayout()
    l.bottom = 40 + 14 * Double(max(1, lines.map(\.count).max() ?? 1))
    l.height = 380 + l.bottom
    l.width = max(l.width, l.left + l.right + Double(groups.count) * (Double(max(series.count, 1)) * 16 + 24))
    let bars = series.flatMap { $0.values.compactMap { $0 }.filter { $0.value.isFinite } }
    let lows = bars.map { $0.value - ($0.error ?? 0) }, highs = bars.map { $0.value + ($0.error ?? 0) }
    let yAxis = yRange.map { Axis(fixed: $0) } ?? Axis(lo: min(0, lows.min() ?? 0), hi: max(0, highs.max() ?? 1), integer: false)
    func py(_ y: Double) -> Double { l.top + l.plotH - (min(max(y, yAxis.lo), yAxis.hi) - yAxis.lo) / (yAxis.hi - yAxis.lo) * l.plotH }
    let groupWidth = l.plotW / Double(max(groups.count, 1))
    let barWidth = 0.75 * groupWidth / Double(max(series.count, 1))

    var svg = SVGChart.begin(l, title: title)
    svg += SVGChart.yGrid(l, yAxis, py)
    for (g, text) in lines.enumerated() {
      let x = l.left + (Double(g) + 0.5) * groupWidth
      svg += "<text x=\"\(n(x))\" y=\"\(n(l.top + l.plotH + 18))\" text-anchor=\"middle\">"
      svg += text.enumerated().map { "<tspan x=\"\(n(x))\" dy=\"\($0.offset == 0 ? 0 : 14)\">\(SVGChart.escape($0.element))</tspan>" }.joined()
      svg += "</text>\n"
    }
    if bars.isEmpty { svg += SVGChart.noData(l) }
    let base = py(0)
    for (s, one) in series.enumerated() {
      let colour = SVGChart.colour(s)
      for (g, entry) in one.values.enumerated() where g < groups.count {
        guard let entry, entry.value.isFinite else { continue }
        let x = l.left + Double(g) * groupWidth + 0.125 * groupWidth + Double(s) * barWidth
        let top = min(py(entry.value), base), height = abs(py(entry.value) - base)
        let tip = "\(one.name): \(String(format: "%.1f", entry.value))" + (entry.error.map { String(format: " ± %.1f", $0) } ?? "")
        svg += "<rect x=\"\(n(x))\" y=\"\(n(top))\" width=\"\(n(barWidth * 0.9))\" height=\"\(n(height))\" fill=\"\(colour)\"><title>\(SVGChart.escape(tip))</title></rect>\n"
        if let e = entry.error, e > 0 {
          let cx = x + barWidth * 0.45, lo = py(entry.value - e), hi = py(entry.value + e)
          svg += "<path d=\"M\(n(cx)) \(n(lo))V\(n(hi))M\(n(cx - 3)) \(n(lo))H\(n(cx + 3))M\(n(cx - 3)) \(n(hi))H\(n(cx + 3))\" stroke=\"black\" fill=\"none\"/>\n"
        }
      }
      svg += SVGChart.legend(l, index: s, name: one.name, colour: colour, square: true)
    }
    // The zero line over the bars, when zero is inside the axis.
    if yAxis.lo < 0 && yAxis.hi > 0 {
      svg += "<line x1=\"\(n(l.left))\" y1=\"\(n(base))\" x2=\"\(n(l.left + l.plotW))\" y2=\"\(n(base))\" stroke=\"black\"/>\n"
    }
    svg += SVGChart.frame(l, xLabel: xLabel, yLabel: yLabel)
    return svg + "</svg>\n"
  }
}
