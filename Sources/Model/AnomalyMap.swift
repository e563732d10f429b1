import Foundation
import Tensor

// MARK: anomaly maps and image scores (SPEC §6.6)

public struct AnomalyMaps {
  /// Per-token anomaly [B, h, w].
  public let tokenMaps: Tensor
  /// Upsampled (and optionally blurred) maps [B, S, S] at the model's input size.
  public let maps: Tensor
  /// Image scores: the max of the k×k average-pooled map.
  public let scores: [Float]
}

/// Euclidean norm of each row of a row-major [rows, C] block.
func rowNorms(_ r: [Float], channels c: Int) -> [Float] {
  (0..<(r.count / c)).map { i in
    var s: Float = 0
    for j in 0..<c { s += r[i * c + j] * r[i * c + j] }
    return s.squareRoot()
  }
}

/// Which residuals make the map and how they are put on one scale.
public struct MapVariant: Hashable, Sendable, CustomStringConvertible {
  public var sources: [MapSource]
  public var normalization: MapNormalization
  public init(sources: [MapSource], normalization: MapNormalization) {
    self.sources = sources.sorted()
    self.normalization = normalization
  }
  public var description: String { sources.map(\.rawValue).joined(separator: "+") + " (" + normalization.rawValue + ")" }
}

/// One batch's residuals (reconstruction − target), [B·T, C_in] row-major per source.
public typealias SourceResiduals = [MapSource: [Float]]

extension IBIUMAD {
  /// The configured map: `model.anomaly_map` with `model.map_normalization`.
  public var mapVariant: MapVariant {
    MapVariant(sources: config.anomalyMap.sources(modalities: config.modalities), normalization: config.mapNormalization)
  }

  /// Every source this model can make a map of.
  public var availableMapSources: [MapSource] {
    (ibfm != nil ? [.fused] : []) + config.modalities.sorted().map { $0 == .rgb ? MapSource.rgb : .depth }
  }

  /// The residuals of `sources` (default: the configured map's), in the units of the targets
  /// (standardised features when `model.standardize_features` is on).
  public func residuals(_ out: ModelOutput, sources: [MapSource]? = nil) -> SourceResiduals {
    var r: SourceResiduals = [:]
    func diff(_ a: Tensor, _ b: Tensor) -> [Float] { zip(a.data, b.data).map { $0 - $1 } }
    for source in sources ?? mapVariant.sources {
      switch source {
      case .fused: r[.fused] = diff(out.fusion!.bottleneck, out.targets[.rgb]!)
      case .rgb: r[.rgb] = diff(out.reconstructions[.rgb]!.reconstruction, out.targets[.rgb]!)
      case .depth: r[.depth] = diff(out.reconstructions[.depth]!.reconstruction, out.targets[.depth]!)
      }
    }
    return r
  }

  /// One source's token scores before the final z-score: ‖r‖ (none, source) or the RMS of the
  /// residual standardised per channel by its good-image statistics (channel).
  func innerScores(_ r: [Float], _ source: MapSource, _ normalization: MapNormalization, statistics: MapStatistics?) -> [Float] {
    let c = config.featureChannels
    guard normalization == .channel, let ch = statistics?.channel[source] else { return rowNorms(r, channels: c) }
    let mean = ch.meanFloats, inv = ch.std(relativeFloor: FeatureStandardizer.relativeFloor).map { 1 / $0 }
    let scale = 1 / Float(c).squareRoot()
    return (0..<(r.count / c)).map { i in
      var s: Float = 0
      for j in 0..<c { let z = (r[i * c + j] - mean[j]) * inv[j]; s += z * z }
      return s.squareRoot() * scale
    }
  }

  /// Per-token anomaly [B·T]: the sum over the variant's sources of each source's score,
  /// z-scored by its statistics on good images unless the normalisation is none.
  /// Without statistics (a model that was never trained through a run) scores stay raw.
  public func tokenScores(_ residuals: SourceResiduals, _ variant: MapVariant, statistics: MapStatistics?) -> [Float] {
    var token: [Float] = []
    for source in variant.sources {
      var s = innerScores(residuals[source]!, source, variant.normalization, statistics: statistics)
      if variant.normalization != .none, let st = statistics?.score[source] {
        let m = Float(st.mean[0]), inv = 1 / st.std(relativeFloor: 0)[0]
        s = s.map { ($0 - m) * inv }
      }
      token = token.isEmpty ? s : zip(token, s).map { $0 + $1 }
    }
    return token
  }

  /// Maps for a forward output (computed without gradient). `blurSigma` nil = no blur;
  /// `poolKernel` nil = input_size / grid (16 at 224 px with stride 16); `variant` nil = the
  /// configured map; `statistics` nil = the model's own (measured at the end of each step).
  public func anomalyMaps(_ out: ModelOutput, blurSigma: Float? = nil, poolKernel: Int? = nil,
                          variant: MapVariant? = nil, statistics: MapStatistics? = nil) -> AnomalyMaps {
    let v = variant ?? mapVariant
    return anomalyMaps(residuals(out, sources: v.sources), variant: v, blurSigma: blurSigma, poolKernel: poolKernel,
                       statistics: statistics ?? mapStatistics)
  }

  /// Maps from residuals already computed (one forward pass can serve several variants).
  public func anomalyMaps(_ residuals: SourceResiduals, variant: MapVariant, blurSigma: Float?, poolKernel: Int?,
                          statistics: MapStatistics?) -> AnomalyMaps {
    let g = config.grid
    let token = tokenScores(residuals, variant, statistics: statistics)
    return AnomalyMaps(tokenMaps: Tensor(shape: [token.count / config.tokens, g, g], data: token), inputSize: config.inputSize,
                       blurSigma: blurSigma, poolKernel: poolKernel)
  }
}

extension AnomalyMaps {
  /// SPEC §6.6's post-processing of per-token anomaly [B, h, w], shared by the model and any
  /// other method scoring tokens (the PatchCore baseline): bilinear upsampling to `inputSize`,
  /// an optional Gaussian blur (`blurSigma` nil or ≤ 0 = none) and the image score, the max of
  /// the k×k average-pooled map (`poolKernel` nil = inputSize / h).
  public init(tokenMaps: Tensor, inputSize s: Int, blurSigma: Float? = nil, poolKernel: Int? = nil) {
    let b = tokenMaps.shape[0], h = tokenMaps.shape[1], w = tokenMaps.shape[2]
    var maps = GradMode.withoutGrad {
      // UniAD upsamples with nn.UpsamplingBilinear2d, i.e. align_corners = True.
      tokenMaps.reshaped([b, 1, h, w]).resizeBilinear(height: s, width: s, alignCorners: true).data
    }
    if let sigma = blurSigma, sigma > 0 {
      for i in 0..<b { gaussianBlur(&maps, offset: i * s * s, height: s, width: s, sigma: sigma) }
    }
    let k = poolKernel ?? (s / h)
    self.tokenMaps = tokenMaps
    self.maps = Tensor(shape: [b, s, s], data: maps)
    scores = (0..<b).map { maxPooledMean(maps, offset: $0 * s * s, height: s, width: s, kernel: k) }
  }
}

/// In-place separable Gaussian blur of one plane, truncated at 4σ, reflecting at the borders
/// (scipy.ndimage.gaussian_filter's defaults).
public func gaussianBlur(_ x: inout [Float], offset: Int, height h: Int, width w: Int, sigma: Float) {
  let radius = Int(4 * sigma + 0.5)
  var kernel = (-radius...radius).map { Foundation.exp(-Float($0 * $0) / (2 * sigma * sigma)) }
  let total = kernel.reduce(0, +)
  kernel = kernel.map { $0 / total }
  func reflect(_ i: Int, _ n: Int) -> Int {
    var i = i
    let period = 2 * n
    i = ((i % period) + period) % period
    return i < n ? i : period - 1 - i
  }
  var tmp = [Float](repeating: 0, count: h * w)
  for r in 0..<h {
    for c in 0..<w {
      var s: Float = 0
      for (j, kv) in kernel.enumerated() { s += kv * x[offset + r * w + reflect(c + j - radius, w)] }
      tmp[r * w + c] = s
    }
  }
  for r in 0..<h {
    for c in 0..<w {
      var s: Float = 0
      for (j, kv) in kernel.enumerated() { s += kv * tmp[reflect(r + j - radius, h) * w + c] }
      x[offset + r * w + c] = s
    }
  }
}

/// Max over all k×k windows (stride 1) of the window mean — UniAD's image score — in O(H·W)
/// with a summed-area table.
public func maxPooledMean(_ x: [Float], offset: Int, height h: Int, width w: Int, kernel k: Int) -> Float {
  let k = max(1, min(k, h, w))
  var sat = [Double](repeating: 0, count: (h + 1) * (w + 1))
  for r in 0..<h {
    var rowSum: Double = 0
    for c in 0..<w {
      rowSum += Double(x[offset + r * w + c])
      sat[(r + 1) * (w + 1) + c + 1] = sat[r * (w + 1) + c + 1] + rowSum
    }
  }
  var best = -Double.infinity
  for r in 0...(h - k) {
    for c in 0...(w - k) {
      let s = sat[(r + k) * (w + 1) + c + k] - sat[r * (w + 1) + c + k] - sat[(r + k) * (w + 1) + c] + sat[r * (w + 1) + c]
      best = max(best, s)
    }
  }
  return Float(best / Double(k * k))
}
