import ImageIO

/// A sample's images as read from disk, checked for consistency, before any resizing.
public struct LoadedSample: Sendable {
  /// RGB in [0, 1], 3 channels (an alpha channel is dropped).
  public var rgb: Image
  /// x, y, z per pixel, 3 channels; invalid points are 0 or NaN in z.
  public var xyz: Image
  /// 1 channel, 1 = defect (any nonzero value in any channel of the file), 0 = good; nil if the
  /// sample has no mask file (training data).
  public var mask: Image?
}

/// Opens a sample's files and checks them: readable, right channel counts, equal sizes, at least
/// one valid depth point. Every failure is a `DatasetError` naming the file and the reason.
public enum SampleLoader {
  /// Focal length (pixels) of the Eyecandies camera, used to back-project its depth maps into
  /// x, y, z like MVTec 3D-AD's point maps (the value published with the dataset).
  public static let eyecandiesFocalLength: Float = 711.11

  public static func load(_ sample: Sample) throws -> LoadedSample {
    let rgb = try readRGB(sample.rgbPath)
    let xyz = try readXYZ(sample)
    try requireSameSize(xyz, path: sample.depthPath, as: rgb, reference: sample.rgbPath)
    if !xyz.zValues.contains(where: DepthProcessing.isValid) {
      throw DatasetError.allInvalidDepth(path: sample.depthPath)
    }
    var mask: Image?
    if let maskPath = sample.maskPath {
      let m = try readMask(maskPath)
      try requireSameSize(m, path: maskPath, as: rgb, reference: sample.rgbPath)
      mask = m
    }
    return LoadedSample(rgb: rgb, xyz: xyz, mask: mask)
  }

  static func readPNG(_ path: String) throws -> PixelImage {
    do { return try PNG.read(path) } catch let e as ImageIOError { throw DatasetError.unreadableImage(e) }
  }

  public static func readRGB(_ path: String) throws -> Image {
    let png = try readPNG(path)
    guard png.channels == 3 || png.channels == 4 else {
      throw DatasetError.wrongChannelCount(path: path, expected: "3 (RGB)", found: png.channels)
    }
    return png.normalized().leadingChannels(3)
  }

  /// Binarised: 1 where any channel is nonzero. Real MVTec 3D-AD masks store defect ids
  /// (255, 254, ...) and Eyecandies masks may be saved as RGB.
  public static func readMask(_ path: String) throws -> Image {
    let png = try readPNG(path)
    var out = [Float](repeating: 0, count: png.width * png.height)
    for i in 0..<out.count {
      for c in 0..<png.channels where png.samples[i * png.channels + c] != 0 { out[i] = 1 }
    }
    return Image(width: png.width, height: png.height, channels: 1, data: out)
  }

  /// An MVTec 3D-AD point map: a float TIFF with exactly x, y, z per pixel.
  public static func readXYZTIFF(_ path: String) throws -> Image {
    let image: Image
    do { image = try TIFF.read(path) } catch let e as ImageIOError { throw DatasetError.unreadableImage(e) }
    guard image.channels == 3 else {
      throw DatasetError.wrongChannelCount(path: path, expected: "3 (x, y, z)", found: image.channels)
    }
    return image
  }

  static func readXYZ(_ sample: Sample) throws -> Image {
    switch sample.depthKind {
    case .xyzTIFF:
      return try readXYZTIFF(sample.depthPath)
    case .depthPNG(let infoPath):
      let png = try readPNG(sample.depthPath)
      guard png.channels == 1 else {
        throw DatasetError.wrongChannelCount(path: sample.depthPath, expected: "1 (depth)", found: png.channels)
      }
      let range = try YAMLFile.depthRange(infoPath)
      return backProject(png, min: Float(range.min), max: Float(range.max))
    }
  }

  /// depth = min + v / maxValue · (max − min), then x = (u − w/2)·z/f, y = (v − h/2)·z/f.
  static func backProject(_ png: PixelImage, min lo: Float, max hi: Float) -> Image {
    let w = png.width, h = png.height
    let f = eyecandiesFocalLength
    var out = [Float](repeating: 0, count: w * h * 3)
    let scale = (hi - lo) / Float(png.maxValue)
    for y in 0..<h {
      for x in 0..<w {
        let i = y * w + x
        let z = lo + Float(png.samples[i]) * scale
        out[3 * i] = (Float(x) - Float(w) / 2) * z / f
        out[3 * i + 1] = (Float(y) - Float(h) / 2) * z / f
        out[3 * i + 2] = z
      }
    }
    return Image(width: w, height: h, channels: 3, data: out)
  }

  public static func requireSameSize(_ image: Image, path: String, as reference: Image, reference refPath: String) throws {
    if image.width != reference.width || image.height != reference.height {
      throw DatasetError.sizeMismatch(path: path, size: image.sizeDescription, expected: reference.sizeDescription,
                                      reference: refPath)
    }
  }
}

extension Image {
  /// The z channel of an xyz point map.
  var zValues: [Float] { (0..<pixelCount).map { data[$0 * channels + 2] } }

  /// The z channel of an xyz point map as a 1-channel image (e.g. to show depth).
  public var zImage: Image { Image(width: width, height: height, channels: 1, data: zValues) }
}
