import ArgumentParser
import Cluster
import Foundation
import Incremental
import Runs
import Tensor

/// The options of every command that runs a configuration on a dataset (`train`, `study`,
/// `baseline`): the config file and its overrides, the data and the thread count.
struct ConfigOptions: ParsableArguments {
  @Option(help: "YAML configuration file.")
  var config: String

  @Option(help: "Dataset root (overrides data.root).")
  var data: String?

  @Option(name: .customLong("set"), help: "Override a key: SECTION.KEY=VALUE, e.g. --set train.epochs_base=5 (repeatable).")
  var overrides: [String] = []

  @Option(help: "Threads for our kernels and OpenBLAS (default: cores / ranks on this node).")
  var threads: Int?

  /// The config file's name without extension (default output names).
  var configName: String { URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent }

  /// `--set` overrides plus the ones options stand for (`--data`, and the caller's `extra`).
  func assignments(_ extra: [String] = []) -> [String] {
    overrides + (data.map { ["data.root=\($0)"] } ?? []) + extra
  }

  /// The configuration every rank runs (`RunConfig.load(path:overrides:over:)`: rank 0 reads it).
  func resolve(_ comm: Communicator, extra: [String] = []) throws -> RunConfig {
    do { return try RunConfig.load(path: config, overrides: assignments(extra), over: comm) } catch {
      throw InputError("\(error)")
    }
  }

  /// Sets and returns the thread count: `--threads`, else `train.threads`, else cores / ranks
  /// on this node.
  @discardableResult
  func applyThreads(_ config: RunConfig, ranksOnNode: Int = 1) -> Int {
    let n = threads ?? (config.train.threads > 0 ? config.train.threads : Threading.defaultThreads(ranksOnNode: ranksOnNode))
    Threading.setThreads(n)
    return n
  }
}

/// The options `iumad train` and `iumad study` share: the config and its overrides, the data,
/// threads, seeds and logging.
struct RunOptions: ParsableArguments {
  @OptionGroup var common: ConfigOptions

  @Option(help: "Train every schedule once per seed for N seeds: the config's seed and the N − 1 after it (replaces seeds: of the config); reports give mean ± std.")
  var seeds: Int?

  @Flag(help: "Write every iteration's losses to the log (default: each epoch end and every 10 s).")
  var logIterations = false

  var config: String { common.config }
  var configName: String { common.configName }
  func assignments(_ extra: [String] = []) -> [String] { common.assignments(extra) }

  /// The broadcast configuration (`ConfigOptions.resolve`) with `--seeds` applied last.
  func resolve(_ comm: Communicator, extra: [String] = []) throws -> RunConfig {
    var resolved = try common.resolve(comm, extra: extra)
    if let seeds {
      guard seeds >= 1 else { throw ValidationError("--seeds: expected at least 1, got \(seeds)") }
      resolved.seeds = (0..<seeds).map { resolved.seed + UInt64($0) }
    }
    return resolved
  }

  /// Sets the thread count (`--threads`, else `train.threads`, else cores / ranks on this node)
  /// and returns the launcher of the config's runs.
  func launcher(_ config: RunConfig, resume: ResumeMode, _ comm: Communicator, what: String) -> RunLauncher {
    let n = common.applyThreads(config, ranksOnNode: comm.localSize)
    var launcher = RunLauncher(resume: resume, communicator: comm, header: "iumad \(IUMADVersion.string): \(what) \(self.config), \(n) threads")
    launcher.logIterations = logIterations
    return launcher
  }
}

/// The communicator of this process: MPI when launched by mpirun, a world of one otherwise.
func processCommunicator() -> Communicator {
  MPICommunicator.launchedByMPIRun ? MPICommunicator() : LocalCommunicator()
}

/// Progress lines of commands that run several runs: rank 0 prints them on stderr.
func coordinatorNote(_ comm: Communicator) -> (String) -> Void {
  { line in if comm.isCoordinator { FileHandle.standardError.write(Data((line + "\n").utf8)) } }
}

/// Runs a command's work on every rank; an error is printed by rank 0 alone. The other ranks
/// met the same (broadcast) problem and exit with the same status without a word, so N copies
/// of one message never interleave into garbage on a shared terminal.
func reportingOnCoordinator(_ comm: Communicator, _ body: () throws -> Void) throws {
  do { try body() } catch where !comm.isCoordinator {
    throw ExitCode(error is ValidationError ? ExitCode.validationFailure.rawValue : ExitCode.failure.rawValue)
  }
}
