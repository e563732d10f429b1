import Tensor

// MARK: MFCN neck: the four stage outputs resized to h×w and concatenated along channels

public enum NeckResize: String, Sendable, CaseIterable {
  /// Area average (adaptive average pooling): every input pixel counts, no aliasing. Default.
  case area
  /// Bilinear with align_corners=True, as UniAD's MFCN upsamples/downsamples (parity runs).
  case bilinearAlignCorners = "bilinear_align_corners"
}

public struct MFCNNeck: Sendable {
  public let height, width: Int
  public let resize: NeckResize

  public init(height: Int, width: Int, resize: NeckResize = .area) {
    self.height = height; self.width = width; self.resize = resize
  }

  /// The neck for input size S: h = w = S/16 (14×14 at 224 px).
  public init(inputSize: Int, resize: NeckResize = .area) {
    self.init(height: inputSize / 16, width: inputSize / 16, resize: resize)
  }

  /// features [N, C_k, H_k, W_k] (k = 1…4) → [N, ΣC_k, h, w].
  public func callAsFunction(_ features: [Tensor]) -> Tensor {
    let resized = features.map { f -> Tensor in
      if f.shape[2] == height && f.shape[3] == width { return f }
      switch resize {
      case .area: return f.adaptiveAvgPool2d(outputHeight: height, outputWidth: width)
      case .bilinearAlignCorners: return f.resizeBilinear(height: height, width: width, alignCorners: true)
      }
    }
    return Tensor.concat(resized, axis: 1)
  }

  /// [N, C, h, w] → [N, T, C] with T = h·w, row-major tokens: F_m ∈ R^{T×C_in} per image.
  public static func tokens(_ maps: Tensor) -> Tensor {
    let (n, c, h, w) = (maps.shape[0], maps.shape[1], maps.shape[2], maps.shape[3])
    return maps.reshaped([n, c, h * w]).permuted([0, 2, 1]).reshaped([n, h * w, c])
  }
}
