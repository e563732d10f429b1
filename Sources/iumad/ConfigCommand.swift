import ArgumentParser
import Incremental

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
    print(config.yaml(), terminator: "")
  }
}

struct ConfigReference: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reference", abstract: "Print every configuration key with its default and meaning (docs/configuration.md).")
  func run() { print(RunConfig.referenceMarkdown(), terminator: "") }
}
