import Foundation
import Tensor

// MARK: backbone + neck for preprocessed images, counting every backbone evaluation

public final class FeatureExtractor {
  public let backbone: EfficientNet
  public let neck: MFCNNeck
  public let inputSize: Int
  private let lock = NSLock()
  private var _evaluations = 0

  public init(backbone: EfficientNet, inputSize: Int, resize: NeckResize = .area) throws {
    guard inputSize > 0, inputSize % 16 == 0 else {
      throw BackboneError.badInputSize(size: inputSize, reason: "must be a positive multiple of 16 (the neck is S/16 × S/16)")
    }
    self.backbone = backbone
    self.inputSize = inputSize
    self.neck = MFCNNeck(inputSize: inputSize, resize: resize)
  }

  /// Images run through the backbone so far (the cache tests prove a second pass adds none).
  public var backboneEvaluations: Int { lock.withLock { _evaluations } }

  /// What makes two extractors' features differ, for cache keys: architecture, weights, size, neck.
  public var identity: String {
    "backbone=\(backbone.config.name);weights=\(backbone.weightsIdentity);padding=\(backbone.padding.rawValue);size=\(inputSize);neck=\(neck.resize.rawValue)"
  }

  /// The four stage outputs of `images` [N, 3, S, S].
  public func stageFeatures(_ images: Tensor) throws -> [Tensor] {
    guard images.rank == 4, images.shape[2] == inputSize, images.shape[3] == inputSize else {
      throw BackboneError.badInput(reason: "expected images [N, 3, \(inputSize), \(inputSize)], got \(images.shape)")
    }
    let f = try backbone.stageFeatures(images)
    lock.withLock { _evaluations += images.shape[0] }
    return f
  }

  /// images [N, 3, S, S] → neck maps [N, C_in, S/16, S/16].
  public func neckMaps(_ images: Tensor) throws -> Tensor {
    let f = try stageFeatures(images)
    return GradMode.withoutGrad { neck(f) }
  }

  /// images [N, 3, S, S] → tokens [N, T, C_in].
  public func features(_ images: Tensor) throws -> Tensor {
    MFCNNeck.tokens(try neckMaps(images))
  }
}
