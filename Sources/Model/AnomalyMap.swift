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

/// Euclidean norm over channels of a − b: [B, T, C] → [B, T].
func residualNorm(_ a: Tensor, _ b: Tensor) -> [Float] {
  let c = a.shape[2], rows = a.count / c
  return (0..<rows).map { r in
    var s: Float = 0
    for j in 0..<c { let d = a.data[r * c + j] - b.data[r * c + j]; s += d * d }
    return s.squareRoot()
  }
}

extension IBIUMAD {
  /// Maps for a forward output (computed without gradient). `blurSigma` nil = no blur;
  /// `poolKernel` nil = input_size / grid (16 at 224 px with stride 16).
  public func anomalyMaps(_ out: ModelOutput, _ input: ModelInput, blurSigma: Float? = nil, poolKernel: Int? = nil) -> AnomalyMaps {
    GradMode.withoutGrad {
      let b = input.batchSize, g = config.grid, s = config.inputSize
      var token = [Float](repeating: 0, count: b * config.tokens)
      func add(_ v: [Float]) { for i in 0..<token.count { token[i] += v[i] } }
      switch config.anomalyMap {
      case .fused, .fusedModal:
        let f = out.fusion!
        add(residualNorm(f.bottleneck, input.features[.rgb]!))
        if config.anomalyMap == .fusedModal {
          add(residualNorm(out.reconstructions[.depth]!.reconstruction, input.features[.depth]!))
        }
      case .modal:
        for m in config.modalities.sorted() { add(residualNorm(out.reconstructions[m]!.reconstruction, input.features[m]!)) }
      }
      return AnomalyMaps(tokenMaps: Tensor(shape: [b, g, g], data: token), inputSize: s, blurSigma: blurSigma, poolKernel: poolKernel)
    }
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
