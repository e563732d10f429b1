import Foundation
import Storage
import Tensor

// MARK: frozen EfficientNet (b0–b7, lite0–lite4) inference up to the stride-16 features

/// One MBConv block with folded batch norms: [expand 1×1] → depthwise k×k → [SE] → project 1×1 (+ skip).
struct MBConvBlock {
  let spec: MBConvSpec
  let expand: FoldedConv?
  let depthwise: FoldedConv
  let se: (reduce: FoldedConv, expand: FoldedConv)?
  let project: FoldedConv

  init(_ layout: MBConvLayout, from src: WeightSource, eps: Double) throws {
    spec = layout.spec
    expand = try layout.expand.map { try FoldedConv($0, from: src, eps: eps) }
    depthwise = try FoldedConv(layout.depthwise, from: src, eps: eps)
    if let r = layout.seReduce, let e = layout.seExpand {
      func biased(_ s: BiasedConvSpec) throws -> FoldedConv {
        FoldedConv(weight: try src.tensor(s.name + ".weight", shape: s.shape),
                   bias: try src.tensor(s.name + ".bias", shape: [s.shape[0]]), stride: 1, groups: 1)
      }
      se = (try biased(r), try biased(e))
    } else {
      se = nil
    }
    project = try FoldedConv(layout.project, from: src, eps: eps)
  }

  /// x [N, in, H, W] → [N, out, H/stride, W/stride].
  func callAsFunction(_ input: Tensor, _ act: Activation, _ mode: ConvPadding) -> Tensor {
    var x = input
    if let expand {
      x = expand(x, mode)
      activate(x, act)
    }
    x = depthwise(x, mode)
    activate(x, act)
    if let se { squeezeExcite(x, se.reduce, se.expand, act) }
    let y = project(x, mode)
    if spec.hasSkip { addInPlace(y, input) }  // drop-connect is training-only
    return y
  }
}

/// x *= sigmoid(expand(act(reduce(mean_hw(x))))), per sample and channel, in place.
func squeezeExcite(_ x: Tensor, _ reduce: FoldedConv, _ expand: FoldedConv, _ act: Activation) {
  let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3]
  var pooled = [Float](repeating: 0, count: n * c)
  x.data.withUnsafeBufferPointer { p in
    for i in 0..<(n * c) {
      var s: Float = 0
      for j in 0..<hw { s += p[i * hw + j] }
      pooled[i] = s / Float(hw)
    }
  }
  let s = reduce(Tensor(shape: [n, c, 1, 1], data: pooled), .symmetric)
  activate(s, act)
  let gate = expand(s, .symmetric).data
  x.data.withUnsafeMutableBufferPointer { p in
    Threading.parallelFor(n * c, grain: 64) { r in
      for i in r {
        let g = 1 / (1 + expf(-gate[i]))
        for j in 0..<hw { p[i * hw + j] *= g }
      }
    }
  }
}

func addInPlace(_ y: Tensor, _ x: Tensor) {
  let xd = x.data
  y.data.withUnsafeMutableBufferPointer { p in
    xd.withUnsafeBufferPointer { q in for i in 0..<p.count { p[i] += q[i] } }
  }
}

public final class EfficientNet {
  public let config: EfficientNetConfig
  public let padding: ConvPadding
  /// Identifies the weights (hash of the file, or the random seed): part of feature-cache keys.
  public let weightsIdentity: String
  let stem: FoldedConv
  let blocks: [MBConvBlock]

  /// Loads and folds the weights named in canonical (lukemelas) naming; a missing or misshapen
  /// tensor throws `BackboneError.missingTensor` / `.shapeMismatch` naming it.
  public init(config: EfficientNetConfig, weights: WeightSource, bnEpsilon: Double, padding: ConvPadding,
              weightsIdentity: String) throws {
    let layout = EfficientNetLayout(config)
    self.config = config
    self.padding = padding
    self.weightsIdentity = weightsIdentity
    stem = try FoldedConv(layout.stem, from: weights, eps: bnEpsilon)
    blocks = try layout.blocks.map { try MBConvBlock($0, from: weights, eps: bnEpsilon) }
  }

  /// Loads a safetensors file written by Scripts/convert_weights.py, taking the batch-norm epsilon
  /// and the padding from its metadata (defaults: 1e-3 and TF "same", the lukemelas/lite values).
  public convenience init(config: EfficientNetConfig, safetensorsPath path: String) throws {
    let file = try SafeTensorsFile(path: path)
    let eps = file.metadata["bn_eps"].flatMap(Double.init) ?? 1e-3
    guard let padding = ConvPadding(rawValue: file.metadata["padding"] ?? "same") else {
      throw BackboneError.malformedSafeTensors(path: path, reason: "metadata padding '\(file.metadata["padding"]!)' is not same or symmetric")
    }
    try self.init(config: config, weights: file, bnEpsilon: eps, padding: padding,
                  weightsIdentity: "fnv1a64:" + hex(FNV1a64.hash(file.bytes)))
  }

  /// Random weights (timing, shape tests): deterministic in `seed`.
  public static func random(config: EfficientNetConfig, seed: UInt64 = 0) -> EfficientNet {
    let src = InMemoryWeights(name: "random weights (seed \(seed))", tensors: EfficientNetLayout(config).randomTensors(seed: seed))
    // The tensors were generated from the same layout, so loading cannot fail.
    return try! EfficientNet(config: config, weights: src, bnEpsilon: 1e-3, padding: .same,
                             weightsIdentity: "random:\(seed)")
  }

  /// images [N, 3, S, S] (preprocessed, S a multiple of 16) → the four feature maps at strides
  /// 2, 4, 8, 16: [N, C_k, S/stride, S/stride].
  public func stageFeatures(_ images: Tensor) throws -> [Tensor] {
    guard images.rank == 4, images.shape[1] == 3 else {
      throw BackboneError.badInput(reason: "backbone input must be [N, 3, S, S], got \(images.shape)")
    }
    let size = images.shape[2]
    guard images.shape[3] == size, size > 0, size % 16 == 0 else {
      throw BackboneError.badInputSize(size: size, reason: "images must be square with a side that is a multiple of 16, got \(images.shape[2])×\(images.shape[3])")
    }
    return GradMode.withoutGrad {
      var x = stem(images, padding)
      activate(x, config.activation)
      var features: [Tensor] = []
      for (i, block) in blocks.enumerated() {
        x = block(x, config.activation, padding)
        if config.featureBlocks.contains(i) { features.append(x) }
      }
      return features
    }
  }
}
