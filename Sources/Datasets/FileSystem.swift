import Foundation

/// Directory helpers shared by the layout readers. Listings are sorted so every rank, every run,
/// sees samples in the same order.
enum FileSystem {
  static func isDirectory(_ path: String) -> Bool {
    var dir: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
  }

  static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

  /// Names in `path` (not hidden), sorted; empty if it is not a readable directory.
  static func list(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
      .filter { !$0.hasPrefix(".") }
      .sorted()
  }

  static func subdirectories(_ path: String) -> [String] {
    list(path).filter { isDirectory(join(path, $0)) }
  }

  static func join(_ parts: String...) -> String {
    parts.dropFirst().reduce(parts[0]) { base, part in
      base.hasSuffix("/") ? base + part : base + "/" + part
    }
  }

  /// The file name without its last extension.
  static func stem(_ name: String) -> String {
    guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
    return String(name[..<dot])
  }
}
