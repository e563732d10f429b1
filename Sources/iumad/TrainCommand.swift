import ArgumentParser
import Cluster
import Foundation
import Incremental
import Runs
import Tensor

struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train IB-IUMAD through an incremental schedule and evaluate after every step.",
    discussion: """
      Reads a YAML config (see configs/ and docs/configuration.md), checks the config, the dataset \
      (every file), the class list against the schedule, the backbone weights and the output \
      directory, and stops with every problem listed before any training starts.

      The run directory receives config.yaml (resolved), train.log, metrics.json, metrics.csv, \
      report.md, plots/*.svg, heatmaps/step-N/*.png, maps/step-N/<class>/test/<defect>/NNN.tiff, \
      model.safetensors (for iumad infer) and checkpoints/ (zstd, verified; --resume auto continues \
      a stopped run exactly where its last checkpoint left it). \
      A run directory holds one run: run.json records its configuration and data, and a start \
      with other data or another configuration is refused with what differs (--resume never \
      removes the old run's outputs and starts over). \
      Backbone features are cached on disk (backbone.cache), so epochs never run the backbone.

      With --seeds N (or seeds: [..] in the config) the schedule is trained once per seed, one \
      seed after another, each into RUN/seed-K/ as above; RUN then holds report.md, \
      metrics-seeds.json and metrics-seeds.csv with every metric and FM as mean ± std over seeds. \
      Seeds already finished (RUN/seed-K/finished.json for the same configuration) are not \
      trained again, so seeds can also be trained as separate jobs (--set seed=K --out RUN/seed-K) \
      and collected by a final --seeds N run.
      """
  )

  @OptionGroup var options: RunOptions

  @Option(help: "Run directory (default: runs/<config name>, runs/<config name>-seeds with several seeds).")
  var out: String?

  @Option(help: "auto: continue from the newest valid checkpoint in RUN/checkpoints (corrupt ones are reported and skipped); never: start over; or a checkpoint file.")
  var resume: String = "auto"

  @Option(help: "Also checkpoint every N iterations (checkpoints are always written at the end of each step).")
  var checkpointEvery: Int?

  func run() throws {
    // Under mpirun every rank runs this command; rank 0 coordinates and writes the run directory.
    let comm = processCommunicator()
    try reportingOnCoordinator(comm) {
      let cfg = try options.resolve(comm, extra: checkpointEvery.map { ["train.checkpoint_every=\($0)"] } ?? [])
      let launcher = options.launcher(cfg, resume: ResumeMode(resume), comm, what: "config")
      // Multi-seed runs default to their own folder: a single run's folder is not theirs to mix into.
      let dir = URL(fileURLWithPath: out ?? "runs/\(options.configName)" + (cfg.seedList.count > 1 ? "-seeds" : ""))
      do {
        if cfg.seedList.count > 1 {
          var runs = try SeedRuns(config: cfg, directory: dir, launcher: launcher)
          runs.note = coordinatorNote(comm)
          try runs.run(title: "IUMAD run: \(options.configName), \(cfg.train.schedule), \(cfg.seedList.count) seeds")
        } else {
          try launcher.run(cfg.single(seed: cfg.seedList[0]), in: dir)
        }
      } catch let e as RunSetupError {
        throw InputError(e.description)
      } catch let e as CheckpointError {
        throw InputError(e.description)
      }
      guard comm.isCoordinator else { return }
      print(try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8))
    }
  }
}
