import ArgumentParser
import Foundation
import Incremental
import Runs

struct ConfigCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "config",
    abstract: "Check a configuration or print the configuration reference.",
    subcommands: [ConfigCheck.self, ConfigReference.self]
  )
}

struct ConfigCheck: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check", abstract: "Validate a YAML config (with overrides) and print it fully resolved.")

  @Argument(help: "YAML configuration file.") var file: String
  @Option(name: .customLong("set"), help: "Override SECTION.KEY=VALUE (repeatable).") var overrides: [String] = []

  func run() throws {
    let config: RunConfig
    do { config = try RunConfig.load(path: file, overrides: overrides) } catch let e as ConfigError {
      throw InputError(e.description)
    }
    // The backbone weights are the one file a config needs before any data: checked here too.
    if case .failure(let e) = DataPipeline.weights(config) { throw InputError("\(file): \(e.description)") }
    if !config.data.root.isEmpty { try printPlan(config) }
    print(config.yaml(), terminator: "")
  }

  /// With data.root set: the classes each step trains (on stderr; stdout stays the YAML), or why
  /// the schedule does not fit the dataset. The files themselves are checked by `dataset inspect`.
  func printPlan(_ config: RunConfig) throws {
    let scan = DataPipeline.scan(config)
    guard !scan.samples.isEmpty else {
      throw InputError("\(file): data.root '\(config.data.root)' holds no samples in the \(config.data.format.rawValue) layout")
    }
    let classes = DataPipeline.classOrder(config, scan: scan)
    let schedule = config.train.schedule
    guard schedule.totalClasses <= classes.count else {
      throw InputError("\(file): train.schedule: \(ScheduleError.tooFewClasses(schedule: schedule.description, needed: schedule.totalClasses, available: classes.count))")
    }
    var lines = ["schedule \(schedule) on \(classes.count) classes of \(config.data.root):"]
    for (i, step) in schedule.stepClasses(classes).enumerated() {
      lines.append("  step \(i + 1): \(step.joined(separator: ", ")) (\(i == 0 ? config.train.epochsBase : config.train.epochsIncremental) epochs)")
    }
    FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
  }
}

struct ConfigReference: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reference", abstract: "Print every configuration key with its default and meaning (docs/configuration.md).")
  func run() { print(RunConfig.referenceMarkdown(), terminator: "") }
}
