/// Image resizing.
///
/// `bilinear` is antialiased the way PIL's `Image.resize(..., BILINEAR)` is (and torchvision's
/// `antialias=True`): the triangle filter's support grows with the downscale factor, so shrinking
/// averages every source pixel under an output pixel instead of sampling four and aliasing.
/// Upscaling is plain bilinear with half-pixel centres. `nearest` is for masks and labels, where
/// values must not blend.
public enum Resize {
  public static func bilinear(_ image: Image, width: Int, height: Int) -> Image {
    precondition(width > 0 && height > 0, "Resize.bilinear: target \(width)x\(height) must be positive")
    if width == image.width && height == image.height { return image }
    // Separable: resample rows to the new width, then columns to the new height.
    let horizontal = FilterTaps(inputSize: image.width, outputSize: width)
    let vertical = FilterTaps(inputSize: image.height, outputSize: height)
    let c = image.channels
    var mid = [Float](repeating: 0, count: width * image.height * c)
    for y in 0..<image.height {
      for x in 0..<width {
        let (start, weights) = horizontal.taps(x)
        for ch in 0..<c {
          var acc: Float = 0
          for (k, w) in weights.enumerated() { acc += w * image.data[(y * image.width + start + k) * c + ch] }
          mid[(y * width + x) * c + ch] = acc
        }
      }
    }
    var out = [Float](repeating: 0, count: width * height * c)
    for y in 0..<height {
      let (start, weights) = vertical.taps(y)
      for x in 0..<width {
        for ch in 0..<c {
          var acc: Float = 0
          for (k, w) in weights.enumerated() { acc += w * mid[((start + k) * width + x) * c + ch] }
          out[(y * width + x) * c + ch] = acc
        }
      }
    }
    return Image(width: width, height: height, channels: c, data: out)
  }

  /// Nearest neighbour with half-pixel centres: output x samples source floor((x + 0.5) · in/out),
  /// as PIL's NEAREST does.
  public static func nearest(_ image: Image, width: Int, height: Int) -> Image {
    precondition(width > 0 && height > 0, "Resize.nearest: target \(width)x\(height) must be positive")
    if width == image.width && height == image.height { return image }
    let c = image.channels
    let sx = nearestSources(inputSize: image.width, outputSize: width)
    let sy = nearestSources(inputSize: image.height, outputSize: height)
    var out = [Float](repeating: 0, count: width * height * c)
    for y in 0..<height {
      for x in 0..<width {
        let src = (sy[y] * image.width + sx[x]) * c
        for ch in 0..<c { out[(y * width + x) * c + ch] = image.data[src + ch] }
      }
    }
    return Image(width: width, height: height, channels: c, data: out)
  }

  static func nearestSources(inputSize: Int, outputSize: Int) -> [Int] {
    let scale = Double(inputSize) / Double(outputSize)
    return (0..<outputSize).map { min(inputSize - 1, Int((Double($0) + 0.5) * scale)) }
  }
}

/// Per-output-pixel source range and normalised triangle-filter weights along one axis
/// (PIL's `precompute_coeffs` for the bilinear filter).
struct FilterTaps {
  private let starts: [Int]
  private let weights: [[Float]]

  init(inputSize: Int, outputSize: Int) {
    let scale = Double(inputSize) / Double(outputSize)
    let filterScale = max(scale, 1)  // widen the kernel only when shrinking
    let support = filterScale        // the triangle filter has support 1 at scale 1
    var starts: [Int] = []
    var weights: [[Float]] = []
    for i in 0..<outputSize {
      let center = (Double(i) + 0.5) * scale
      let lo = max(Int((center - support + 0.5).rounded(.down)), 0)
      let hi = min(Int((center + support + 0.5).rounded(.down)), inputSize)
      var w: [Double] = []
      for j in lo..<max(hi, lo + 1) {
        let t = abs((Double(j) - center + 0.5) / filterScale)
        w.append(max(0, 1 - t))
      }
      let total = w.reduce(0, +)
      starts.append(lo)
      weights.append(w.map { Float(total > 0 ? $0 / total : 1 / Double(w.count)) })
    }
    self.starts = starts
    self.weights = weights
  }

  func taps(_ i: Int) -> (start: Int, weights: [Float]) { (starts[i], weights[i]) }
}
