import Cluster
import Foundation
import Incremental
import Metrics

/// One run into its directory, the way `iumad train` does it and each seed of a multi-seed run
/// or study cell does it again: the directory with the resolved `config.yaml`, the log (rank 0:
/// `train.log` and the terminal; rank R: `train.rank-R.log`), then every step of the schedule.
/// Problems before training are `RunSetupError`s; checkpoint problems `CheckpointError`s.
public struct RunLauncher {
  public var resume: ResumeMode
  public var communicator: Communicator
  public var logIterations = false
  /// The start of the log's first line (program version, config file, threads …).
  public var header: String

  public init(resume: ResumeMode, communicator: Communicator, header: String) {
    self.resume = resume
    self.communicator = communicator
    self.header = header
  }

  @discardableResult
  public func run(_ config: RunConfig, in directory: URL) throws -> MetricsMatrix {
    // Every rank logs into the directory; rank 0 alone writes files for the user, config.yaml
    // once the directory is claimed for this run (RunDirectory). A directory this start made
    // is removed again when the run cannot start: a failed setup leaves nothing behind.
    let existed = FileManager.default.fileExists(atPath: directory.path)
    try Self.createDirectory(directory, config: nil)
    func discard() {
      guard !existed, communicator.isCoordinator, !FileManager.default.fileExists(atPath: directory.appendingPathComponent("checkpoints").path) else { return }
      try? FileManager.default.removeItem(at: directory)
    }
    let logName = communicator.isCoordinator ? "train.log" : "train.rank-\(communicator.rank).log"
    let log = ProgressLog(path: directory.appendingPathComponent(logName).path, echo: communicator.isCoordinator)
    log.everyIteration = logIterations
    log.note("\(header), run directory \(directory.path), rank \(communicator.rank) of \(communicator.size)")
    let run: IncrementalRun
    do { run = try IncrementalRun(config: config, runDirectory: directory, progress: log, resume: resume, communicator: communicator) } catch {
      log.note("setup failed:\n\(error)", echo: false)
      discard()
      throw error as? RunSetupError ?? RunSetupError(["\(error)"])
    }
    let matrix: MetricsMatrix
    do { matrix = try run.run() } catch let e as CheckpointError {
      log.note("\(e)", echo: false)
      throw e
    } catch let e as RunSetupError {
      log.note("setup failed:\n\(e)", echo: false)
      discard()
      throw e
    }
    if communicator.isCoordinator {
      log.note("done: report in \(directory.appendingPathComponent("report.md").path); the run directory holds \(Self.sizeDescription(of: directory))")
    }
    return matrix
  }

  /// The bytes under `directory`, e.g. "41.2 MB in 512 files".
  static func sizeDescription(of directory: URL) -> String {
    var bytes = 0, files = 0
    if let walk = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey]) {
      for case let url as URL in walk {
        guard let v = try? url.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey]), v.isRegularFile == true else { continue }
        bytes += v.fileSize ?? 0
        files += 1
      }
    }
    return String(format: "%.1f MB in %d files", Double(bytes) / 1e6, files)
  }

  /// Creates a run directory, with the resolved `config.yaml` when `config` is given.
  public static func createDirectory(_ directory: URL, config: RunConfig?) throws {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      if let config { try Data(config.yaml().utf8).write(to: directory.appendingPathComponent("config.yaml")) }
    } catch {
      throw RunSetupError(["cannot write to the run directory '\(directory.path)': \(reason(creating: directory, error))"])
    }
  }

  /// Why `directory` could not be made, in words: the part of its path that is a file, else the
  /// error's own text (Foundation's says only "The operation could not be completed").
  public static func reason(creating directory: URL, _ error: Error) -> String {
    var part = directory.standardizedFileURL
    while part.pathComponents.count > 1 {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: part.path, isDirectory: &isDirectory) {
        if !isDirectory.boolValue { return "'\(part.path)' is a file, not a directory" }
        break
      }
      part.deleteLastPathComponent()
    }
    return error.localizedDescription
  }
}
