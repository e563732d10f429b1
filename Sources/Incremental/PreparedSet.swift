import Datasets
import Model
import Tensor

/// Samples ready for the model: preprocessed images, backbone features, labels and masks, kept
/// in memory for one step (training) or one evaluation.
public struct PreparedSet {
  public var samples: [Sample] = []
  /// Class index of each sample in the run's class order.
  public var labels: [Int] = []
  /// Per modality: one [3·S·S] image per sample (Mamba input).
  public var images: [Modality: [[Float]]] = [:]
  /// Per modality: one [T·C_in] feature block per sample (reconstruction target).
  public var features: [Modality: [[Float]]] = [:]
  /// One [S·S] mask per sample (1 = defect); empty for training data.
  public var masks: [[Float]] = []
  public var inputSize: Int
  public var tokens: Int
  public var channels: Int

  public init(inputSize: Int, tokens: Int, channels: Int) {
    self.inputSize = inputSize
    self.tokens = tokens
    self.channels = channels
  }

  public var count: Int { samples.count }

  /// The model input for `indices`, in that order.
  public func batch(_ indices: [Int], modalities: [Modality], withImages: Bool) -> ModelInput {
    var f: [Modality: Tensor] = [:], im: [Modality: Tensor] = [:]
    let s = inputSize
    for m in modalities {
      f[m] = Tensor(shape: [indices.count, tokens, channels], data: indices.flatMap { features[m]![$0] })
      if withImages { im[m] = Tensor(shape: [indices.count, 3, s, s], data: indices.flatMap { images[m]![$0] }) }
    }
    return ModelInput(features: f, images: im, labels: indices.map { labels[$0] })
  }
}
