import ArgumentParser
import Backbone
import Foundation
import Tensor

struct BackboneCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "backbone",
    abstract: "Run the frozen EfficientNet + MFCN neck on one image and write its features as .npy.",
    discussion: """
      Writes the neck output F ∈ R^{T×C_in} (T = (S/16)², C_in = 192 for lite0, 272 for b4) as a
      standard float32 .npy, or [2, T, C_in] (RGB, depth) when --depth is given.
      Inputs are preprocessed images [3, S, S] stored as .npy (ImageNet-normalised).
      Weights: a safetensors file from Scripts/convert_weights.py (Scripts/fetch_weights.sh
      prints the default lite0 path).
      """
  )

  @Option(help: "Safetensors weights (canonical naming, from Scripts/convert_weights.py).")
  var weights: String

  @Option(help: "Preprocessed RGB image [3, S, S] as .npy.")
  var image: String

  @Option(help: "Preprocessed depth image [3, S, S] as .npy (goes through the same backbone).")
  var depth: String?

  @Option(help: "Input size S (a multiple of 16); the neck is S/16 × S/16.")
  var size: Int = 224

  @Option(help: "Architecture: efficientnet-b0…b7 or efficientnet-lite0…lite4.")
  var arch: String = "efficientnet-lite0"

  @Option(help: "Neck resize: area or bilinear_align_corners.")
  var neck: String = NeckResize.area.rawValue

  @Option(help: "Output .npy file.")
  var out: String

  func run() throws {
    guard let resize = NeckResize(rawValue: neck) else {
      throw ValidationError("--neck: expected area or bilinear_align_corners, got '\(neck)'")
    }
    do {
      let net = try EfficientNet(config: try EfficientNetConfig.named(arch), safetensorsPath: weights)
      let extractor = try FeatureExtractor(backbone: net, inputSize: size, resize: resize)
      let inputs = try [image] + (depth.map { [$0] } ?? [])
      let images = try inputs.map { try readPreprocessedImage($0, size: size) }
      let batch = Tensor(shape: [images.count, 3, size, size], data: images.flatMap { $0.data })
      var features = try extractor.features(batch)  // [M, T, C_in]
      if depth == nil { features = features.reshaped(Array(features.shape.dropFirst())) }
      try NPY.write(features, to: out)
      print("wrote \(out): shape \(features.shape) (\(net.config.name), C_in \(net.config.neckChannels))")
    } catch let e as BackboneError {
      throw ValidationError(e.description)
    }
  }
}

/// A preprocessed [3, S, S] image. PNG/TIFF decoding and preprocessing live in ImageIO/Datasets;
/// this verb reads the already-preprocessed array so its output is exactly what the cache stores.
func readPreprocessedImage(_ path: String, size: Int) throws -> Tensor {
  guard path.lowercased().hasSuffix(".npy") else {
    throw BackboneError.badInput(reason: "'\(path)': expected a preprocessed [3, \(size), \(size)] .npy image")
  }
  let t = try NPY.read(path)
  guard t.shape == [3, size, size] else {
    throw BackboneError.badInput(reason: "'\(path)': image has shape \(t.shape), expected [3, \(size), \(size)]")
  }
  return t
}
