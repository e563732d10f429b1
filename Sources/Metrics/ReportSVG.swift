import Foundation

/// One line of a chart; non-finite points are left out.
public struct LineSeries: Sendable {
  public var name: String
  public var points: [(x: Double, y: Double)]

  public init(name: String, points: [(x: Double, y: Double)]) {
    self.name = name
    self.points = points
  }
}

/// Size and margins of a chart, in pixels.
struct ChartLayout {
  var width = 760.0, height = 440.0
  var left = 72.0, right = 190.0, top = 44.0, bottom = 64.0
  var plotW: Double { width - left - right }
  var plotH: Double { height - top - bottom }
}

/// What every hand-written chart shares: the document with its title, the y grid with ticks,
/// the frame with axis labels, and legend rows on the right. Hand-written because the reports
/// must not depend on a plotting stack; the output is plain SVG 1.1 that browsers and XML
/// parsers read.
enum SVGChart {
  /// matplotlib's tab10: distinct, colour-blind friendlier than pure hues.
  static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

  static func colour(_ i: Int) -> String { palette[i % palette.count] }

  static func begin(_ l: ChartLayout, title: String) -> String {
    """
    <?xml version="1.0" encoding="UTF-8"?>
    <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(n(l.width))" height="\(n(l.height))" \
    viewBox="0 0 \(n(l.width)) \(n(l.height))" font-family="sans-serif" font-size="12">
    <rect width="100%" height="100%" fill="white"/>
    <text x="\(n(l.left + l.plotW / 2))" y="24" text-anchor="middle" font-size="15">\(escape(title))</text>

    """
  }

  /// Horizontal grid lines, ticks and labels of the y axis; `py` maps a value to a pixel row.
  static func yGrid(_ l: ChartLayout, _ axis: Axis, _ py: (Double) -> Double) -> String {
    var svg = ""
    for t in axis.ticks {
      svg += "<line x1=\"\(n(l.left))\" y1=\"\(n(py(t)))\" x2=\"\(n(l.left + l.plotW))\" y2=\"\(n(py(t)))\" stroke=\"#e5e5e5\"/>\n"
      svg += "<line x1=\"\(n(l.left - 5))\" y1=\"\(n(py(t)))\" x2=\"\(n(l.left))\" y2=\"\(n(py(t)))\" stroke=\"black\"/>\n"
      svg += "<text x=\"\(n(l.left - 8))\" y=\"\(n(py(t) + 4))\" text-anchor=\"end\">\(axis.label(t))</text>\n"
    }
    return svg
  }

  /// The plot frame and the two axis titles.
  static func frame(_ l: ChartLayout, xLabel: String, yLabel: String) -> String {
    var svg = "<rect x=\"\(n(l.left))\" y=\"\(n(l.top))\" width=\"\(n(l.plotW))\" height=\"\(n(l.plotH))\" fill=\"none\" stroke=\"black\"/>\n"
    svg += "<text x=\"\(n(l.left + l.plotW / 2))\" y=\"\(n(l.height - 18))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
    svg += "<text x=\"18\" y=\"\(n(l.top + l.plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(n(l.top + l.plotH / 2)))\">\(escape(yLabel))</text>\n"
    return svg
  }

  /// Legend row `index`: a line (or, for bars, a square) in `colour` and the series name.
  static func legend(_ l: ChartLayout, index: Int, name: String, colour: String, square: Bool = false) -> String {
    let ly = l.top + 8 + Double(index) * 18
    let mark = square
      ? "<rect x=\"\(n(l.width - l.right + 18))\" y=\"\(n(ly - 6))\" width=\"12\" height=\"12\" fill=\"\(colour)\"/>\n"
      : "<line x1=\"\(n(l.width - l.right + 14))\" y1=\"\(n(ly))\" x2=\"\(n(l.width - l.right + 36))\" y2=\"\(n(ly))\" stroke=\"\(colour)\" stroke-width=\"3\"/>\n"
    return mark + "<text x=\"\(n(l.width - l.right + 42))\" y=\"\(n(ly + 4))\">\(escape(name))</text>\n"
  }

  static func noData(_ l: ChartLayout) -> String {
    "<text x=\"\(n(l.left + l.plotW / 2))\" y=\"\(n(l.top + l.plotH / 2))\" text-anchor=\"middle\" fill=\"#7f7f7f\">no data</text>\n"
  }

  /// A coordinate with two decimals (enough at this size, keeps files small).
  static func n(_ v: Double) -> String { String(format: "%.2f", v) }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}

/// A line chart: axes with ticks and labels, one coloured polyline (with point markers) per
/// series, a legend on the right.
enum SVGLineChart {
  /// `yRange` fixes the y axis (e.g. 0…1 for AUROC); else it fits the data. `integerX` keeps x
  /// ticks on whole numbers (steps, epochs).
  /// `logY` plots log₁₀ of the values (positive ones only) with ticks labelled in the values'
  /// own units; `markers` draws a dashed vertical line with a label at each x (step boundaries).
  static func render(title: String, xLabel: String, yLabel: String, series: [LineSeries],
                     yRange: ClosedRange<Double>? = nil, integerX: Bool = true, layout: ChartLayout = ChartLayout(),
                     logY: Bool = false, markers: [(x: Double, label: String)] = [], xRange: ClosedRange<Double>? = nil) -> String {
    let l = layout, n = SVGChart.n
    let clean = series.map { s in
      LineSeries(name: s.name, points: s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) }
        .map { logY ? (x: $0.x, y: log10($0.y)) : $0 })
    }
    let xs = clean.flatMap { $0.points.map(\.x) }, ys = clean.flatMap { $0.points.map(\.y) }
    let xAxis = Axis(lo: xRange?.lowerBound ?? xs.min() ?? 0, hi: xRange?.upperBound ?? xs.max() ?? 1, integer: integerX)
    let yAxis = yRange.map { Axis(fixed: $0) } ?? Axis(lo: ys.min() ?? 0, hi: ys.max() ?? 1, integer: false, logarithmic: logY)
    func px(_ x: Double) -> Double { l.left + (x - xAxis.lo) / (xAxis.hi - xAxis.lo) * l.plotW }
    func py(_ y: Double) -> Double { l.top + l.plotH - (y - yAxis.lo) / (yAxis.hi - yAxis.lo) * l.plotH }

    var svg = SVGChart.begin(l, title: title)
    for t in xAxis.ticks {
      svg += "<line x1=\"\(n(px(t)))\" y1=\"\(n(l.top))\" x2=\"\(n(px(t)))\" y2=\"\(n(l.top + l.plotH))\" stroke=\"#e5e5e5\"/>\n"
      svg += "<line x1=\"\(n(px(t)))\" y1=\"\(n(l.top + l.plotH))\" x2=\"\(n(px(t)))\" y2=\"\(n(l.top + l.plotH + 5))\" stroke=\"black\"/>\n"
      svg += "<text x=\"\(n(px(t)))\" y=\"\(n(l.top + l.plotH + 19))\" text-anchor=\"middle\">\(xAxis.label(t))</text>\n"
    }
    svg += SVGChart.yGrid(l, yAxis, py)
    svg += SVGChart.frame(l, xLabel: xLabel, yLabel: yLabel)
    if xs.isEmpty { svg += SVGChart.noData(l) }
    for m in markers where m.x >= xAxis.lo && m.x <= xAxis.hi {
      svg += "<line x1=\"\(n(px(m.x)))\" y1=\"\(n(l.top))\" x2=\"\(n(px(m.x)))\" y2=\"\(n(l.top + l.plotH))\" stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n"
      svg += "<text x=\"\(n(px(m.x) + 3))\" y=\"\(n(l.top + 11))\" font-size=\"10\" fill=\"#555\">\(SVGChart.escape(m.label))</text>\n"
    }
    for (i, s) in clean.enumerated() {
      let colour = SVGChart.colour(i)
      let coords = s.points.map { "\(n(px($0.x))),\(n(py($0.y)))" }
      if coords.count > 1 {
        svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(coords.joined(separator: " "))\"/>\n"
      }
      if s.points.count <= 60 {  // markers only while they stay legible
        for p in s.points {
          svg += "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"3\" fill=\"\(colour)\"/>\n"
        }
      }
      if l.right > 60 { svg += SVGChart.legend(l, index: i, name: s.name, colour: colour) }
    }
    return svg + "</svg>\n"
  }
}

/// An axis range widened to "nice" tick steps (1, 2 or 5 × 10^k, about five ticks).
struct Axis {
  let lo: Double, hi: Double, step: Double
  /// Values are log₁₀ of what the labels show.
  var logarithmic = false

  init(fixed: ClosedRange<Double>) {
    let span = fixed.upperBound > fixed.lowerBound ? fixed.upperBound - fixed.lowerBound : 1
    lo = fixed.lowerBound
    hi = lo + span
    step = Axis.niceStep(span / 5, integer: false)
  }

  init(lo dataLo: Double, hi dataHi: Double, integer: Bool, logarithmic: Bool) {
    self.init(lo: dataLo, hi: dataHi, integer: integer)
    self.logarithmic = logarithmic
  }

  init(lo dataLo: Double, hi dataHi: Double, integer: Bool) {
    // A flat series still gets a visible range around its value.
    let (a, b) = dataHi > dataLo ? (dataLo, dataHi) : (dataLo - 0.5, dataHi + 0.5)
    let s = Axis.niceStep((b - a) / 5, integer: integer)
    step = s
    lo = (a / s).rounded(.down) * s
    hi = (b / s).rounded(.up) * s
  }

  static func niceStep(_ raw: Double, integer: Bool) -> Double {
    let magnitude = pow(10, (log10(raw)).rounded(.down))
    let fraction = raw / magnitude
    let nice = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
    return integer ? max(1, nice.rounded()) : nice
  }

  var ticks: [Double] {
    let count = Int(((hi - lo) / step).rounded())
    return (0...count).map { lo + Double($0) * step }
  }

  /// As many decimals as the step needs.
  func label(_ v: Double) -> String {
    if logarithmic {
      let value = pow(10, v)
      return value >= 1000 || value < 0.01 ? String(format: "%.0e", value) : String(format: value >= 10 ? "%.0f" : value >= 1 ? "%.1f" : "%.2f", value)
    }
    let decimals = max(0, Int((-log10(step)).rounded(.up)))
    return String(format: "%.\(decimals)f", abs(v) < step / 1e6 ? 0 : v)
  }
}
