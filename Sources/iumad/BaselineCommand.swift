import ArgumentParser
import Baseline
import Cluster
import Foundation
import Incremental
import Runs
import Tensor

struct BaselineCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "baseline",
    abstract: "Score a dataset with a training-free PatchCore baseline (nearest neighbours in a memory bank of backbone features).",
    // Paragraphs are single lines (trailing backslashes), so the help wraps at the terminal width.
    discussion: """
      A sanity floor for the data and for the model: no training, the same frozen backbone \
      features (through the feature cache), the same schedule, evaluation, maps and reports as \
      `iumad train`, so the two run directories compare cell by cell.

      For every modality of model.modalities, each step adds a coreset of its new classes' \
      training tokens to a memory bank that keeps every earlier class (a memory bank does not \
      forget): per class, greedy k-center on a 128-dimensional random projection keeps --coreset \
      of the tokens. A test token's distance is its mean Euclidean distance to its --neighbours \
      nearest bank tokens; each modality's distances are z-scored with the mean and standard \
      deviation of defect-free distances (validation images when data.train_splits leaves them \
      out, else training images held out of a second bank) and summed over modalities. Maps, \
      blur (eval.blur_sigma) and image scores (eval.pool) are the model's own post-processing.

      Reads the same config as `iumad train` (train.schedule, backbone.*, model.input_size, \
      model.modalities, data.*, eval.*, seed). The model's other keys do not apply but are still \
      checked: a single-modality baseline needs --set model.ibfm=off --set model.anomaly_map=modal, \
      as a single-modality model does. RUN receives \
      config.yaml (resolved), baseline.log, baseline.json (bank sizes, normalisation statistics, \
      wall time per step), metrics.json, metrics.csv, report.md, plots/, heatmaps/step-N/ and \
      maps/step-N/<class>/test/<defect>/NNN.tiff. Runs in one process (not under mpirun). \
      See docs/baseline.md.
      """
  )

  @OptionGroup var options: ConfigOptions

  @Option(help: "Run directory (default: runs/baseline-<config name>).")
  var out: String?

  @Option(help: "Fraction of each class's training tokens kept in the memory bank, in (0, 1]; 1 = every token.")
  var coreset: Double = 0.1

  @Option(help: "k: a token's distance is the mean of its distances to the k nearest bank tokens.")
  var neighbours: Int = 1

  func validate() throws {
    let problems = BaselineSettings(coreset: coreset, neighbours: neighbours).problems()
    if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
  }

  func run() throws {
    if MPICommunicator.launchedByMPIRun {
      throw ValidationError("iumad baseline runs in one process; start it without mpirun")
    }
    let cfg = try options.resolve(LocalCommunicator())
    let threads = options.applyThreads(cfg)
    let dir = URL(fileURLWithPath: out ?? "runs/baseline-\(options.configName)")
    let settings = BaselineSettings(coreset: coreset, neighbours: neighbours)
    do {
      try RunLauncher.createDirectory(dir, config: cfg)
      let log = ProgressLog(path: dir.appendingPathComponent("baseline.log").path, echo: true)
      log.note("iumad \(IUMADVersion.string): baseline of \(options.config), \(threads) threads, run directory \(dir.path)")
      let run: BaselineRun
      do { run = try BaselineRun(config: cfg, settings: settings, runDirectory: dir, progress: log) } catch {
        log.note("setup failed:\n\(error)")
        throw error
      }
      try run.run()
      log.note("done: report in \(dir.appendingPathComponent("report.md").path)")
    } catch let e as RunSetupError {
      throw InputError(e.description)
    } catch let e as BaselineError {
      throw InputError(e.description)
    }
    print(try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8))
  }
}
