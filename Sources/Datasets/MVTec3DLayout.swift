/// MVTec 3D-AD: `ROOT/<class>/{train,validation}/good/{rgb/NNN.png, xyz/NNN.tiff}` and
/// `ROOT/<class>/test/<defect|good>/{rgb,xyz,gt}/NNN.*`. A class is any directory holding one of
/// the split directories (others, e.g. a licence file, are ignored). Test samples of a defect
/// type need a `gt` mask; `good` and training samples may lack one (read as all-good).
enum MVTec3DLayout {
  static let splits: [(directory: String, split: Split)] = [("train", .train), ("validation", .validation), ("test", .test)]

  static func scan(root: String) -> DatasetScan {
    var scan = DatasetScan()
    for className in FileSystem.subdirectories(root) {
      for (directory, split) in splits {
        let splitPath = FileSystem.join(root, className, directory)
        guard FileSystem.isDirectory(splitPath) else { continue }
        for defect in FileSystem.subdirectories(splitPath) {
          scanDefectFolder(FileSystem.join(splitPath, defect), className: className, split: split,
                           defect: defect, into: &scan)
        }
      }
    }
    return scan
  }

  private static func filesByStem(_ directory: String, extensions: Set<String>) -> [String: String] {
    var out: [String: String] = [:]
    for name in FileSystem.list(directory) {
      let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
      if extensions.contains(ext) { out[FileSystem.stem(name)] = name }
    }
    return out
  }

  private static func scanDefectFolder(_ folder: String, className: String, split: Split, defect: String,
                                       into scan: inout DatasetScan) {
    let rgbDir = FileSystem.join(folder, "rgb"), xyzDir = FileSystem.join(folder, "xyz"), gtDir = FileSystem.join(folder, "gt")
    let rgb = filesByStem(rgbDir, extensions: ["png"])
    let xyz = filesByStem(xyzDir, extensions: ["tiff", "tif"])
    let gt = filesByStem(gtDir, extensions: ["png"])
    let isGood = defect == "good"
    for stem in rgb.keys.sorted() {
      let rgbPath = FileSystem.join(rgbDir, rgb[stem]!)
      guard let xyzName = xyz[stem] else {
        scan.problems.append(.missingPartner(path: rgbPath, partner: FileSystem.join(xyzDir, stem + ".tiff")))
        continue
      }
      let maskPath = gt[stem].map { FileSystem.join(gtDir, $0) }
      if maskPath == nil && split == .test && !isGood {
        scan.problems.append(.missingPartner(path: rgbPath, partner: FileSystem.join(gtDir, stem + ".png")))
        continue
      }
      scan.samples.append(Sample(className: className, split: split, defectType: defect, label: isGood ? 0 : 1,
                                 rgbPath: rgbPath, depthPath: FileSystem.join(xyzDir, xyzName), depthKind: .xyzTIFF,
                                 maskPath: maskPath))
    }
    for stem in xyz.keys.sorted() where rgb[stem] == nil {
      scan.problems.append(.missingPartner(path: FileSystem.join(xyzDir, xyz[stem]!), partner: FileSystem.join(rgbDir, stem + ".png")))
    }
  }
}
