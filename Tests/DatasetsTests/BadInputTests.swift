import Foundation
import ImageIO
import Testing

@testable import Datasets

/// Each kind of broken input gives a `DatasetError` that names the file and the problem, and the
/// validation pass reports it instead of crashing.
@Suite struct BadInputTests {
  /// Scans and validates `root`, expecting exactly `expected` as the problems found.
  func expectProblems(root: String, format: DatasetFormat = .mvtec3d, options: DatasetOptions = DatasetOptions(),
                      _ expected: [DatasetError], mentioning words: [String]) {
    let scan = DatasetReader.scan(format: format, root: root, options: options)
    do {
      _ = try DatasetValidator.validate(scan, skipBadSamples: false)
      Issue.record("validation accepted a broken dataset")
    } catch let error as DatasetValidationError {
      #expect(error.problems == expected)
      for word in words { #expect(error.description.contains(word), "'\(word)' missing from: \(error)") }
    } catch {
      Issue.record("unexpected error \(error)")
    }
  }

  @Test func missingXYZPartner() throws {
    try withTemporaryDirectory { root in
      let folder = try TinyMVTec.write(root: root)
      try FileManager.default.removeItem(atPath: "\(folder)/xyz/000.tiff")
      expectProblems(root: root, [.missingPartner(path: "\(folder)/rgb/000.png", partner: "\(folder)/xyz/000.tiff")],
                     mentioning: ["\(folder)/rgb/000.png", "\(folder)/xyz/000.tiff", "missing"])
    }
  }

  @Test func truncatedPNG() throws {
    try withTemporaryDirectory { root in
      let folder = try TinyMVTec.write(root: root)
      let path = "\(folder)/rgb/000.png"
      let data = try Data(contentsOf: URL(fileURLWithPath: path))
      try data.prefix(data.count - 20).write(to: URL(fileURLWithPath: path))
      expectProblems(root: root, [.unreadableImage(.truncated(path: path))], mentioning: [path, "truncated"])
    }
  }

  @Test func truncatedTIFF() throws {
    try withTemporaryDirectory { root in
      let folder = try TinyMVTec.write(root: root)
      let path = "\(folder)/xyz/000.tiff"
      let data = try Data(contentsOf: URL(fileURLWithPath: path))
      try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
      expectProblems(root: root, [.unreadableImage(.truncated(path: path))], mentioning: [path, "truncated"])
    }
  }

  @Test func tiffWithWrongChannelCount() throws {
    try withTemporaryDirectory { root in
      let folder = try TinyMVTec.write(root: root, xyz: TinyMVTec.xyz(channels: 1))
      let path = "\(folder)/xyz/000.tiff"
      expectProblems(root: root, [.wrongChannelCount(path: path, expected: "3 (x, y, z)", found: 1)],
                     mentioning: [path, "1 channel", "expected 3"])
    }
  }

  @Test func maskOfWrongSize() throws {
    try withTemporaryDirectory { root in
      let folder = try TinyMVTec.write(root: root, defect: "crack", mask: TinyMVTec.mask(width: 4, height: 3))
      expectProblems(root: root, [.sizeMismatch(path: "\(folder)/gt/000.png", size: "4x3", expected: "8x6",
                                                reference: "\(folder)/rgb/000.png")],
                     mentioning: ["\(folder)/gt/000.png", "4x3", "8x6"])
    }
  }

  @Test func allInvalidDepth() throws {
    try withTemporaryDirectory { root in
      let folder = try TinyMVTec.write(root: root, xyz: TinyMVTec.xyz(z: { $0 % 2 == 0 ? 0 : .nan }))
      let path = "\(folder)/xyz/000.tiff"
      expectProblems(root: root, [.allInvalidDepth(path: path)], mentioning: [path, "no valid depth"])
    }
  }

  @Test func unknownClassInMetaFile() throws {
    try withTemporaryDirectory { root in
      try TinyMVTec.write(root: root, cls: "cookie")
      let meta = "\(root)/test.jsonl"
      let good = #"{"filename": "cookie/test/good/rgb/000.png", "filename_xyz": "cookie/test/good/xyz/000.tiff", "label": 0, "clsname": "cookie"}"#
      let bad = #"{"filename": "cookie/test/good/rgb/000.png", "filename_xyz": "cookie/test/good/xyz/000.tiff", "label": 0, "clsname": "pretzel"}"#
      try (good + "\n" + bad + "\n").write(toFile: meta, atomically: true, encoding: .utf8)
      expectProblems(root: root, format: .jsonl, options: DatasetOptions(metaFiles: [meta]),
                     [.unknownClass(path: meta, line: 2, className: "pretzel", known: ["cookie"])],
                     mentioning: [meta, "line 2", "unknown class 'pretzel'"])
    }
  }

  @Test func malformedMetaLinesAreReportedNotFatal() throws {
    try withTemporaryDirectory { root in
      try TinyMVTec.write(root: root, cls: "cookie")
      let meta = "\(root)/train.jsonl"
      try "not json\n{\"filename\": 3}\n".write(toFile: meta, atomically: true, encoding: .utf8)
      let scan = DatasetReader.scan(format: .jsonl, root: root, options: DatasetOptions(metaFiles: [meta]))
      #expect(scan.samples.isEmpty)
      #expect(scan.problems == [.badMetaLine(path: meta, line: 1, reason: "not a JSON object"),
                                .badMetaLine(path: meta, line: 2, reason: "missing or non-string 'clsname'")])
    }
  }

  @Test func emptyAndMissingRoot() throws {
    try withTemporaryDirectory { root in
      expectProblems(root: root, [.emptyRoot(path: root, layout: "mvtec3d")], mentioning: [root, "no samples"])
      let missing = "\(root)/nope"
      expectProblems(root: missing, [.missingRoot(path: missing)], mentioning: [missing, "does not exist"])
    }
  }

  @Test func skippingBadSamplesKeepsTheRestAndListsEachSkippedFile() throws {
    try withTemporaryDirectory { root in
      try TinyMVTec.write(root: root, stem: "000")
      let folder = try TinyMVTec.write(root: root, stem: "001")
      try TinyMVTec.write(root: root, stem: "002", xyz: TinyMVTec.xyz(z: { _ in 0 }))
      let path = "\(folder)/rgb/001.png"
      try Data("garbage".utf8).write(to: URL(fileURLWithPath: path))
      let scan = DatasetReader.scan(format: .mvtec3d, root: root)
      #expect(throws: DatasetValidationError.self) { try DatasetValidator.validate(scan, skipBadSamples: false) }
      let kept = try DatasetValidator.validate(scan, skipBadSamples: true)
      #expect(kept.samples.map { ($0.rgbPath as NSString).lastPathComponent } == ["000.png"])
      #expect(kept.skipped == [.unreadableImage(.wrongFormat(path: path, expected: "PNG")),
                               .allInvalidDepth(path: "\(folder)/xyz/002.tiff")])
    }
  }
}
