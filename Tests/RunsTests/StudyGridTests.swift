import Foundation
import Metrics
import Testing

@testable import Incremental
@testable import Runs
@testable import Model

/// The study grid built from `--grid` axes.
@Suite("Study grid")
struct StudyGridTests {
  static let base = try! RunConfig.parse(yaml: "model: {preset: tiny, anomaly_map: fused+modal}\ntrain: {schedule: 2-1x1}\n", source: "base.yaml")

  static func axes(_ texts: [String]) throws -> [GridAxis] { try texts.map { try GridAxis.parse($0).get() } }

  @Test func axesParseKeysAndShorthands() throws {
    let a = try GridAxis.parse("perturb.spurious=0, 0.5,1").get()
    #expect(a.key == "perturb.spurious" && a.values == ["0", "0.5", "1"] && a.assignments("0.5") == ["perturb.spurious=0.5"])
    let ibfm = try GridAxis.parse("ibfm=on,off").get()
    #expect(ibfm.assignments("on") == ["model.ibfm=on"])
    #expect(ibfm.assignments("off") == ["model.ibfm=off", "model.anomaly_map=modal"], "without IBFM the map is per modality")
    #expect(try GridAxis.parse("modalities=rgb,depth,rgb+depth").get().assignments("rgb+depth") == ["model.modalities=rgb+depth"])
    for (bad, needle) in [("ibfm", "expected KEY=v1,v2"), ("seeds=1,2", "use --seeds"), ("bogus=1,2", "neither SECTION.KEY nor a shorthand"),
                          ("perturb.spurious=", "no values"), ("ibfm=on,on", "listed twice")] {
      guard case .failure(let e) = GridAxis.parse(bad) else { Issue.record("\(bad) parsed"); continue }
      #expect(e.description.contains(needle) && e.description.hasPrefix("--grid \(bad)"), "\(e)")
    }
  }

  @Test func cellsAreTheProductInOrderWithInvalidCombinationsMarked() throws {
    let grid = try StudyGrid(base: Self.base, axes: try Self.axes(["modalities=rgb,rgb+depth", "ibfm=on,off", "perturb.spurious=0,1"]), source: "base.yaml")
    #expect(grid.cells.map(\.name) == [
      "modalities-rgb_ibfm-on_spurious-0", "modalities-rgb_ibfm-on_spurious-1", "modalities-rgb_ibfm-off_spurious-0",
      "modalities-rgb_ibfm-off_spurious-1", "modalities-rgb+depth_ibfm-on_spurious-0", "modalities-rgb+depth_ibfm-on_spurious-1",
      "modalities-rgb+depth_ibfm-off_spurious-0", "modalities-rgb+depth_ibfm-off_spurious-1",
    ])
    // IBFM fuses two modalities: with RGB alone the cell is not a valid configuration.
    #expect(grid.cells[0].config == nil && grid.cells[0].reason?.contains("model.ibfm: on needs modalities [rgb, depth]") == true)
    let c = try #require(grid.cells[3].config)
    #expect(c.model.modalities == [.rgb] && !c.model.ibfm && c.model.anomalyMap == .modal && c.perturb.spurious == 1)
    let full = try #require(grid.cells[4].config)
    #expect(full.model.ibfm && full.model.anomalyMap == AnomalyMapSpec(names: ["fused", "modal"]) && full.perturb.spurious == 0)
    #expect(grid.cells[5].settings == [StudySetting(key: "modalities", value: "rgb+depth"), StudySetting(key: "ibfm", value: "on"),
                                       StudySetting(key: "perturb.spurious", value: "1")])
    #expect(grid.cells.filter { $0.config != nil }.count == 6)
  }

  @Test func badValuesStopTheStudyBeforeAnyCell() {
    do {
      _ = try StudyGrid(base: Self.base, axes: try Self.axes(["perturb.spurious=0,abc", "model.nope=1", "ibfm=maybe", "perturb.spurious=1"]),
                        source: "base.yaml")
      Issue.record("expected a ConfigError")
    } catch let e as ConfigError {
      for needle in ["--grid perturb.spurious=abc: perturb.spurious: expected a number", "--grid model.nope=1: model.nope: unknown key",
                     "--grid ibfm=maybe: model.ibfm: expected on/off", "--grid perturb.spurious: the axis is given twice"] {
        #expect(e.description.contains(needle), "missing: \(needle)\n\(e)")
      }
    } catch {
      Issue.record("unexpected \(error)")
    }
    // A grid of nothing but invalid combinations is an error too.
    #expect(throws: ConfigError.self) { try StudyGrid(base: Self.base, axes: try Self.axes(["modalities=rgb,depth"]), source: "base.yaml") }
  }

  @Test func sameLastKeyPartKeepsTheWholeKeyInCellNames() throws {
    let grid = try StudyGrid(base: Self.base, axes: try Self.axes(["model.fusion=add", "train.fusion=0.5,1"]), source: "b")
    #expect(grid.cells.map(\.name) == ["model.fusion-add_train.fusion-0.5", "model.fusion-add_train.fusion-1"])
    #expect(StudyGrid.sanitised("a/b c") == "a-b-c")
  }
}
