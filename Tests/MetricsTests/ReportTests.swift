import Foundation
import FoundationXML
import ImageIO
import Testing

@testable import Metrics

/// report.md, the SVG plots and the heatmap PNGs.
struct ReportTests {
  @Test func markdownHoldsPerStepRowsMeanFMAndSummary() {
    let m = ForgettingTests.matrix()
    let summary = [
      SummaryEntry(modality: "RGB + depth", method: "IB-IUMAD", setting: "2-1x1", matrix: m),
      SummaryEntry(modality: "RGB + depth", method: "w/o IBFM", setting: "2-1x1", iAUROC: 0.8, aupro: 0.5, fm: nil),
      SummaryEntry(modality: "RGB + depth", method: "IB-IUMAD", setting: "10-0", iAUROC: 0.9123, aupro: 0.75, fm: nil),
    ]
    let md = MarkdownReport.render(matrix: m, summary: summary)
    #expect(md.contains("Protocol: uniad (paper)"))
    #expect(md.contains("| Class | Step 1 I-AUROC | Step 1 P-AUROC | Step 1 AUPRO | Step 2 I-AUROC |"))
    #expect(md.contains("| a | 90.0 | 95.0 | 50.0 | 80.0 | 94.0 | 60.0 | 70.0 | 93.0 | 70.0 |"), "\(md)")
    #expect(md.contains("| c | – | – | – | – | – | – | 100.0 | 97.0 | 90.0 |"))
    // Means: step 0 = a; step 1 = (a + b)/2; step 2 = (a + b + c)/3 (I-AUROC 86.7).
    #expect(md.contains("| **Mean** | 90.0 | 95.0 | 50.0 | 87.5 | 96.5 | 70.0 | 86.7 | 96.0 | 73.3 |"))
    #expect(md.contains("FM: I-AUROC 12.5 · P-AUROC 1.5 · AUPRO 5.0"))
    #expect(md.contains("| Modality | Method | 2-1x1 I-AUROC ↑ | 2-1x1 AUPRO ↑ | 2-1x1 FM ↓ | 10-0 I-AUROC ↑ | 10-0 AUPRO ↑ | 10-0 FM ↓ |"))
    #expect(md.contains("| RGB + depth | IB-IUMAD | 86.7 | 73.3 | 12.5 | 91.2 | 75.0 | – |"))
    #expect(md.contains("| RGB + depth | w/o IBFM | 80.0 | 50.0 | – | – | – | – |"))
  }

  @Test func singleStepReportSaysFMIsUndefined() {
    var m = MetricsMatrix(evaluationProtocol: .official)
    m.record(step: 0, class: "x|y", metrics: ClassMetrics(iAUROC: 1, pAUROC: 0.5, aupro: 0))
    let md = MarkdownReport.render(matrix: m, summary: [])
    #expect(md.contains("Protocol: official"))
    #expect(md.contains("| x\\|y | 100.0 | 50.0 | 0.0 |"))
    #expect(md.contains("FM: I-AUROC – · P-AUROC – · AUPRO – (undefined with a single step)"))
    #expect(!md.contains("## Summary"))
  }

  /// Parses `svg` as XML and returns the element names and the text content.
  static func parseSVG(_ svg: String) throws -> (elements: [String], text: String) {
    final class Collector: NSObject, XMLParserDelegate {
      var elements: [String] = []
      var text = ""
      func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                  attributes: [String: String] = [:]) { elements.append(name) }
      func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
    }
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = Collector()
    parser.delegate = collector
    guard parser.parse() else { throw parser.parserError ?? CocoaError(.coderReadCorrupt) }
    return (collector.elements, collector.text)
  }

  @Test func plotsAreValidSVGWithAxesAndLegend() throws {
    let classPlot = try Self.parseSVG(ReportPlots.classIAUROC(ForgettingTests.matrix()))
    #expect(classPlot.elements.first == "svg")
    #expect(classPlot.elements.filter { $0 == "polyline" }.count == 2)  // a and b span steps; c is one point
    #expect(classPlot.elements.filter { $0 == "circle" }.count == 6)
    for label in ["step", "I-AUROC (%)", "a", "b", "c", "100", "0"] { #expect(classPlot.text.contains(label), "\(label)") }

    let losses = ReportPlots.lossCurves([(name: "total <all>", values: (0..<200).map { 1 / Double($0 + 1) }),
                                         (name: "IB & KL", values: [0.5, .nan, 0.25])])
    let lossPlot = try Self.parseSVG(losses)
    #expect(lossPlot.elements.filter { $0 == "polyline" }.count == 2)
    #expect(lossPlot.text.contains("total <all>") && lossPlot.text.contains("IB & KL") && lossPlot.text.contains("epoch"))
    #expect(try Self.parseSVG(ReportPlots.lossCurves([])).text.contains("no data"))
  }

  /// The run's losses: one panel per term on a cumulative-epoch axis, step starts marked with
  /// the classes they add, log scale; a valid SVG document with nested panels.
  @Test func lossPanelsLayStepsEndToEndWithMarkedBoundaries() throws {
    let curves: [(name: String, values: [Double])] = [
      ("step0.total", [8, 4, 2]), ("step0.mse_rgb", [1, 0.5, 0.25]), ("step0.grad_norm", [100, 10, 1]),
      ("step1.total", [3, 2]), ("step1.mse_rgb", [0.4, 0.3]), ("step1.grad_norm", [5, 4]),
    ]
    let svg = ReportPlots.lossPanels(curves, stepClasses: [["a", "b"], ["c"]])
    let parsed = try Self.parseSVG(svg)
    #expect(parsed.elements.filter { $0 == "svg" }.count == 1 + 3, "the page and one nested panel per term")
    #expect(parsed.elements.filter { $0 == "polyline" }.count == 3)
    for label in ["total", "mse_rgb", "grad_norm", "step 2: +c", "epoch (all steps)", "total (log)"] {
      #expect(parsed.text.contains(label), "\(label)")
    }
    // Step 2's first epoch sits right after step 1's last: x = 4 on the shared axis (5 epochs in all).
    #expect(parsed.text.contains("5") && !parsed.text.contains("step 1:"))
    #expect(try Self.parseSVG(ReportPlots.lossPanels([], stepClasses: [])).text.contains("no data"))
  }

  @Test func niceAxisTicks() {
    let axis = Axis(lo: 0.13, hi: 0.91, integer: false)
    #expect(axis.step == 0.2 && axis.lo == 0 && abs(axis.hi - 1) < 1e-12)
    #expect(axis.ticks.map(axis.label) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    let steps = Axis(lo: 0, hi: 3, integer: true)
    #expect(steps.ticks.map(steps.label) == ["0", "1", "2", "3"])
  }

  @Test func heatmapHasThreePanelsAndAContour() throws {
    let w = 20, h = 10
    let image = Image(width: w, height: h, channels: 3, fill: 0.5)
    let map = Image(width: 10, height: 5, channels: 1, data: (0..<50).map { Float($0) })
    var maskData = [Float](repeating: 0, count: w * h)
    for y in 2..<8 { for x in 5..<15 { maskData[y * w + x] = 1 } }
    let mask = Image(width: w, height: h, channels: 1, data: maskData)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-heatmap-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("h.png").path
    try Heatmap.write(image: image, map: map, mask: mask, to: path)
    let png = try PNG.read(path)
    #expect(png.width > 3 * w && png.height == h && png.channels == 3 && png.bitDepth == 8, "three panels and the colour bar")
    func pixel(_ x: Int, _ y: Int) -> [UInt16] { Array(png.samples[(y * png.width + x) * 3..<(y * png.width + x) * 3 + 3]) }
    #expect(pixel(7, 5) == [128, 128, 128])              // panel 1: the image
    #expect(pixel(w, 0) == [0, 0, 128])                  // panel 2: jet bottom (dark blue) at the map minimum
    #expect(pixel(2 * w + 5, 2) == [0, 255, 0])          // panel 3: contour on the region's edge
    #expect(pixel(2 * w + 9, 5) == [128, 128, 128])      // ... but not inside it
    #expect(pixel(2 * w + 1, 1) == [128, 128, 128])      // ... nor outside
    #expect(pixel(3 * w + 3, 0) == [128, 0, 0] && pixel(3 * w + 3, h - 1) == [0, 0, 128], "colour bar: jet top to bottom")

    // With depth and a caption: a fourth panel (near = light) and a text line above the panels.
    let depth = Image(width: w, height: h, channels: 1, data: (0..<(w * h)).map { $0 % w < w / 2 ? 1 : 2 })
    let captioned = try Heatmap.compose(image: image, map: map, mask: mask, depth: depth, caption: "box dent 000 score 1.5")
    #expect(captioned.width > 4 * w && captioned.height > h)
    let top = captioned.height - h
    func at(_ x: Int, _ y: Int) -> UInt16 { captioned.samples[(y * captioned.width + x) * 3] }
    #expect(at(3 * w + 1, top + 5) > at(3 * w + w - 2, top + 5), "nearer depth is lighter")
    #expect((0..<top).contains { y in (0..<(2 * w)).contains { x in at(x, y) == 0 } }, "caption text drawn")
  }

  @Test func pixelFontDrawsEveryCharacterItKnowsAndQuestionMarksTheRest() {
    for ch in PixelFont.glyphs.keys { #expect(PixelFont.glyphs[ch]!.count == 5 && PixelFont.glyphs[ch]!.allSatisfy { $0.count == 3 }, "\(ch)") }
    var a = Image(width: 20, height: 7, channels: 3, fill: 1), b = a
    PixelFont.draw("ab", into: &a, x: 1, y: 1, scale: 1, colour: (0, 0, 0))
    PixelFont.draw("AB", into: &b, x: 1, y: 1, scale: 1, colour: (0, 0, 0))
    #expect(a.data == b.data, "lower case is drawn as upper case")
    var q = Image(width: 8, height: 7, channels: 3, fill: 1), unknown = q
    PixelFont.draw("?", into: &q, x: 1, y: 1, scale: 1, colour: (0, 0, 0))
    PixelFont.draw("é", into: &unknown, x: 1, y: 1, scale: 1, colour: (0, 0, 0))
    #expect(q.data == unknown.data)
    #expect(PixelFont.width("abc", scale: 2) == 22)
  }

  @Test func reportFilesAreWritten() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-report-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    try ReportFiles.write(runDirectory: dir, matrix: ForgettingTests.matrix(), summary: [],
                          lossCurves: [(name: "total", values: [3, 2, 1])])
    for file in ["metrics.json", "metrics.csv", "report.md", "plots/i_auroc_per_class.svg", "plots/loss.svg"] {
      #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file)")
    }
    let back = try MetricsMatrix(json: Data(contentsOf: dir.appendingPathComponent("metrics.json")))
    #expect(back == ForgettingTests.matrix())
  }
}
