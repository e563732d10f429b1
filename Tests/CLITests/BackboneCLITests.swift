import Foundation
import Testing
import TestSupport

/// `iumad backbone` and `iumad bench backbone` run as child processes.
@Suite("iumad backbone, bench backbone", .serialized)
struct BackboneCLITests {
  let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/backbone")

  var weights: String {
    let env = ProcessInfo.processInfo.environment
    return (env["IUMAD_WEIGHTS_DIR"] ?? (NSHomeDirectory() + "/.cache/iumad/weights")) + "/efficientnet-lite0.safetensors"
  }

  @Test func writesNeckFeaturesNumPyCanLoad() throws {
    #expect(FileManager.default.fileExists(atPath: weights), "missing \(weights): run Scripts/fetch_weights.sh")
    let dir = try temporaryDirectory("backbone")
    let out = dir.appendingPathComponent("f.npy").path
    let img = fixtures.appendingPathComponent("input_0.npy").path
    let r = try runIUMAD(["backbone", "--weights", weights, "--image", img, "--size", "64", "--out", out])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("[16, 192]"))
    // numpy.load reads it and it matches the NumPy reference neck within 1e-3 relative.
    let ref = fixtures.appendingPathComponent("neck_area_0.npy").path
    let check = "import numpy as n, sys; a = n.load(sys.argv[1]); b = n.load(sys.argv[2]); "
      + "assert a.dtype == n.float32 and a.shape == b.shape == (16, 192), (a.shape, b.shape); "
      + "assert (abs(a - b) <= 1e-3 * abs(b).max() + 1e-3 * abs(b)).all(), abs(a - b).max(); print('ok')"
    let py = Process()
    py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    py.arguments = ["python3", "-c", check, out, ref]
    let pipe = Pipe()
    py.standardOutput = pipe
    py.standardError = pipe
    try py.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    py.waitUntilExit()
    #expect(py.terminationStatus == 0, "numpy check: \(text)")

    let both = dir.appendingPathComponent("g.npy").path
    let r2 = try runIUMAD(["backbone", "--weights", weights, "--image", img, "--depth", img, "--size", "64", "--out", both])
    #expect(r2.status == 0 && r2.stdout.contains("[2, 16, 192]"), "stderr: \(r2.stderr)")
  }

  @Test func readsPNGAndXYZTIFFThroughTheTrainingPreprocessing() throws {
    let dir = try temporaryDirectory("backbone-files")
    let data = dir.appendingPathComponent("data").path
    #expect(try runIUMAD(["synth", "--out", data, "--classes", "1", "--train", "2", "--test", "4", "--size", "48", "--seed", "3"]).status == 0)
    let cls = try FileManager.default.contentsOfDirectory(atPath: data).filter { !$0.hasPrefix(".") }.sorted()[0]
    let rgb = "\(data)/\(cls)/train/good/rgb/000.png", xyz = "\(data)/\(cls)/train/good/xyz/000.tiff"
    let out = dir.appendingPathComponent("f.npy").path
    let r = try runIUMAD(["backbone", "--weights", weights, "--image", rgb, "--depth", xyz, "--size", "64", "--out", out])
    #expect(r.status == 0 && r.stdout.contains("[2, 16, 192]"), "stderr: \(r.stderr)")
    let swapped = try runIUMAD(["backbone", "--weights", weights, "--image", xyz, "--size", "64", "--out", out])
    #expect(swapped.status == 1 && swapped.stderr.contains(xyz) && !swapped.stderr.contains("Usage:"), "\(swapped.stderr)")
  }

  @Test func badInputFilesAreErrorsWithoutTheUsageBanner() throws {
    let dir = try temporaryDirectory("backbone-bad")
    let img = fixtures.appendingPathComponent("input_0.npy").path
    let wrongSize = try runIUMAD(["backbone", "--weights", weights, "--image", img, "--size", "96", "--out", dir.appendingPathComponent("x.npy").path])
    #expect(wrongSize.status == 1 && wrongSize.stderr.contains("expected [3, 96, 96]") && !wrongSize.stderr.contains("Usage:"), "\(wrongSize.stderr)")
    let noWeights = try runIUMAD(["backbone", "--weights", "/nonexistent.safetensors", "--image", img, "--size", "64", "--out", "x.npy"])
    #expect(noWeights.status == 1 && noWeights.stderr.contains("/nonexistent.safetensors"), "\(noWeights.stderr)")
  }

  @Test func benchBackbonePrintsAndWritesJSON() throws {
    let dir = try temporaryDirectory("bench-backbone")
    let json = dir.appendingPathComponent("b.json").path
    let r = try runIUMAD(["bench", "backbone", "--archs", "lite0,b4", "--size", "32", "--batch", "1", "--seconds", "0.05", "--json", json])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("images/s") && r.stdout.contains("efficientnet-b4"))
    let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
    let rows = obj?["results"] as? [[String: Any]] ?? []
    #expect(rows.map { $0["c_in"] as? Int } == [192, 272])
    #expect(rows.allSatisfy { ($0["images_per_second"] as? Double ?? 0) > 0 })
  }
}
