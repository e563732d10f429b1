import ArgumentParser
import Datasets
import Foundation

struct DatasetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dataset",
    abstract: "Look at datasets on disk, or export one step's prepared tensors.",
    subcommands: [DatasetInspect.self, DatasetExport.self]
  )
}

extension DatasetFormat: ExpressibleByArgument {}

struct DatasetInspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Summarise a dataset as JSON and list every problem in it.",
    discussion: """
      Opens every sample (rgb, depth, mask) and checks it the way training does. Prints a JSON \
      summary on stdout: classes; per class and split the sample count, defect types, image \
      sizes and the mean fraction of valid depth pixels; and the problems found, which are also \
      listed on stderr. Exits with status 1 if there is any problem.
      """
  )

  @Option(help: "Dataset root (for jsonl: the image root the meta files' paths are relative to).")
  var data: String

  @Option(help: "Layout: mvtec3d, eyecandies or jsonl.")
  var format: DatasetFormat = .mvtec3d

  @Option(help: "JSONL meta file (repeatable; required for --format jsonl).")
  var meta: [String] = []

  @Option(help: "Comma-separated classes a meta file may name (default: the image root's directories).")
  var classes: String?

  @Option(help: "Eyecandies lighting variant used as RGB (<id>_image_K.png, 0...5).")
  var imageIndex: Int = 4

  func validate() throws {
    if format == .jsonl && meta.isEmpty { throw ValidationError("--format jsonl needs at least one --meta FILE") }
    if format != .jsonl && !meta.isEmpty { throw ValidationError("--meta applies only to --format jsonl") }
    if !(0...5).contains(imageIndex) { throw ValidationError("--image-index must be 0...5, got \(imageIndex)") }
  }

  func run() throws {
    let known = classes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    let options = DatasetOptions(eyecandiesImageIndex: imageIndex, metaFiles: meta, knownClasses: known)
    let scan = DatasetReader.scan(format: format, root: data, options: options)
    let checks = DatasetValidator.checkAll(scan.samples)
    let summary = DatasetSummary(root: data, format: format, scan: scan, checks: checks)
    FileHandle.standardOutput.write(try summary.json())
    print()
    guard summary.problems.isEmpty else {
      var err = "dataset inspect: \(summary.problems.count) problem\(summary.problems.count == 1 ? "" : "s"):\n"
      for p in summary.problems { err += "  - \(p)\n" }
      FileHandle.standardError.write(Data(err.utf8))
      throw ExitCode(1)
    }
  }
}
