import ArgumentParser
import Backbone
import Foundation
import Incremental
import Runs
import Model
import Tensor

struct ModelCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "model",
    abstract: "Inspect the IB-IUMAD model: sizes and FLOPs, initial weights.",
    subcommands: [ModelSummaryCommand.self, ModelExportCommand.self]
  )
}

struct ModelOptions: ParsableArguments {
  @Option(help: "YAML config whose 'model:' section defines the model (e.g. configs/tiny.yaml).")
  var config: String

  @Option(name: .customLong("set"), help: "Override a key as `iumad train` does, e.g. --set model.mamba=off or --set model.preset=demo (repeatable).")
  var overrides: [String] = []

  @Option(help: "Seed for the parameter initialisation.")
  var seed: UInt64 = 0

  @Option(help: "Object classes K: the label heads' width (a run takes it from its schedule's class list).")
  var classes: Int = 10

  /// The model of the config's `model:` section, read exactly as `iumad train` reads it.
  func build() throws -> IBIUMAD {
    guard classes >= 1 else { throw ValidationError("--classes must be at least 1, got \(classes)") }
    do { return IBIUMAD(config: try RunConfig.load(path: config, overrides: overrides).model, classes: classes, seed: seed) } catch let e as ConfigError {
      throw InputError(e.description)
    }
  }
}

struct ModelSummaryCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "summary",
    abstract: "Print parameter counts per module and per-sample training FLOPs as JSON.",
    discussion: """
      Modules: mrn.rgb, mrn.depth, mamba.rgb, mamba.depth, ibfm, heads (those present). \
      FLOPs are counted by the kernels while one sample runs forward and backward (GEMMs, \
      convolutions, selective scan; element-wise work is not counted).
      """
  )

  @OptionGroup var options: ModelOptions

  func run() throws {
    let model = try options.build()
    let s = ModelSummary(model: model)
    var modules: [String: Int] = [:]
    for (m, n) in s.parameters { modules[m] = n }
    let obj: [String: Any] = [
      "parameters": modules, "total_parameters": s.total,
      "flops_forward_per_sample": s.forwardFLOPs, "flops_backward_per_sample": s.backwardFLOPs,
      "flops_train_per_sample": s.forwardFLOPs + s.backwardFLOPs,
      "input_size": model.config.inputSize, "tokens": model.config.tokens,
    ]
    let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
  }
}

struct ModelExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write the model's initial parameters as safetensors (names as in checkpoints).",
    discussion: "Untrained: the parameters as initialised from the config's seed. Used by Scripts/make_fixtures_model.py to build the same model in JAX. A trained model is RUN/model.safetensors, written by iumad train after every step."
  )

  @OptionGroup var options: ModelOptions

  @Option(help: "Output .safetensors file.")
  var out: String

  func run() throws {
    let model = try options.build()
    let meta = ["format": "iumad-parameters", "config": String(describing: model.config)]
    try SafeTensorsFile.write(Dictionary(uniqueKeysWithValues: model.parameters.named.map { ($0.name, $0.tensor) }), metadata: meta, to: out)
    print("wrote \(model.parameters.count) tensors (\(model.parameters.totalElements) parameters) to \(out)")
  }
}
