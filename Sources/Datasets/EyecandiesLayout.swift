import Foundation
import Configuration

/// Eyecandies: `ROOT/<Class>/{train,val,test_public}/data/<id>_image_K.png` (six lighting
/// variants K = 0...5), `<id>_depth.png` (16-bit) with `<id>_info_depth.yaml`, `<id>_mask.png`,
/// and `<id>_metadata.yaml` whose `anomalous` key is the label. Ids are taken from the files as
/// found (train uses 000..., test_public 00...), never assumed to have a fixed width.
enum EyecandiesLayout {
  static let splits: [(directory: String, split: Split)] = [("train", .train), ("val", .validation), ("test_public", .test)]

  static func scan(root: String, imageIndex: Int) -> DatasetScan {
    var scan = DatasetScan()
    for className in FileSystem.subdirectories(root) {
      for (directory, split) in splits {
        let data = FileSystem.join(root, className, directory, "data")
        guard FileSystem.isDirectory(data) else { continue }
        scanDataFolder(data, className: className, split: split, imageIndex: imageIndex, into: &scan)
      }
    }
    return scan
  }

  /// The id of a file named `<id>_image_<k>.png` or `<id>_depth.png`.
  static func sampleID(_ name: String) -> String? {
    for marker in ["_image_", "_depth.png"] {
      if let r = name.range(of: marker), r.lowerBound != name.startIndex, name.hasSuffix(".png") {
        return String(name[..<r.lowerBound])
      }
    }
    return nil
  }

  private static func scanDataFolder(_ data: String, className: String, split: Split, imageIndex: Int,
                                     into scan: inout DatasetScan) {
    let names = Set(FileSystem.list(data))
    let ids = Set(names.compactMap(sampleID)).sorted()
    for id in ids {
      let file = { (suffix: String) in FileSystem.join(data, id + suffix) }
      let rgbPath = file("_image_\(imageIndex).png"), depthPath = file("_depth.png")
      let infoPath = file("_info_depth.yaml"), maskPath = file("_mask.png"), metaPath = file("_metadata.yaml")
      let has = { (suffix: String) in names.contains(id + suffix) }
      guard has("_image_\(imageIndex).png") else {
        let present = has("_depth.png") ? depthPath : (names.filter { $0.hasPrefix(id + "_image_") }.sorted().first.map { FileSystem.join(data, $0) } ?? depthPath)
        scan.problems.append(.missingPartner(path: present, partner: rgbPath))
        continue
      }
      guard has("_depth.png") else { scan.problems.append(.missingPartner(path: rgbPath, partner: depthPath)); continue }
      guard has("_info_depth.yaml") else { scan.problems.append(.missingPartner(path: depthPath, partner: infoPath)); continue }
      var label = 0
      if has("_metadata.yaml") {
        do { label = try anomalousFlag(metaPath) } catch let e as DatasetError { scan.problems.append(e); continue } catch {
          scan.problems.append(.badYAML(path: metaPath, reason: "\(error)"))
          continue
        }
      } else if split == .test {
        scan.problems.append(.missingPartner(path: rgbPath, partner: metaPath))
        continue
      }
      if label == 1 && !has("_mask.png") {
        scan.problems.append(.missingPartner(path: rgbPath, partner: maskPath))
        continue
      }
      scan.samples.append(Sample(className: className, split: split, defectType: label == 1 ? "anomalous" : "good",
                                 label: label, rgbPath: rgbPath, depthPath: depthPath,
                                 depthKind: .depthPNG(infoPath: infoPath), maskPath: has("_mask.png") ? maskPath : nil))
    }
  }

  /// `anomalous: 0/1` (or true/false) from a metadata YAML.
  static func anomalousFlag(_ path: String) throws -> Int {
    let map = try YAMLFile.mapping(path)
    switch map["anomalous"] {
    case let b as Bool: return b ? 1 : 0
    case let i as Int where i == 0 || i == 1: return i
    case nil: throw DatasetError.badYAML(path: path, reason: "no 'anomalous' key")
    case let other?: throw DatasetError.badYAML(path: path, reason: "'anomalous' must be 0/1 or true/false, got '\(other)'")
    }
  }
}

/// Reading the small YAML side files of Eyecandies.
enum YAMLFile {
  static func mapping(_ path: String) throws -> [String: Any] {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
      throw DatasetError.badYAML(path: path, reason: "cannot be read")
    }
    let value: Any?
    do { value = try BoundedYAML.load(text) } catch {
      throw DatasetError.badYAML(path: path, reason: "invalid YAML: \(error)")
    }
    guard let map = value as? [String: Any] else { throw DatasetError.badYAML(path: path, reason: "expected a mapping at the top level") }
    return map
  }

  static func number(_ value: Any?) -> Double? {
    switch value {
    case let d as Double: return d
    case let i as Int: return Double(i)
    case let s as String: return Double(s)
    default: return nil
    }
  }

  /// Eyecandies `<id>_info_depth.yaml`: `normalization: {min: ..., max: ...}`.
  static func depthRange(_ path: String) throws -> (min: Double, max: Double) {
    let map = try mapping(path)
    guard let norm = map["normalization"] as? [String: Any], let lo = number(norm["min"]), let hi = number(norm["max"]) else {
      throw DatasetError.badYAML(path: path, reason: "expected 'normalization: {min: <number>, max: <number>}'")
    }
    guard hi >= lo else { throw DatasetError.badYAML(path: path, reason: "normalization max \(hi) is below min \(lo)") }
    return (lo, hi)
  }
}
