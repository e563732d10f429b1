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

/// A hand-written SVG line chart: axes with ticks and labels, one coloured polyline (with point
/// markers) per series, a legend on the right. Hand-written because the reports must not depend
/// on a plotting stack; the output is plain SVG 1.1 that browsers and XML parsers read.
enum SVGLineChart {
  static let width = 760.0, height = 440.0
  static let left = 72.0, right = 190.0, top = 44.0, bottom = 64.0
  /// matplotlib's tab10: distinct, colour-blind friendlier than pure hues.
  static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

  /// `yRange` fixes the y axis (e.g. 0…1 for AUROC); else it fits the data. `integerX` keeps x
  /// ticks on whole numbers (steps, epochs).
  static func render(title: String, xLabel: String, yLabel: String, series: [LineSeries],
                     yRange: ClosedRange<Double>? = nil, integerX: Bool = true) -> String {
    let clean = series.map { s in LineSeries(name: s.name, points: s.points.filter { $0.x.isFinite && $0.y.isFinite }) }
    let xs = clean.flatMap { $0.points.map(\.x) }, ys = clean.flatMap { $0.points.map(\.y) }
    let xAxis = Axis(lo: xs.min() ?? 0, hi: xs.max() ?? 1, integer: integerX)
    let yAxis = yRange.map { Axis(fixed: $0) } ?? Axis(lo: ys.min() ?? 0, hi: ys.max() ?? 1, integer: false)
    let plotW = width - left - right, plotH = height - top - bottom
    func px(_ x: Double) -> Double { left + (x - xAxis.lo) / (xAxis.hi - xAxis.lo) * plotW }
    func py(_ y: Double) -> Double { top + plotH - (y - yAxis.lo) / (yAxis.hi - yAxis.lo) * plotH }

    var svg = """
      <?xml version="1.0" encoding="UTF-8"?>
      <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(n(width))" height="\(n(height))" \
      viewBox="0 0 \(n(width)) \(n(height))" font-family="sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(n(left + plotW / 2))" y="24" text-anchor="middle" font-size="15">\(escape(title))</text>

      """
    // Grid and ticks.
    for t in xAxis.ticks {
      svg += "<line x1=\"\(n(px(t)))\" y1=\"\(n(top))\" x2=\"\(n(px(t)))\" y2=\"\(n(top + plotH))\" stroke=\"#e5e5e5\"/>\n"
      svg += "<line x1=\"\(n(px(t)))\" y1=\"\(n(top + plotH))\" x2=\"\(n(px(t)))\" y2=\"\(n(top + plotH + 5))\" stroke=\"black\"/>\n"
      svg += "<text x=\"\(n(px(t)))\" y=\"\(n(top + plotH + 19))\" text-anchor=\"middle\">\(xAxis.label(t))</text>\n"
    }
    for t in yAxis.ticks {
      svg += "<line x1=\"\(n(left))\" y1=\"\(n(py(t)))\" x2=\"\(n(left + plotW))\" y2=\"\(n(py(t)))\" stroke=\"#e5e5e5\"/>\n"
      svg += "<line x1=\"\(n(left - 5))\" y1=\"\(n(py(t)))\" x2=\"\(n(left))\" y2=\"\(n(py(t)))\" stroke=\"black\"/>\n"
      svg += "<text x=\"\(n(left - 8))\" y=\"\(n(py(t) + 4))\" text-anchor=\"end\">\(yAxis.label(t))</text>\n"
    }
    svg += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(plotW))\" height=\"\(n(plotH))\" fill=\"none\" stroke=\"black\"/>\n"
    svg += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(height - 18))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
    svg += "<text x=\"18\" y=\"\(n(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(n(top + plotH / 2)))\">\(escape(yLabel))</text>\n"
    if xs.isEmpty {
      svg += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(top + plotH / 2))\" text-anchor=\"middle\" fill=\"#7f7f7f\">no data</text>\n"
    }
    // Series and legend.
    for (i, s) in clean.enumerated() {
      let colour = palette[i % palette.count]
      let coords = s.points.map { "\(n(px($0.x))),\(n(py($0.y)))" }
      if coords.count > 1 {
        svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(coords.joined(separator: " "))\"/>\n"
      }
      if s.points.count <= 60 {  // markers only while they stay legible
        for p in s.points {
          svg += "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"3\" fill=\"\(colour)\"/>\n"
        }
      }
      let ly = top + 8 + Double(i) * 18
      svg += "<line x1=\"\(n(width - right + 14))\" y1=\"\(n(ly))\" x2=\"\(n(width - right + 36))\" y2=\"\(n(ly))\" stroke=\"\(colour)\" stroke-width=\"3\"/>\n"
      svg += "<text x=\"\(n(width - right + 42))\" y=\"\(n(ly + 4))\">\(escape(s.name))</text>\n"
    }
    return svg + "</svg>\n"
  }

  /// A coordinate with two decimals (enough at this size, keeps files small).
  static func n(_ v: Double) -> String { String(format: "%.2f", v) }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}

/// An axis range widened to "nice" tick steps (1, 2 or 5 × 10^k, about five ticks).
struct Axis {
  let lo: Double, hi: Double, step: Double

  init(fixed: ClosedRange<Double>) {
    let span = fixed.upperBound > fixed.lowerBound ? fixed.upperBound - fixed.lowerBound : 1
    lo = fixed.lowerBound
    hi = lo + span
    step = Axis.niceStep(span / 5, integer: false)
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
    let decimals = max(0, Int((-log10(step)).rounded(.up)))
    return String(format: "%.\(decimals)f", abs(v) < step / 1e6 ? 0 : v)
  }
}
