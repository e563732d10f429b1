import ArgumentParser
import Cluster
import Foundation
import Incremental
import Tensor

struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train IB-IUMAD through an incremental schedule and evaluate after every step.",
    discussion: """
      Reads a YAML config (see configs/ and docs/configuration.md), checks the config, the dataset
      (every file), the class list against the schedule, the backbone weights and the output
      directory, and stops with every problem listed before any training starts.

      The run directory receives config.yaml (resolved), train.log, metrics.json, metrics.csv,
      report.md, plots/*.svg, heatmaps/step-N/*.png, maps/step-N/<class>/test/<defect>/NNN.tiff,
      model.safetensors (for iumad infer) and checkpoints/ (zstd, verified; --resume auto continues
      a stopped run exactly where its last checkpoint left it).
      Backbone features are cached on disk (backbone.cache), so epochs never run the backbone.
      """
  )

  @Option(help: "YAML configuration file.")
  var config: String

  @Option(help: "Dataset root (overrides data.root).")
  var data: String?

  @Option(help: "Run directory (default: runs/<config name>).")
  var out: String?

  @Option(name: .customLong("set"), help: "Override a key: SECTION.KEY=VALUE, e.g. --set train.epochs_base=5 (repeatable).")
  var overrides: [String] = []

  @Option(help: "Threads for our kernels and OpenBLAS (default: cores / ranks on this node).")
  var threads: Int?

  @Option(help: "auto: continue from the newest valid checkpoint in RUN/checkpoints (corrupt ones are reported and skipped); never: start over; or a checkpoint file.")
  var resume: String = "auto"

  @Option(help: "Also checkpoint every N iterations (checkpoints are always written at the end of each step).")
  var checkpointEvery: Int?

  @Flag(help: "Write every iteration's losses to the log (default: each epoch end and every 10 s).")
  var logIterations = false

  func run() throws {
    var sets = overrides
    if let data { sets.append("data.root=\(data)") }
    if let checkpointEvery { sets.append("train.checkpoint_every=\(checkpointEvery)") }
    // Under mpirun every rank runs this command; rank 0 coordinates and writes the run directory.
    let comm: Communicator = MPICommunicator.launchedByMPIRun ? MPICommunicator() : LocalCommunicator()
    let cfg = try coordinatorConfig(comm, overrides: sets)
    let n = threads ?? (cfg.train.threads > 0 ? cfg.train.threads : Threading.defaultThreads())
    Threading.setThreads(n)
    let name = URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent
    let dir = URL(fileURLWithPath: out ?? "runs/\(name)")
    do {
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      if comm.isCoordinator { try Data(cfg.yaml().utf8).write(to: dir.appendingPathComponent("config.yaml")) }
    } catch {
      throw ValidationError("cannot write to the run directory '\(dir.path)': \(error.localizedDescription)")
    }
    // Rank 0 logs to train.log and the terminal; the other ranks to their own files.
    let logName = comm.isCoordinator ? "train.log" : "train.rank-\(comm.rank).log"
    let log = ProgressLog(path: dir.appendingPathComponent(logName).path, echo: comm.isCoordinator)
    log.everyIteration = logIterations
    log.note("iumad \(IUMADVersion.string): config \(config), run directory \(dir.path), rank \(comm.rank) of \(comm.size), \(n) threads")
    let run: IncrementalRun
    do { run = try IncrementalRun(config: cfg, runDirectory: dir, progress: log, resume: ResumeMode(resume), communicator: comm) } catch {
      log.note("setup failed:\n\(error)")
      throw ValidationError("\(error)")
    }
    do { try run.run() } catch let e as CheckpointError {
      log.note("\(e)")
      throw ValidationError(e.description)
    }
    guard comm.isCoordinator else { return }
    log.note("done: report in \(dir.appendingPathComponent("report.md").path)")
    print(try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8))
  }

  /// Rank 0 reads and resolves the config and broadcasts it (as resolved YAML, or its error):
  /// every rank trains exactly the configuration rank 0 saw, config file present or not.
  func coordinatorConfig(_ comm: Communicator, overrides: [String]) throws -> RunConfig {
    var text = "", failure = ""
    if comm.isCoordinator {
      do { text = try RunConfig.load(path: config, overrides: overrides).yaml() } catch {
        failure = (error as? ConfigError)?.description ?? "\(config): \(error)"
      }
    }
    failure = comm.broadcastString(failure)
    if !failure.isEmpty { throw ValidationError(failure) }
    do { return try RunConfig.parse(yaml: comm.broadcastString(text), source: "\(config) (from rank 0)") } catch let e as ConfigError {
      throw ValidationError(e.description)
    }
  }
}
