import ArgumentParser
import Foundation
import Incremental
import Runs
import Tensor

struct StudyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "study",
    abstract: "Run a grid of configurations, each a full schedule over one or more seeds (the paper's Figure 2 study).",
    discussion: """
      Every combination of the --grid axes is a cell: the config with the cell's values set, trained \
      through its whole schedule once per seed into DIR/cells/<cell>/seed-K/ (a normal run \
      directory each), one cell after another. DIR receives study.md (per cell: each step's mean \
      I-AUROC and AUPRO, and FM, as mean ± std over seeds), study.csv, study.json and \
      plots/{i_auroc_per_step,aupro_per_step,fm}.svg, rewritten after every cell.

      Axes: any SECTION.KEY of `--set` (perturb.spurious=0,0.5,1; model.fusion=add,cross_attention …) \
      or a shorthand: modalities=rgb,depth,rgb+depth · ibfm=on,off (off also sets \
      model.anomaly_map=modal) · mamba=on,off · spurious=… · redundant=… · schedule=…. \
      A combination the model does not support (IBFM needs RGB and depth) is listed as n/a.

      Resumable: run the same command again and finished cells are read back, not trained; \
      an interrupted cell continues from its checkpoints (--resume never starts every cell over). \
      See docs/study.md.
      """
  )

  @OptionGroup var options: RunOptions

  @Option(name: .customLong("grid"), help: "An axis KEY=v1,v2,… (repeatable; the first varies slowest).")
  var axes: [String] = []

  @Option(help: "Study directory (default: runs/study-<config name>).")
  var out: String?

  @Option(help: "auto: skip finished cells and continue interrupted ones from their checkpoints; never: train every cell again.")
  var resume: String = "auto"

  func validate() throws {
    if axes.isEmpty { throw ValidationError("give at least one --grid KEY=v1,v2,…") }
    if !["auto", "never"].contains(resume) { throw ValidationError("--resume: expected auto or never, got '\(resume)'") }
  }

  func run() throws {
    let comm = processCommunicator()
    try reportingOnCoordinator(comm) {
      let base = try options.resolve(comm)
      var parsed: [GridAxis] = [], problems: [String] = []
      for text in axes {
        switch GridAxis.parse(text) {
        case .success(let axis): parsed.append(axis)
        case .failure(let e): problems.append(e.description)
        }
      }
      if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
      let grid: StudyGrid
      do { grid = try StudyGrid(base: base, axes: parsed, source: options.config) } catch let e as ConfigError {
        throw InputError(e.description)
      }
      let dir = URL(fileURLWithPath: out ?? "runs/study-\(options.configName)")
      var study = Study(grid: grid, directory: dir, launcher: options.launcher(base, resume: ResumeMode(resume), comm, what: "study of"))
      study.title = "IUMAD study: \(options.configName)"
      let sets = options.assignments()
      study.context = ["Base configuration: `\(options.config)`" + (sets.isEmpty ? "" : " with " + sets.map { "`--set \($0)`" }.joined(separator: " "))]
      study.note = coordinatorNote(comm)
      do { try study.run() } catch let e as RunSetupError {
        throw InputError(e.description)
      } catch let e as CheckpointError {
        throw InputError(e.description)
      }
      guard comm.isCoordinator else { return }
      print(try String(contentsOf: dir.appendingPathComponent("study.md"), encoding: .utf8))
    }
  }
}
