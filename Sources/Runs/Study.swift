import Foundation
import Incremental
import Metrics

/// `iumad study`: every cell of a `StudyGrid` as a multi-seed run (`SeedRuns`) in
/// `DIR/cells/<cell>/`, one after another, with the study report (`StudyReport`) rewritten after
/// each cell. Resumable cell by cell: a finished cell (every seed has `finished.json`) is read
/// back, not trained; an interrupted one continues from its checkpoints under `--resume auto`.
public struct Study {
  public let grid: StudyGrid
  public let directory: URL
  public let launcher: RunLauncher
  /// Lines describing the study for the report (config file, overrides …), before the derived ones.
  public var context: [String] = []
  public var title = "IUMAD study"
  /// Progress lines (rank 0 prints them).
  public var note: (String) -> Void = { _ in }

  public init(grid: StudyGrid, directory: URL, launcher: RunLauncher) {
    self.grid = grid
    self.directory = directory
    self.launcher = launcher
  }

  public func cellDirectory(_ name: String) -> URL { directory.appendingPathComponent("cells/\(name)") }

  @discardableResult
  public func run() throws -> [StudyCell] {
    let comm = launcher.communicator
    var cells = grid.cells.map { c in
      StudyCell(name: c.name, settings: c.settings, outcome: c.config == nil ? .notApplicable(c.reason ?? "") : .pending)
    }
    if comm.isCoordinator {
      do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
        throw RunSetupError(["cannot write to the study directory '\(directory.path)': \(error.localizedDescription)"])
      }
      try write(cells)
    }
    let runnable = grid.cells.indices.filter { grid.cells[$0].config != nil }
    for (k, i) in runnable.enumerated() {
      let cell = grid.cells[i]
      note("cell \(k + 1)/\(runnable.count) \(cell.name): \(cells[i].label)")
      var runs = try SeedRuns(config: cell.config!, directory: cellDirectory(cell.name), launcher: launcher)
      runs.note = note
      let (stats, seconds) = try runs.run(title: "IUMAD study cell \(cells[i].label)")
      cells[i].outcome = .finished(stats, seconds: seconds)
      if comm.isCoordinator { try write(cells) }
    }
    for c in cells { if case .notApplicable(let why) = c.outcome { note("cell \(c.name) not run: \(why)") } }
    return cells
  }

  func write(_ cells: [StudyCell]) throws {
    let b = grid.base
    let seconds = cells.reduce(0.0) { total, c in
      if case .finished(_, let s) = c.outcome { return total + s }
      return total
    }
    let derived = [
      "Grid: " + grid.axes.map { "`\($0.key)` = \($0.values.joined(separator: ", "))" }.joined(separator: " × ")
        + " (\(cells.count) cells, \(cells.filter { $0.result != nil }.count) finished)",
      "Seeds: \(b.seedList.map(String.init).joined(separator: ", "))",
      "Base settings: schedule \(b.train.schedule), \(b.train.epochsBase) base / \(b.train.epochsIncremental) incremental epochs, batch \(b.train.batchSize); "
        + "model input \(b.model.inputSize) px, backbone \(b.backbone.name); protocol \(b.eval.protocol.rawValue)",
      String(format: "Training and evaluation time of the finished cells: %.0f s (sum over cells and seeds)", seconds),
    ]
    try StudyReport.write(directory: directory, title: title, context: context + derived, cells: cells)
  }
}
