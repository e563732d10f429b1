import Foundation
import Testing

@testable import Metrics

/// The study report: table, CSV, JSON and the Figure 2-shaped bar charts.
struct StudyReportTests {
  @Test func studyReportHasTheTableCSVJSONAndFigure2Charts() throws {
    let one = try MetricsAcrossSeeds(seeds: [0], runs: [ForgettingTests.matrix()])
    let cells = [
      StudyCell(name: "spurious-0", settings: [StudySetting(key: "spurious", value: "0")], outcome: .finished(try SeedStatisticsTests.stats(), seconds: 12)),
      StudyCell(name: "spurious-1", settings: [StudySetting(key: "spurious", value: "1")], outcome: .finished(one, seconds: 3)),
      StudyCell(name: "spurious-2", settings: [StudySetting(key: "spurious", value: "2")], outcome: .pending),
      StudyCell(name: "spurious-3", settings: [StudySetting(key: "spurious", value: "3")], outcome: .notApplicable("model.ibfm: on needs rgb|depth")),
    ]
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-study-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    try StudyReport.write(directory: dir, title: "study", context: ["Seeds: 0, 1"], cells: cells)
    let md = try String(contentsOf: dir.appendingPathComponent("study.md"), encoding: .utf8)
    #expect(md.contains("| spurious | Seeds | Step 1 I-AUROC | Step 1 AUPRO | Step 2 I-AUROC | Step 2 AUPRO | Step 3 I-AUROC | Step 3 AUPRO | FM I-AUROC | FM AUPRO | Time |"), "\(md)")
    #expect(md.contains("| 0 | 2 | 90.0 ± 0.0 | 50.0 ± 0.0 | 82.5 ± 7.1 | 70.0 ± 0.0 | 76.7 ± 14.1 | 73.3 ± 0.0 | 20.0 ± 10.6 | 5.0 ± 0.0 | 12 s |"), "\(md)")
    #expect(md.contains("| 1 | 1 | 90.0 | 50.0 | 87.5 | 70.0 | 86.7 | 73.3 | 12.5 | 5.0 | 3 s |"), "\(md)")
    #expect(md.contains("| 2 | pending |") && md.contains("| 3 | n/a: model.ibfm: on needs rgb\\|depth |"))
    #expect(md.contains("- Seeds: 0, 1") && md.contains("[spurious-0](cells/spurious-0/report.md)") && md.contains("- spurious-2: spurious=2"))
    let csv = try String(contentsOf: dir.appendingPathComponent("study.csv"), encoding: .utf8).split(separator: "\n")
    #expect(csv[0] == "cell,spurious,step,metric,mean,std,n")
    #expect(csv.count == 1 + 2 * (3 * 3 + 3), "both finished cells: 3 steps × 3 metrics + FM × 3")
    let fmRow = try #require(csv.first { $0.hasPrefix("spurious-0,0,fm,i_auroc,") }).split(separator: ",", omittingEmptySubsequences: false)
    #expect(abs(Double(fmRow[4])! - 0.2) < 1e-12 && abs(Double(fmRow[5])! - 0.15 / 2.0.squareRoot()) < 1e-12 && fmRow[6] == "2")
    #expect(csv.contains("spurious-1,1,1,aupro,0.5,,1"), "one seed: no std")
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("study.json"))) as? [String: Any]
    let entries = json?["cells"] as? [[String: Any]] ?? []
    #expect(entries.map { $0["status"] as? String } == ["finished", "finished", "pending", "not_applicable"])

    // Figure 2: bars per step grouped by finished cell (3 + 3), FM bars per cell (2 + 2).
    let steps = try ReportTests.parseSVG(String(contentsOf: dir.appendingPathComponent("plots/i_auroc_per_step.svg"), encoding: .utf8))
    #expect(steps.elements.filter { $0 == "rect" }.count == 1 + 1 + 6 + 3, "background, frame, bars, legend squares")
    #expect(steps.elements.filter { $0 == "path" }.count == 2, "error bars where the std is positive (cell 0, steps 2 and 3)")
    for label in ["spurious=0", "spurious=1", "step 1 (base)", "step 3", "I-AUROC (%)", "step 2: 82.5 ± 7.1"] {
      #expect(steps.text.contains(label), "\(label)")
    }
    #expect(!steps.text.contains("spurious=2"), "unfinished cells have no bars")
    let fm = try ReportTests.parseSVG(String(contentsOf: dir.appendingPathComponent("plots/fm.svg"), encoding: .utf8))
    #expect(fm.elements.filter { $0 == "rect" }.count == 1 + 1 + 4 + 2)
    #expect(fm.text.contains("FM I-AUROC") && fm.text.contains("FM AUPRO") && fm.text.contains("FM I-AUROC: 20.0 ± 10.6"))
  }

  @Test func barsBelowZeroHangFromTheZeroLine() throws {
    let svg = SVGBarChart.render(title: "t", xLabel: "x", yLabel: "y", groups: ["a\nb", "c"],
                                 series: [BarSeries(name: "s", values: [(-5, 1), (10, nil)])])
    let parsed = try ReportTests.parseSVG(svg)
    #expect(parsed.text.contains("a") && parsed.text.contains("b") && parsed.elements.filter { $0 == "tspan" }.count == 3)
    // Axis from −10 to 10 (nice steps of 5): the zero line is drawn across the plot.
    #expect(svg.contains("stroke=\"black\"/>\n<rect x=\"72.00\""), "zero line before the frame")
    #expect(parsed.text.contains("-10") && parsed.text.contains("-5"))
    #expect(try ReportTests.parseSVG(SVGBarChart.render(title: "t", xLabel: "x", yLabel: "y", groups: [], series: [])).text.contains("no data"))
  }
}
