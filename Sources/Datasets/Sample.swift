/// Which part of a dataset a sample belongs to.
public enum Split: String, Codable, Sendable, CaseIterable, Comparable {
  case train, validation, test

  public static func < (a: Split, b: Split) -> Bool {
    allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
  }
}

/// How a sample's depth is stored on disk.
public enum DepthKind: Codable, Equatable, Hashable, Sendable {
  /// MVTec 3D-AD: a float32 TIFF with x, y, z per pixel; missing points are 0 or NaN.
  case xyzTIFF
  /// Eyecandies: a 16-bit PNG holding depth normalised to [min, max] given in a YAML file
  /// (`normalization: {min: ..., max: ...}`): depth = min + v / 65535 · (max − min).
  case depthPNG(infoPath: String)
}

/// One dataset item, as found on disk: which files make it up and what it is labelled.
/// Readers only locate files; `SampleLoader` opens and checks them.
public struct Sample: Codable, Equatable, Hashable, Sendable {
  public var className: String
  public var split: Split
  /// "good" for defect-free samples, else the defect folder name (or "anomalous" when the
  /// layout does not name defect types).
  public var defectType: String
  /// 0 good, 1 anomalous.
  public var label: Int
  public var rgbPath: String
  public var depthPath: String
  public var depthKind: DepthKind
  /// The ground-truth mask; nil where the layout has none (training data), read as all-good.
  public var maskPath: String?

  public init(className: String, split: Split, defectType: String, label: Int, rgbPath: String,
              depthPath: String, depthKind: DepthKind, maskPath: String?) {
    self.className = className
    self.split = split
    self.defectType = defectType
    self.label = label
    self.rgbPath = rgbPath
    self.depthPath = depthPath
    self.depthKind = depthKind
    self.maskPath = maskPath
  }
}
