import ArgumentParser
import Backbone
import Datasets
import Foundation
import Model
import Tensor

struct BenchInfer: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "infer",
    abstract: "Inference frames/s of a preset: from cached backbone features, and end to end from files.",
    discussion: """
      From features: the model's forward pass and anomaly maps on a batch of random features \
      (what evaluation costs once the feature cache is warm). End to end: PNG + TIFF files \
      written by the synthetic generator are read (libpng, libtiff), preprocessed, run through \
      the backbone (random weights of the architecture whose C_in the preset expects: speed \
      does not depend on values) and the model, up to the anomaly maps.
      """
  )

  @Option(help: "Preset: tiny, demo or paper.") var preset: String = "paper"
  @Option(help: "Images per forward pass.") var batch: Int = 8
  @Option(help: "Timed batches per measurement.") var repeats: Int = 2
  @OptionGroup var bench: BenchOptions

  func run() throws {
    guard let c = ModelConfig.preset(preset) else { throw ValidationError("--preset: unknown preset '\(preset)' (tiny, demo, paper)") }
    guard batch > 0, repeats > 0 else { throw ValidationError("--batch and --repeats must be positive") }
    bench.applyThreads()
    let model = IBIUMAD(config: c, classes: 10, seed: 0)
    let arch = c.featureChannels == 272 ? "efficientnet-b4" : "efficientnet-lite0"
    let extractor = try FeatureExtractor(backbone: .random(config: try EfficientNetConfig.named(arch)), inputSize: c.inputSize)
    func maps(_ input: ModelInput) -> [Float] {
      GradMode.withoutGrad {
        var ctx = ForwardContext.eval
        return model.anomalyMaps(model.forward(input, &ctx)).scores
      }
    }
    func seconds(_ body: () throws -> Void) rethrows -> Double {
      try body()
      let start = DispatchTime.now().uptimeNanoseconds
      for _ in 0..<repeats { try body() }
      return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(repeats)
    }

    var rng = RNG(seed: 9)
    var features: [Modality: Tensor] = [:], images: [Modality: Tensor] = [:]
    for m in c.modalities {
      features[m] = Tensor(randn: [batch, c.tokens, c.featureChannels], rng: &rng)
      images[m] = Tensor(randn: [batch, 3, c.inputSize, c.inputSize], rng: &rng)
    }
    let cached = ModelInput(features: features, images: images, labels: [Int](repeating: 0, count: batch))
    let fromFeatures = seconds { _ = maps(cached) }

    // Real files at the model's input size, read back through the training preprocessing.
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-bench-infer-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    _ = try SyntheticDataset.write(SyntheticDatasetConfig(classes: 1, train: 1, validation: 1, test: batch, size: c.inputSize, seed: 1), to: root)
    let samples = Array(DatasetReader.scan(format: .mvtec3d, root: root).samples.filter { $0.split == .test }.prefix(batch))
    let pre = Preprocessor(inputSize: c.inputSize)
    let s = c.inputSize
    let endToEnd = try seconds {
      let prepared = try Threading.parallelMap(samples.count) { try pre.prepare(samples[$0]) }
      var f: [Modality: Tensor] = [:], im: [Modality: Tensor] = [:]
      for m in c.modalities {
        let t = Tensor(shape: [prepared.count, 3, s, s], data: prepared.flatMap { m == .rgb ? $0.rgb : $0.depth })
        im[m] = t
        f[m] = try extractor.features(t)
      }
      _ = maps(ModelInput(features: f, images: im, labels: [Int](repeating: 0, count: prepared.count)))
    }
    let n = Double(batch), files = Double(samples.count)
    print(tableRow([("preset", 8), ("batch", 6), ("backbone", 20), ("from features fps", 18), ("end to end fps", 15)]))
    print(tableRow([(preset, 8), ("\(batch)", 6), (arch, 20), (String(format: "%.2f", n / fromFeatures), 18), (String(format: "%.2f", files / endToEnd), 15)]))
    try bench.write(["bench": "infer", "preset": preset, "batch": batch, "threads": Threading.threads, "backbone": arch,
                     "from_features_fps": n / fromFeatures, "end_to_end_fps": files / endToEnd, "files": samples.count])
  }
}
