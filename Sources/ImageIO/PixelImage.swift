/// An integer image as PNG stores it: 8- or 16-bit samples, interleaved per pixel (HWC, like
/// `Image`). Samples are held as `UInt16` for both depths so one type serves masks, RGB photos and
/// 16-bit depth maps; for 8-bit images every sample is at most 255.
public struct PixelImage: Equatable, Sendable {
  public var width: Int
  public var height: Int
  public var channels: Int
  public var bitDepth: Int
  public var samples: [UInt16]

  public init(width: Int, height: Int, channels: Int, bitDepth: Int, samples: [UInt16]) {
    precondition(bitDepth == 8 || bitDepth == 16, "PixelImage: bit depth must be 8 or 16, got \(bitDepth)")
    precondition((1...4).contains(channels), "PixelImage: channels must be 1...4, got \(channels)")
    precondition(samples.count == width * height * channels,
                 "PixelImage: \(samples.count) samples for \(width)x\(height)x\(channels)")
    self.width = width
    self.height = height
    self.channels = channels
    self.bitDepth = bitDepth
    self.samples = samples
  }

  /// The largest sample value of this depth: 255 or 65535.
  public var maxValue: Int { bitDepth == 8 ? 255 : 65535 }

  /// Samples as floats in [0, 1] (value / maxValue).
  public func normalized() -> Image {
    let scale = 1 / Float(maxValue)
    return Image(width: width, height: height, channels: channels,
                 data: samples.map { Float($0) * scale })
  }

  /// Samples as floats holding the raw integer values (exact: every UInt16 is a Float).
  public func rawValues() -> Image {
    Image(width: width, height: height, channels: channels, data: samples.map { Float($0) })
  }

  /// Quantises an image of values in [0, 1] (clamped; NaN becomes 0) to this bit depth.
  public init(quantizing image: Image, bitDepth: Int) {
    let maxValue = Float(bitDepth == 8 ? 255 : 65535)
    let samples = image.data.map { v -> UInt16 in
      let clamped = v.isNaN ? 0 : min(max(v, 0), 1)
      return UInt16((clamped * maxValue).rounded())
    }
    self.init(width: image.width, height: image.height, channels: image.channels,
              bitDepth: bitDepth, samples: samples)
  }
}
