import Foundation
import ImageIO
import Testing
import TestSupport

@testable import Datasets

/// End to end through the built `iumad` binary: synth writes a dataset, the readers read it back,
/// inspect reports it. Serialized: each test runs child processes on the shared cores.
@Suite(.serialized) struct SynthCLITests {
  static let synthArguments = ["--classes", "3", "--train", "4", "--validation", "2", "--test", "8", "--size", "64"]

  func synth(_ out: String, seed: Int = 5) throws {
    let r = try runIUMAD(["synth", "--out", out, "--seed", String(seed)] + Self.synthArguments)
    try #require(r.status == 0, "synth failed: \(r.stderr)")
  }

  @Test func synthDatasetReadsBackThroughMVTecAndJSONLReaders() throws {
    try withTemporaryDirectory { root in
      try synth(root)
      let scan = DatasetReader.scan(format: .mvtec3d, root: root)
      #expect(scan.problems.isEmpty, "\(scan.problems)")
      #expect(scan.classes == ["box", "disc", "ring"])
      for cls in scan.classes {
        let mine = scan.samples.filter { $0.className == cls }
        #expect(mine.filter { $0.split == .train }.count == 4)
        #expect(mine.filter { $0.split == .validation }.count == 2)
        let test = mine.filter { $0.split == .test }
        #expect(test.count == 8)
        for defect in ["good", "color", "dent", "combined"] {
          #expect(test.filter { $0.defectType == defect }.count == 2, "\(cls) \(defect)")
        }
        #expect(test.allSatisfy { $0.maskPath != nil && ($0.label == 0) == ($0.defectType == "good") })
      }
      let validated = try DatasetValidator.validate(scan, skipBadSamples: false)
      #expect(validated.stats.allSatisfy { $0.width == 64 && $0.height == 64 && $0.validDepthFraction > 0.8 })

      // The same samples through an IUF-style meta file (paths relative to the root).
      var lines: [String: [String]] = [:]
      for s in scan.samples {
        let rel = { (p: String) in String(p.dropFirst(root.count + 1)) }
        var object: [String: Any] = ["filename": rel(s.rgbPath), "filename_xyz": rel(s.depthPath), "label": s.label, "clsname": s.className]
        object["maskname"] = s.maskPath.map(rel) ?? NSNull()
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        lines[s.split == .test ? "test" : "train", default: []].append(String(decoding: data, as: UTF8.self))
      }
      for (name, content) in lines {
        try content.joined(separator: "\n").write(toFile: "\(root)/\(name).jsonl", atomically: true, encoding: .utf8)
      }
      let meta = DatasetReader.scan(format: .jsonl, root: root,
                                    options: DatasetOptions(metaFiles: ["\(root)/train.jsonl", "\(root)/test.jsonl"]))
      #expect(meta.problems.isEmpty, "\(meta.problems)")
      #expect(Set(meta.samples) == Set(scan.samples))

      // The preprocessed tensors have the requested shapes.
      let prepared = try Preprocessor(inputSize: 32).prepare(scan.samples.first { $0.defectType == "combined" }!)
      #expect(prepared.rgb.count == 3 * 32 * 32 && prepared.depth.count == 3 * 32 * 32)
      #expect(prepared.mask.contains(1))
    }
  }

  @Test func inspectReportsTheCountsAskedFor() throws {
    try withTemporaryDirectory { root in
      try synth(root)
      let r = try runIUMAD(["dataset", "inspect", "--data", root])
      #expect(r.status == 0, "\(r.stderr)")
      let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
      #expect(json["classes"] as? [String] == ["box", "disc", "ring"])
      #expect(json["sample_count"] as? Int == 3 * (4 + 2 + 8))
      #expect((json["problems"] as? [String])?.isEmpty == true)
      let perClass = try #require(json["per_class"] as? [String: [String: [String: Any]]])
      for cls in ["box", "disc", "ring"] {
        #expect(perClass[cls]?["train"]?["samples"] as? Int == 4)
        #expect(perClass[cls]?["validation"]?["samples"] as? Int == 2)
        #expect(perClass[cls]?["test"]?["samples"] as? Int == 8)
        #expect(perClass[cls]?["test"]?["defect_types"] as? [String: Int] == ["good": 2, "color": 2, "dent": 2, "combined": 2])
        #expect(perClass[cls]?["train"]?["image_sizes"] as? [String: Int] == ["64x64": 4])
        let fraction = try #require(perClass[cls]?["test"]?["valid_depth_fraction"] as? Double)
        #expect(fraction > 0.8 && fraction < 1)
      }
    }
  }

  @Test func inspectExitsNonZeroAndListsProblems() throws {
    try withTemporaryDirectory { root in
      try synth(root)
      let broken = "\(root)/disc/test/dent/xyz/001.tiff"
      try FileManager.default.removeItem(atPath: broken)
      let r = try runIUMAD(["dataset", "inspect", "--data", root])
      #expect(r.status == 1)
      #expect(r.stderr.contains("\(root)/disc/test/dent/rgb/001.png") && r.stderr.contains(broken))
      let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
      #expect((json["problems"] as? [String])?.count == 1)

      let empty = "\(root)/empty"
      try makeDirectory(empty)
      let e = try runIUMAD(["dataset", "inspect", "--data", empty])
      #expect(e.status == 1 && e.stderr.contains("no samples"))
    }
  }

  @Test func synthIsDeterministicBySeed() throws {
    try withTemporaryDirectory { dir in
      try synth("\(dir)/a", seed: 9)
      try synth("\(dir)/b", seed: 9)
      try synth("\(dir)/c", seed: 10)
      let a = try fileContents(under: "\(dir)/a"), b = try fileContents(under: "\(dir)/b"), c = try fileContents(under: "\(dir)/c")
      #expect(a.count == 3 * (4 * 2 + 2 * 2 + 8 * 3))
      #expect(a == b, "same seed must give identical bytes")
      #expect(Set(a.keys) == Set(c.keys))
      #expect(a.filter { c[$0.key] != $0.value }.count > a.count / 2, "another seed should give other images")
    }
  }

  @Test func userErrorsAreMessagesNotTraps() throws {
    let r = try runIUMAD(["synth", "--out", "/tmp/never-written", "--classes", "0"])
    #expect(r.status != 0 && r.stderr.contains("classes must be"))
    let j = try runIUMAD(["dataset", "inspect", "--data", "/tmp", "--format", "jsonl"])
    #expect(j.status != 0 && j.stderr.contains("--meta"))
    let f = try runIUMAD(["dataset", "inspect", "--data", "/tmp", "--format", "nope"])
    #expect(f.status != 0 && f.stderr.contains("nope"))
  }
}
