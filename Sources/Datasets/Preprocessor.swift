import ImageIO

/// How depth becomes the depth branch's 3-channel input.
public enum DepthMode: String, Sendable, CaseIterable {
  /// The z channel, normalised, replicated to 3 channels (the paper's setting).
  case z
  /// x, y and z, each normalised on its own, as the 3 channels.
  case xyz
}

/// A sample ready for the backbone: CHW float arrays at `size` × `size`.
public struct PreparedSample: Sendable {
  public var sample: Sample
  public var size: Int
  /// 3 × size × size, ImageNet-normalised.
  public var rgb: [Float]
  /// 3 × size × size, ImageNet-normalised.
  public var depth: [Float]
  /// size × size, 1 = defect.
  public var mask: [Float]
}

/// SPEC §5 preprocessing. RGB: antialiased bilinear resize to `inputSize` (aspect ignored, as
/// UniAD does), ImageNet mean/std. Depth: invalid points filled from their nearest valid
/// neighbours, each channel mapped to [0, 1] by the 1st–99th percentiles of its valid points,
/// resized like RGB, then ImageNet mean/std. Masks: nearest resize, binary.
public struct Preprocessor: Sendable {
  public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
  public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

  public var inputSize: Int
  public var depthMode: DepthMode

  public init(inputSize: Int, depthMode: DepthMode = .z) {
    precondition(inputSize > 0, "Preprocessor: input size must be positive, got \(inputSize)")
    self.inputSize = inputSize
    self.depthMode = depthMode
  }

  public func prepare(_ sample: Sample) throws -> PreparedSample {
    let loaded = try SampleLoader.load(sample)
    return PreparedSample(sample: sample, size: inputSize, rgb: rgb(loaded.rgb),
                          depth: try depth(loaded.xyz, path: sample.depthPath), mask: mask(loaded.mask))
  }

  /// RGB image in [0, 1] (HWC) → normalised CHW.
  public func rgb(_ image: Image) -> [Float] {
    Self.imagenetCHW(Resize.bilinear(image, width: inputSize, height: inputSize))
  }

  /// xyz point map (HWC, 3 channels) → normalised CHW depth input.
  public func depth(_ xyz: Image, path: String) throws -> [Float] {
    let z = xyz.zValues
    let valid = z.map(DepthProcessing.isValid)
    guard let source = DepthProcessing.nearestValidSource(valid: valid, width: xyz.width, height: xyz.height) else {
      throw DatasetError.allInvalidDepth(path: path)
    }
    let channels: [Int] = depthMode == .z ? [2] : [0, 1, 2]
    var planes: [[Float]] = channels.map { c in
      let values = xyz.channel(c).data
      return DepthProcessing.normalize(DepthProcessing.fillInvalid(values, source: source), valid: valid)
    }
    if planes.count == 1 { planes = Array(repeating: planes[0], count: 3) }
    var hwc = [Float](repeating: 0, count: xyz.pixelCount * 3)
    for i in 0..<xyz.pixelCount {
      for c in 0..<3 { hwc[3 * i + c] = planes[c][i] }
    }
    let image = Image(width: xyz.width, height: xyz.height, channels: 3, data: hwc)
    return Self.imagenetCHW(Resize.bilinear(image, width: inputSize, height: inputSize))
  }

  /// Binary mask (or nil: all good) → size × size of 0/1.
  public func mask(_ mask: Image?) -> [Float] {
    guard let mask else { return [Float](repeating: 0, count: inputSize * inputSize) }
    return Resize.nearest(mask, width: inputSize, height: inputSize).data.map { $0 != 0 ? 1 : 0 }
  }

  /// HWC 3-channel image → CHW with (v − mean_c) / std_c.
  static func imagenetCHW(_ image: Image) -> [Float] {
    let n = image.pixelCount
    var out = [Float](repeating: 0, count: 3 * n)
    for c in 0..<3 {
      let mean = imagenetMean[c], std = imagenetStd[c]
      for i in 0..<n { out[c * n + i] = (image.data[i * 3 + c] - mean) / std }
    }
    return out
  }
}
