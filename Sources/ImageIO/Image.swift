/// A floating-point image, samples interleaved per pixel (HWC): the sample of channel `c` at
/// column `x`, row `y` is `data[(y * width + x) * channels + c]`. HWC is the order PNG and
/// contiguous TIFF files store, so reading and writing need no transposition; the datasets
/// convert to CHW only once, at the end of preprocessing.
public struct Image: Equatable, Sendable {
  public var width: Int
  public var height: Int
  public var channels: Int
  public var data: [Float]

  public init(width: Int, height: Int, channels: Int, data: [Float]) {
    precondition(width >= 0 && height >= 0 && channels >= 1,
                 "Image: invalid shape \(width)x\(height)x\(channels)")
    precondition(data.count == width * height * channels,
                 "Image: \(data.count) samples for \(width)x\(height)x\(channels)")
    self.width = width
    self.height = height
    self.channels = channels
    self.data = data
  }

  public init(width: Int, height: Int, channels: Int, fill: Float = 0) {
    self.init(width: width, height: height, channels: channels,
              data: [Float](repeating: fill, count: width * height * channels))
  }

  public var pixelCount: Int { width * height }

  /// "WxH", the form used in messages and summaries.
  public var sizeDescription: String { "\(width)x\(height)" }

  @inlinable
  public subscript(x x: Int, y y: Int, c c: Int) -> Float {
    get { data[(y * width + x) * channels + c] }
    set { data[(y * width + x) * channels + c] = newValue }
  }

  /// One channel as a single-channel image.
  public func channel(_ c: Int) -> Image {
    precondition(c >= 0 && c < channels, "Image.channel: \(c) out of 0..<\(channels)")
    var out = [Float](repeating: 0, count: pixelCount)
    for i in 0..<pixelCount { out[i] = data[i * channels + c] }
    return Image(width: width, height: height, channels: 1, data: out)
  }

  /// The first `count` channels (e.g. RGB out of RGBA).
  public func leadingChannels(_ count: Int) -> Image {
    precondition(count >= 1 && count <= channels, "Image.leadingChannels: \(count) of \(channels)")
    if count == channels { return self }
    var out = [Float](repeating: 0, count: pixelCount * count)
    for i in 0..<pixelCount {
      for c in 0..<count { out[i * count + c] = data[i * channels + c] }
    }
    return Image(width: width, height: height, channels: count, data: out)
  }
}
