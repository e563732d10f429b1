import Foundation
import ImageIO
import Testing
import TestSupport

@testable import Datasets

/// A fresh temporary directory, removed when the closure returns.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-datasets-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(atPath: dir) }
  return try body(dir)
}

func makeDirectory(_ path: String) throws {
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
}

/// Tiny hand-made MVTec 3D-AD samples: a gradient RGB, an xyz map with z = 0.5 + a ramp.
enum TinyMVTec {
  static func rgb(width: Int = 8, height: Int = 6) -> PixelImage {
    PixelImage(width: width, height: height, channels: 3, bitDepth: 8,
               samples: (0..<(width * height * 3)).map { UInt16(($0 * 37) % 256) })
  }

  static func xyz(width: Int = 8, height: Int = 6, channels: Int = 3, z: ((Int) -> Float)? = nil) -> Image {
    var data = [Float](repeating: 0, count: width * height * channels)
    for i in 0..<(width * height) {
      for c in 0..<channels { data[i * channels + c] = c == 2 ? (z?(i) ?? 0.5 + Float(i) * 0.001) : Float(i % width) * 0.01 }
    }
    return Image(width: width, height: height, channels: channels, data: data)
  }

  static func mask(width: Int = 8, height: Int = 6) -> PixelImage {
    PixelImage(width: width, height: height, channels: 1, bitDepth: 8,
               samples: (0..<(width * height)).map { $0 % 5 == 0 ? 255 : 0 })
  }

  /// Writes `<root>/<cls>/<split>/<defect>/{rgb,xyz[,gt]}/<stem>.*` and returns the folder.
  @discardableResult
  static func write(root: String, cls: String = "cookie", split: String = "test", defect: String = "good",
                    stem: String = "000", rgb: PixelImage = rgb(), xyz: Image = xyz(), mask: PixelImage? = mask()) throws -> String {
    let folder = "\(root)/\(cls)/\(split)/\(defect)"
    for sub in ["rgb", "xyz", "gt"] { try makeDirectory("\(folder)/\(sub)") }
    try PNG.write(rgb, to: "\(folder)/rgb/\(stem).png")
    try TIFF.write(xyz, to: "\(folder)/xyz/\(stem).tiff")
    if let mask { try PNG.write(mask, to: "\(folder)/gt/\(stem).png") }
    return folder
  }
}

// MARK: running the iumad binary

/// Every regular file under `root`, relative path → contents.
func fileContents(under root: String) throws -> [String: Data] {
  var out: [String: Data] = [:]
  let e = FileManager.default.enumerator(atPath: root)!
  while let relative = e.nextObject() as? String {
    let full = "\(root)/\(relative)"
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue {
      out[relative] = try Data(contentsOf: URL(fileURLWithPath: full))
    }
  }
  return out
}
