import ArgumentParser
import Backbone
import Cluster
import Datasets
import Foundation
import Incremental
import Model
import Runs
import Tensor

/// One step's data as training reads it, in files other tools can load.
struct DatasetExport: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write one incremental step's prepared training and test sets as safetensors.",
    discussion: """
      The tensors `iumad train` feeds the model, for other tools (Scripts/torch_quality.py trains \
      the PyTorch reference on them). OUT/train.safetensors holds the step's training samples \
      prepared as training prepares them (data.train_splits, perturb.* applied); OUT/test.safetensors \
      the test samples of every class seen up to that step, in dataset order. Each file has, per \
      modality M (rgb, depth): features.M [N, T, C_in] (backbone features through backbone.cache, \
      not standardised) and images.M [N, 3, S, S] (the Mamba decoder's input); and labels [N] (class \
      index in the schedule's class order), anomalous [N] (1 = defective) and masks [N, S, S]. The \
      metadata names the classes in order, the step's classes and the dataset root.
      """
  )

  @OptionGroup var options: ConfigOptions

  @Option(help: "Step of the schedule, 1 = the base step.")
  var step = 1

  @Option(help: "Output directory (created if missing; its train/test files are replaced).")
  var out: String

  func run() throws {
    if MPICommunicator.launchedByMPIRun { throw ValidationError("iumad dataset export runs in one process; start it without mpirun") }
    let config = try options.resolve(LocalCommunicator())
    options.applyThreads(config)
    let pipeline: DataPipeline
    do { pipeline = try DataPipeline(config: config) } catch let e as RunSetupError { throw InputError(e.description) }
    let steps = pipeline.stepClasses
    guard (1...steps.count).contains(step) else {
      throw ValidationError("--step: schedule \(pipeline.schedule) has steps 1...\(steps.count), got \(step)")
    }
    let stepClasses = steps[step - 1], seen = steps[0..<step].flatMap { $0 }
    let modalities = config.model.modalities
    let outURL = URL(fileURLWithPath: out)
    do { try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true) } catch {
      throw InputError("--out: cannot create directory '\(out)': \(RunLauncher.reason(creating: outURL, error))")
    }
    let meta = ["classes": pipeline.scheduledClasses.joined(separator: ","), "step": "\(step)",
                "step_classes": stepClasses.joined(separator: ","), "data_root": config.data.root]
    for (name, samples, training) in [("train", pipeline.trainingSamples(stepClasses), true), ("test", pipeline.testSamples(seen), false)] {
      let set = try pipeline.prepare(samples, modalities: modalities, training: training)
      let path = outURL.appendingPathComponent("\(name).safetensors").path
      try SafeTensorsFile.write(tensors(set, modalities: modalities), metadata: meta, to: path)
      print("\(name): \(set.count) samples of \(Set(samples.map(\.className)).count) classes → \(path) (features: \(pipeline.lastCacheHits) cached, \(pipeline.lastComputed) computed)")
    }
  }

  func tensors(_ set: PreparedSet, modalities: [Modality]) -> [String: Tensor] {
    let n = set.count, s = set.inputSize
    // The model input of every sample, in order: what training batches are made of.
    let input = set.batch(Array(0..<n), modalities: modalities, withImages: true)
    var t: [String: Tensor] = [
      "labels": Tensor(shape: [n], data: input.labels.map(Float.init)),
      "anomalous": Tensor(shape: [n], data: set.samples.map { Float($0.label) }),
      "masks": Tensor(shape: [n, s, s], data: set.masks.flatMap { $0 }),
    ]
    for m in modalities {
      t["features.\(m.rawValue)"] = input.features[m]
      t["images.\(m.rawValue)"] = input.images[m]
    }
    return t
  }
}
