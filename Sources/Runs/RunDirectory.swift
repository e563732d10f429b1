import Foundation
import Incremental

/// A run directory claimed for one run (rank 0, before anything of the run is written there).
///
/// - `--resume auto` / a checkpoint file: the directory must be empty of results, or hold the
///   same run (`run.json` equal to this identity). Results without a `run.json` (an earlier
///   iumad) or of another identity are refused, saying what differs.
/// - `--resume never`: the previous run's outputs are removed first, each named in the log, so
///   nothing of it can be resumed or reported later.
/// Then `config.yaml` and `run.json` describe the run that is about to write here.
public enum RunDirectory {
  /// What a run writes (and `--resume never` removes); anything else in the directory is the user's.
  public static let outputs = [
    "checkpoints", "maps", "heatmaps", "plots", "map-comparison", "metrics.json", "metrics.csv", "report.md",
    "model.safetensors", "learning-curves.json", RunCompletion.fileName, RunIdentity.fileName,
  ]

  /// `--resume never`: removes what an earlier run wrote into `directory`; the line says what.
  public static func removeOutputs(_ directory: URL) throws -> [String] {
    let present = outputs.filter { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path) }
    for name in present {
      do { try FileManager.default.removeItem(at: directory.appendingPathComponent(name)) } catch {
        throw RunSetupError(["--resume never: cannot remove the previous run's \(directory.appendingPathComponent(name).path): \(error.localizedDescription)"])
      }
    }
    return present.isEmpty ? [] : ["--resume never: removed the previous run's \(present.joined(separator: ", ")) from \(directory.path)"]
  }

  static let folders = ["checkpoints", "maps", "heatmaps", "plots", "map-comparison"]

  /// Claims `directory` for `identity`; returns the log lines to print (what was removed).
  public static func claim(_ directory: URL, identity: RunIdentity, config: RunConfig, resume: ResumeMode) throws -> [String] {
    var notes: [String] = []
    let fm = FileManager.default
    let present = outputs.filter { fm.fileExists(atPath: directory.appendingPathComponent($0).path) }
    for name in folders where resume != .never {
      var isDirectory: ObjCBool = false
      if fm.fileExists(atPath: directory.appendingPathComponent(name).path, isDirectory: &isDirectory) && !isDirectory.boolValue {
        throw RunSetupError(["\(directory.appendingPathComponent(name).path) is a file; the run writes a folder there (move the file away)"])
      }
    }
    if resume == .never {
      notes += try removeOutputs(directory)
    } else if let old = try RunIdentity.read(in: directory) {
      let differences = identity.differences(from: old)
      if !differences.isEmpty {
        throw RunSetupError(["\(directory.path) holds another run (\(RunIdentity.fileName)); this configuration or data differs:\n    "
          + differences.joined(separator: "\n    ")
          + "\n  use --resume never to start over in this directory (its results are removed), or choose another --out"])
      }
      if old.dataRoot != identity.dataRoot { notes.append("data moved: \(old.dataRoot) then, \(identity.dataRoot) now (same files)") }
    } else if !present.isEmpty {
      throw RunSetupError(["\(directory.path) holds results (\(present.joined(separator: ", "))) but no \(RunIdentity.fileName), so they cannot be told apart from another run's (an earlier iumad wrote them?); use --resume never to start over, or choose another --out"])
    }
    do {
      try fm.createDirectory(at: directory, withIntermediateDirectories: true)
      try Data(config.yaml().utf8).write(to: directory.appendingPathComponent("config.yaml"))
      try identity.jsonData().write(to: directory.appendingPathComponent(RunIdentity.fileName), options: .atomic)
    } catch {
      throw RunSetupError(["cannot write to the run directory '\(directory.path)': \(RunLauncher.reason(creating: directory, error))"])
    }
    return notes
  }
}
