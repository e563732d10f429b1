import Datasets
import Foundation
import ImageIO

/// Anomaly maps on disk in the MVTec 3D-AD layout: `ROOT/<class>/test/<defect>/<NNN>.tiff`, one
/// float32 single-channel TIFF per test image at the image's original size, NNN being the stem of
/// the image's RGB file. `iumad` writes its maps this way and `iumad evaluate` (or MVTec's own
/// evaluation code) reads them.
public enum AnomalyMapFiles {
  public static func path(root: String, sample: Sample) -> String {
    let stem = URL(fileURLWithPath: sample.rgbPath).deletingPathExtension().lastPathComponent
    // Joined as strings, not through URL, so messages show the root as the user typed it.
    let base = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    return [base, sample.className, "test", sample.defectType, stem + ".tiff"].joined(separator: "/")
  }

  /// Writes `map` (1 channel, e.g. at the model's input size) for `sample`, bilinearly resized to
  /// the original image size; creates the folders. Returns the path written.
  @discardableResult
  public static func write(_ map: Image, originalWidth: Int, originalHeight: Int, root: String, sample: Sample) throws -> String {
    guard map.channels == 1 else {
      throw MetricsError.invalidArgument(what: "anomaly map of '\(sample.rgbPath)'", reason: "must have 1 channel, got \(map.channels)")
    }
    let file = path(root: root, sample: sample)
    try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: file).deletingLastPathComponent().path,
                                            withIntermediateDirectories: true)
    try TIFF.write(Resize.bilinear(map, width: originalWidth, height: originalHeight), to: file)
    return file
  }

  /// Reads the map of `sample` under `root`: `MetricsError.missingMap` names the file when it is
  /// absent, `.badMap` when it does not hold exactly one channel or holds a non-finite value.
  public static func read(root: String, sample: Sample) throws -> Image {
    let file = path(root: root, sample: sample)
    guard FileManager.default.fileExists(atPath: file) else {
      throw MetricsError.missingMap(path: file, sample: sample.rgbPath)
    }
    let map = try TIFF.read(file)
    guard map.channels == 1 else {
      throw MetricsError.badMap(path: file, reason: "has \(map.channels) channels, expected 1 (one float32 score per pixel)")
    }
    // NaN cannot be ranked and ±inf ties every pixel it touches: neither is a score.
    if let bad = map.data.firstIndex(where: { !$0.isFinite }) {
      throw MetricsError.badMap(path: file, reason: "pixel \(bad) is \(map.data[bad]); scores must be finite")
    }
    return map
  }
}
