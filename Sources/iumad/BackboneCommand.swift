import ArgumentParser
import Backbone
import Datasets
import Foundation
import ImageIO
import Incremental
import Runs
import Tensor

struct BackboneCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "backbone",
    abstract: "Run the frozen EfficientNet + MFCN neck on one image and write its features as .npy.",
    discussion: """
      Writes the neck output F ∈ R^{T×C_in} (T = (S/16)², C_in = 192 for lite0, 272 for b4) as a \
      standard float32 .npy, or [2, T, C_in] (RGB, depth) when --depth is given.
      --image takes a PNG (resized and normalised exactly as for training, SPEC §5) or an
      already-preprocessed [3, S, S] .npy; --depth takes an MVTec 3D-AD xyz TIFF (depth \
      preprocessing of SPEC §5, --depth-mode) or a preprocessed .npy. \
      Weights: a safetensors file from Scripts/convert_weights.py; by default the file training \
      uses (Scripts/fetch_weights.sh fetches lite0 there).
      """
  )

  @Option(help: "Safetensors weights (canonical naming, from Scripts/convert_weights.py; default: training's file for --arch).")
  var weights: String?

  @Option(help: "RGB image: PNG, or a preprocessed [3, S, S] .npy.")
  var image: String

  @Option(help: "Depth: xyz TIFF (MVTec 3D-AD), or a preprocessed [3, S, S] .npy (same backbone as RGB).")
  var depth: String?

  @Option(help: "Depth input: z (replicated to 3 channels) or xyz.")
  var depthMode: String = DepthMode.z.rawValue

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
    guard let mode = DepthMode(rawValue: depthMode) else {
      throw ValidationError("--depth-mode: expected z or xyz, got '\(depthMode)'")
    }
    let pre = Preprocessor(inputSize: size, depthMode: mode)
    do {
      let net = try EfficientNet(config: try EfficientNetConfig.named(arch), safetensorsPath: weights ?? DataPipeline.defaultWeights(arch))
      let extractor = try FeatureExtractor(backbone: net, inputSize: size, resize: resize)
      var images = [try readInput(image, size: size) { Tensor(shape: [3, size, size], data: pre.rgb(try SampleLoader.readRGB($0))) }]
      if let depth {
        images.append(try readInput(depth, size: size) { path in
          Tensor(shape: [3, size, size], data: try pre.depth(try SampleLoader.readXYZTIFF(path), path: path))
        })
      }
      let batch = Tensor(shape: [images.count, 3, size, size], data: images.flatMap { $0.data })
      var features = try extractor.features(batch)  // [M, T, C_in]
      if depth == nil { features = features.reshaped(Array(features.shape.dropFirst())) }
      try NPY.write(features, to: out)
      print("wrote \(out): shape \(features.shape) (\(net.config.name), C_in \(net.config.neckChannels))")
    } catch let e as BackboneError {
      throw InputError(e.description)
    } catch let e as DatasetError {
      throw InputError(e.description)
    }
  }

  /// A preprocessed .npy as is; anything else through `preprocess` (the training preprocessing).
  func readInput(_ path: String, size: Int, preprocess: (String) throws -> Tensor) throws -> Tensor {
    path.lowercased().hasSuffix(".npy") ? try readPreprocessedImage(path, size: size) : try preprocess(path)
  }
}

/// A preprocessed [3, S, S] image stored as .npy.
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
