import Foundation

/// IUF/UniAD JSONL meta files: one JSON object a line with `filename` (RGB), `filename_xyz`
/// (depth), `label` (0 good, 1 anomalous), `maskname` (optional or null) and `clsname`, paths
/// relative to the image root. A class outside the known list (by default: the image root's
/// top-level directories, as in the MVTec-style trees these files index) is an error.
///
/// The split comes from a `split` key if present, else from a path component (`train`,
/// `validation`/`val`, `test`/`test_public`), else from the meta file's name (`train.jsonl`).
/// The defect type is the folder above `rgb/` when the path has one, else `label_name`.
enum MetaFileLayout {
  static func scan(root: String, metaFiles: [String], knownClasses: [String]?) -> DatasetScan {
    var scan = DatasetScan()
    let known = (knownClasses ?? FileSystem.subdirectories(root)).sorted()
    for meta in metaFiles {
      let path = FileSystem.exists(meta) || meta.hasPrefix("/") ? meta : FileSystem.join(root, meta)
      guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        scan.problems.append(.missingFile(path: path, referencedBy: "the meta file list"))
        continue
      }
      for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { continue }
        do {
          scan.samples.append(try sample(fromLine: trimmed, lineNumber: index + 1, metaPath: path, root: root, known: known))
        } catch let e as DatasetError {
          scan.problems.append(e)
        } catch {
          scan.problems.append(.badMetaLine(path: path, line: index + 1, reason: "\(error)"))
        }
      }
    }
    return scan
  }

  private static func sample(fromLine line: String, lineNumber: Int, metaPath: String, root: String,
                             known: [String]) throws -> Sample {
    func bad(_ reason: String) -> DatasetError { .badMetaLine(path: metaPath, line: lineNumber, reason: reason) }
    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
      throw bad("not a JSON object")
    }
    func string(_ key: String) throws -> String {
      guard let s = object[key] as? String, !s.isEmpty else { throw bad("missing or non-string '\(key)'") }
      return s
    }
    let className = try string("clsname")
    guard known.contains(className) else {
      throw DatasetError.unknownClass(path: metaPath, line: lineNumber, className: className, known: known)
    }
    let filename = try string("filename"), xyzName = try string("filename_xyz")
    guard let label = (object["label"] as? NSNumber)?.intValue, label == 0 || label == 1 else {
      throw bad("'label' must be 0 or 1")
    }
    let referencedBy = "'\(metaPath)' line \(lineNumber)"
    func existing(_ relative: String) throws -> String {
      let full = relative.hasPrefix("/") ? relative : FileSystem.join(root, relative)
      guard FileSystem.exists(full) else { throw DatasetError.missingFile(path: full, referencedBy: referencedBy) }
      return full
    }
    let rgbPath = try existing(filename), depthPath = try existing(xyzName)
    let maskPath = try (object["maskname"] as? String).flatMap { $0.isEmpty ? nil : try existing($0) }
    if label == 1 && maskPath == nil { throw bad("anomalous sample without 'maskname'") }

    let depthKind: DepthKind
    let lower = xyzName.lowercased()
    if lower.hasSuffix(".tiff") || lower.hasSuffix(".tif") {
      depthKind = .xyzTIFF
    } else if lower.hasSuffix("_depth.png") {
      let info = String(depthPath.dropLast("_depth.png".count)) + "_info_depth.yaml"
      guard FileSystem.exists(info) else { throw DatasetError.missingPartner(path: depthPath, partner: info) }
      depthKind = .depthPNG(infoPath: info)
    } else {
      throw bad("'filename_xyz' must be an xyz .tiff or an Eyecandies _depth.png, got '\(xyzName)'")
    }
    guard let split = split(object["split"] as? String, path: filename, metaPath: metaPath) else {
      throw bad("cannot tell the split: no 'split' key, no train/validation/test path component, meta file name names none")
    }
    let components = filename.split(separator: "/").map(String.init)
    let defect: String
    if label == 0 {
      defect = "good"
    } else if let r = components.lastIndex(of: "rgb"), r > 0 {
      defect = components[r - 1]
    } else {
      defect = (object["label_name"] as? String) ?? "anomalous"
    }
    return Sample(className: className, split: split, defectType: defect, label: label, rgbPath: rgbPath,
                  depthPath: depthPath, depthKind: depthKind, maskPath: maskPath)
  }

  static func split(_ explicit: String?, path: String, metaPath: String) -> Split? {
    let names: [String: Split] = ["train": .train, "validation": .validation, "val": .validation, "test": .test, "test_public": .test]
    if let explicit, let s = names[explicit.lowercased()] { return s }
    for component in path.split(separator: "/").reversed() {
      if let s = names[component.lowercased()] { return s }
    }
    let metaName = FileSystem.stem((metaPath as NSString).lastPathComponent).lowercased()
    for (key, s) in names.sorted(by: { $0.key.count > $1.key.count }) where metaName.contains(key) { return s }
    return nil
  }
}
