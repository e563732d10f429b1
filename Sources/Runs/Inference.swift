import Backbone
import Datasets
import Foundation
import ImageIO
import Incremental
import Model
import Tensor

/// A trained model (RUN/model.safetensors) applied to new images, one (RGB, xyz) pair at a time:
/// the same preprocessing, backbone and map post-processing as the run's evaluation. What
/// `iumad infer` runs, and what a program embedding IUMAD would call.
public struct Inference {
  public let bundle: ModelBundle
  let model: IBIUMAD
  let extractor: FeatureExtractor
  let preprocessor: Preprocessor

  /// What the model says about one image.
  public struct Result {
    /// The RGB image as read, and its xyz when the model uses depth (for heatmaps).
    public let rgb: Image
    public let xyz: Image?
    /// The anomaly map at the model's input size.
    public let map: Image
    public let score: Float
    public var isAnomalous: Bool { score > threshold }
    public let threshold: Float
  }

  public init(checkpoint: String) throws {
    let (bundle, model) = try ModelBundle.load(checkpoint)
    self.bundle = bundle
    self.model = model
    extractor = try DataPipeline.makeExtractor(bundle.config)
    preprocessor = Preprocessor(inputSize: bundle.config.model.inputSize, depthMode: bundle.config.data.depthMode)
  }

  public var needsDepth: Bool { bundle.config.model.modalities.contains(.depth) }

  /// Scores one image; `xyzPath` is needed when the model uses depth. Throws an error naming
  /// the file when an input cannot be read or the map is not finite.
  public func run(rgbPath: String, xyzPath: String?) throws -> Result {
    let cfg = bundle.config, s = cfg.model.inputSize
    let rgb = try SampleLoader.readRGB(rgbPath)
    var images: [Modality: Tensor] = [.rgb: Tensor(shape: [1, 3, s, s], data: preprocessor.rgb(rgb))]
    var xyzImage: Image?
    if let xyzPath {
      let xyz = try SampleLoader.readXYZTIFF(xyzPath)
      xyzImage = xyz
      try SampleLoader.requireSameSize(xyz, path: xyzPath, as: rgb, reference: rgbPath)
      images[.depth] = Tensor(shape: [1, 3, s, s], data: try preprocessor.depth(xyz, path: xyzPath))
    }
    var features: [Modality: Tensor] = [:]
    for m in cfg.model.modalities {
      guard let image = images[m] else { throw RunSetupError(["\(rgbPath): the model uses \(m.rawValue), give its xyz TIFF"]) }
      features[m] = try extractor.features(image)
    }
    var ctx = ForwardContext.eval
    let input = ModelInput(features: features, images: images, labels: [0])
    let maps = model.anomalyMaps(GradMode.withoutGrad { model.forward(input, &ctx) },
                                 blurSigma: cfg.eval.mapBlurSigma, poolKernel: cfg.eval.mapPoolKernel)
    let score = maps.scores[0]
    guard score.isFinite else { throw RunSetupError(["\(rgbPath): the model scores it \(score) (non-finite anomaly map)"]) }
    return Result(rgb: rgb, xyz: xyzImage, map: Image(width: s, height: s, channels: 1, data: maps.maps.data), score: score,
                  threshold: bundle.threshold)
  }
}
