import Backbone
import Foundation
import Testing
import TestSupport

/// `iumad dataset export` on a synthesised set: the files, their tensors, and what they say.
@Suite("iumad dataset export end to end", .serialized)
struct DatasetExportCLITests {
  static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-export-\(UUID().uuidString)")
  /// 3 classes at 64 px: 4 training, 1 validation and 4 test images each (1 good, 3 defective).
  static let synthesis = synthesize(into: directory.appendingPathComponent("data").path,
                                    ["--classes", "3", "--train", "4", "--validation", "1", "--test", "4", "--size", "64", "--seed", "3"])
  static let tinyConfig = packageRoot.appendingPathComponent("configs/tiny.yaml").path

  func export(_ extra: [String]) throws -> (out: URL, result: ProcessResult) {
    let out = Self.directory.appendingPathComponent("export-\(UUID().uuidString)")
    let r = try runIUMAD(["dataset", "export", "--config", Self.tinyConfig, "--data", try Self.synthesis.get(), "--out", out.path,
                          "--set", "backbone.cache=\(Self.directory.path)/cache"] + extra)
    return (out, r)
  }

  /// tiny.yaml: schedule 2-1, 64 px, 16 tokens of the backbone's channels.
  @Test func stepTwoHoldsItsTrainingSamplesAndEverySeenClassesTests() throws {
    let (out, r) = try export(["--step", "2"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let train = try SafeTensorsFile(path: out.appendingPathComponent("train.safetensors").path)
    let test = try SafeTensorsFile(path: out.appendingPathComponent("test.safetensors").path)
    #expect(train.metadata["step"] == "2" && train.metadata["classes"]?.split(separator: ",").count == 3)
    // Step 2 trains the third class only (train + validation splits), and is tested on all three.
    #expect(train.shape(of: "labels") == [5] && test.shape(of: "labels") == [12])
    #expect(Set(try train.values(of: "labels")) == [2])
    #expect(Set(try test.values(of: "labels")) == [0, 1, 2])
    let anomalous = try test.values(of: "anomalous"), masks = try test.values(of: "masks")
    #expect(anomalous.filter { $0 == 1 }.count == 9)
    #expect(Set(try train.values(of: "anomalous")) == [0])
    // A good test image has an empty mask; the defective ones together have defect pixels.
    let pixels = 64 * 64
    for (i, a) in anomalous.enumerated() where a == 0 { #expect(masks[(i * pixels)..<((i + 1) * pixels)].allSatisfy { $0 == 0 }) }
    #expect(masks.contains(1))
    for m in ["rgb", "depth"] {
      let f = try #require(test.shape(of: "features.\(m)"))
      #expect(f.count == 3 && f[0] == 12 && f[1] == 16, "features.\(m) \(f)")
      #expect(test.shape(of: "images.\(m)") == [12, 3, 64, 64])
      #expect(try test.values(of: "features.\(m)").allSatisfy(\.isFinite))
      #expect(try train.values(of: "images.\(m)").contains { $0 != 0 })
    }
    #expect(r.stdout.contains("train: 5 samples of 1 classes") && r.stdout.contains("test: 12 samples of 3 classes"), "\(r.stdout)")
  }

  @Test func anOutputUnderAFileIsRefusedNamingTheFile() throws {
    let file = Self.directory.appendingPathComponent("a-file")
    try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
    try Data("x".utf8).write(to: file)
    let r = try runIUMAD(["dataset", "export", "--config", Self.tinyConfig, "--data", try Self.synthesis.get(),
                          "--out", file.appendingPathComponent("export").path])
    #expect(r.status != 0)
    #expect(r.stderr.contains("'\(file.path)' is a file, not a directory"), "\(r.stderr)")
  }

  @Test func aStepOutsideTheScheduleIsRefused() throws {
    let (_, r) = try export(["--step", "3"])
    #expect(r.status != 0)
    #expect(r.stderr.contains("--step: schedule 2-1 has steps 1...2, got 3"), "\(r.stderr)")
  }
}
