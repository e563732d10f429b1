import Foundation
import ImageIO
import Testing
import TestSupport

/// Malformed files and impossible settings through the real binary: each must end in exit
/// status 1 (bad input) or 64 (bad flag) with a message naming the file or key — never a trap,
/// never gigabytes allocated, never the usage banner for a data problem.
@Suite("hostile input: clear errors, no traps", .serialized)
struct HostileInputCLITests {
  static let tiny = packageRoot.appendingPathComponent("configs/tiny.yaml").path

  /// Two synthetic classes and a model trained on them (two epochs: only its files matter here).
  static let trained: Result<(data: String, model: String, root: URL), FixtureFailure> = {
    guard let root = try? temporaryDirectory("hostile") else { return .failure(FixtureFailure(description: "no temporary directory")) }
    let data = root.appendingPathComponent("data").path, run = root.appendingPathComponent("run").path
    return synthesize(into: data, ["--classes", "2", "--train", "6", "--test", "4", "--size", "64", "--seed", "41"])
      .flatMap { _ in
        runFixtureStep(["train", "--config", tiny, "--data", data, "--out", run, "--set", "train.schedule=2-0",
                        "--set", "train.epochs_base=2", "--set", "backbone.cache=\(root.path)/cache"])
      }
      .map { _ in (data, run + "/model.safetensors", root) }
  }()

  func fixture() throws -> (data: String, model: String, root: URL) { try Self.trained.get() }

  func expectInputError(_ r: ProcessResult, _ needles: [String], status: Int32 = 1, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == status, "status \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
    for n in needles { #expect(r.stderr.contains(n), "missing '\(n)' in: \(r.stderr)", sourceLocation: sourceLocation) }
    if status == 1 { #expect(!r.stderr.contains("Usage:"), "\(r.stderr)", sourceLocation: sourceLocation) }
  }

  /// Nine levels of nine aliases each: 387 million values once expanded.
  static let yamlBomb: String = {
    var lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in 1...8 { lines.append("l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 9).joined(separator: ", ") + "]") }
    return lines.joined(separator: "\n") + "\n"
  }()

  /// A safetensors file with the given header entries (and `dataBytes` zero bytes of data).
  static func safetensors(_ header: [String: Any], dataBytes: Int, to path: String) throws {
    var json = try JSONSerialization.data(withJSONObject: header)
    while json.count % 8 != 0 { json.append(0x20) }
    var out = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    try (out + json + Data(count: dataBytes)).write(to: URL(fileURLWithPath: path))
  }

  @Test func yamlBombsAreRefusedInConfigsAndModelFiles() throws {
    let dir = try temporaryDirectory("hostile-yaml")
    let bomb = dir.appendingPathComponent("bomb.yaml").path
    try Self.yamlBomb.write(toFile: bomb, atomically: true, encoding: .utf8)
    expectInputError(try runIUMAD(["config", "check", bomb]), [bomb, "refused", "aliases"])
    expectInputError(try runIUMAD(["train", "--config", bomb, "--data", dir.path, "--out", dir.appendingPathComponent("r").path]), [bomb, "refused"])

    let model = dir.appendingPathComponent("model.safetensors").path
    try Self.safetensors(["__metadata__": ["format": "iumad-model/1", "config": Self.yamlBomb, "classes": "[\"a\"]", "threshold": "1", "step": "0"]],
                         dataBytes: 0, to: model)
    expectInputError(try runIUMAD(["infer", "--checkpoint", model, "--input", bomb, "--out", dir.path]), [model, "refused"])
    let deep = dir.appendingPathComponent("deep.yaml").path
    try ("a: " + String(repeating: "[", count: 100_000)).write(toFile: deep, atomically: true, encoding: .utf8)
    expectInputError(try runIUMAD(["config", "check", deep]), [deep, "nested deeper"])
  }

  @Test func safetensorsWithImpossibleShapesAreErrors() throws {
    let dir = try temporaryDirectory("hostile-safetensors")
    for (name, shape, bytes) in [("negative", [-1, -576], 2304), ("overflow", [1 << 40, 1 << 40], 16)] {
      let path = dir.appendingPathComponent("\(name).safetensors").path
      try Self.safetensors(["w": ["dtype": "F32", "shape": shape, "data_offsets": [0, bytes]]], dataBytes: bytes, to: path)
      expectInputError(try runIUMAD(["infer", "--checkpoint", path, "--input", path, "--out", dir.path]), [path, "is impossible"])
      expectInputError(try runIUMAD(["backbone", "--weights", path, "--image", path, "--out", dir.appendingPathComponent("f.npy").path]),
                       [path, "is impossible"])
    }
    // Bad `classes` metadata names the file, not a raw Foundation error.
    let meta = dir.appendingPathComponent("meta.safetensors").path
    try Self.safetensors(["__metadata__": ["format": "iumad-model/1", "config": "seed: 0\n", "classes": "{not json", "threshold": "1", "step": "0"]],
                         dataBytes: 0, to: meta)
    let r = try runIUMAD(["infer", "--checkpoint", meta, "--input", meta, "--out", dir.path])
    expectInputError(r, [meta, "not an IUMAD model file"])
    #expect(!r.stderr.contains("NSCocoaErrorDomain"))
  }

  @Test func impossibleSettingsAreAllListedBeforeAnythingRuns() throws {
    let r = try runIUMAD(["config", "check", Self.tiny,
                          "--set", "train.lr=-1", "--set", "train.clip=-0.5", "--set", "eval.blur_sigma=-2", "--set", "train.weight_decay=-1",
                          "--set", "model.jitter_prob=2", "--set", "train.bucket_mb=0", "--set", "data.classes=a,b,a",
                          "--set", "train.incremental_lr=nan", "--set", "train.step_lr_gamma=inf", "--set", "train.beta1=1",
                          "--set", "model.dropout=1.5"])
    expectInputError(r, ["train.lr: must be greater than 0.0, got -1.0", "train.clip: must be at least 0.0", "eval.blur_sigma: must be at least 0.0",
                         "train.weight_decay: must be at least 0.0", "model.jitter_prob: must be in [0.0, 1.0], got 2.0",
                         "train.bucket_mb: must be greater than 0.0", "data.classes: a listed more than once",
                         "train.incremental_lr: expected a finite number, got 'nan'", "train.step_lr_gamma: expected a finite number",
                         "train.beta1: must be in [0.0, 1.0), got 1.0", Self.tiny])
    #expect(r.stderr.components(separatedBy: "model.dropout").count == 2, "the dropout problem is listed once: \(r.stderr)")
    let schedule = try runIUMAD(["config", "check", Self.tiny, "--set", "train.schedule=3-2x9223372036854775807"])
    expectInputError(schedule, ["train.schedule", "at most 10000"])
    let evaluate = try runIUMAD(["evaluate", "--maps", "/nonexistent", "--data", "/nonexistent", "--protocol", "uniad", "--input-size", "100000"])
    expectInputError(evaluate, ["input size must be in 1...4096, got 100000"], status: 64)
  }

  @Test func inferAndBackboneCheckTheirInputsLikeTraining() throws {
    let f = try fixture()
    let dir = f.root.appendingPathComponent("infer-bad")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let cls = try FileManager.default.contentsOfDirectory(atPath: f.data).filter { !$0.hasPrefix(".") }.sorted()[0]
    let rgb = "\(f.data)/\(cls)/test/good/rgb/000.png", xyz = "\(f.data)/\(cls)/test/good/xyz/000.tiff"
    let ok = try runIUMAD(["infer", "--checkpoint", f.model, "--input", rgb, "--depth", xyz, "--out", dir.path])
    #expect(ok.status == 0, "\(ok.stderr)")

    // (Our TIFF writer makes 1 or 3 channels; the check is `channels == 3`, so one stands for any other count.)
    let one = dir.appendingPathComponent("one.tiff").path, small = dir.appendingPathComponent("small.tiff").path
    try TIFF.write(Image(width: 64, height: 64, channels: 1, fill: 1), to: one)
    try TIFF.write(Image(width: 32, height: 32, channels: 3, fill: 1), to: small)
    for bad in [one] {
      expectInputError(try runIUMAD(["infer", "--checkpoint", f.model, "--input", rgb, "--depth", bad, "--out", dir.path]), [bad, "3 (x, y, z)"])
      expectInputError(try runIUMAD(["backbone", "--image", rgb, "--depth", bad, "--size", "64", "--out", dir.appendingPathComponent("f.npy").path]),
                       [bad, "3 (x, y, z)"])
    }
    expectInputError(try runIUMAD(["infer", "--checkpoint", f.model, "--input", rgb, "--depth", small, "--out", dir.path]), [small, "32x32"])

    // A training checkpoint instead of the model file.
    let ckpt = try FileManager.default.contentsOfDirectory(atPath: f.root.appendingPathComponent("run/checkpoints").path).sorted()[0]
    let ckptPath = f.root.appendingPathComponent("run/checkpoints/\(ckpt)").path
    expectInputError(try runIUMAD(["infer", "--checkpoint", ckptPath, "--input", rgb, "--depth", xyz, "--out", dir.path]),
                     [ckptPath, "training checkpoint", "model.safetensors"])

    // NaN weights: refused at load, naming the tensor.
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: f.model)))
    let headerLength = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
    let (name, entry) = try #require(header.first { $0.key != "__metadata__" && !$0.key.hasPrefix("stats.") })
    let start = 8 + headerLength + ((entry as? [String: Any])?["data_offsets"] as? [Int] ?? [0])[0]
    withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { for k in 0..<4 { bytes[start + k] = $0[k] } }
    let nanModel = dir.appendingPathComponent("nan.safetensors").path
    try Data(bytes).write(to: URL(fileURLWithPath: nanModel))
    expectInputError(try runIUMAD(["infer", "--checkpoint", nanModel, "--input", rgb, "--depth", xyz, "--out", dir.path]),
                     [nanModel, "'\(name)'", "non-finite"])
  }

  @Test func evaluateRefusesNonFiniteMapsNamingTheFile() throws {
    let f = try fixture()
    let maps = f.root.appendingPathComponent("maps-copy").path
    try? FileManager.default.removeItem(atPath: maps)
    try FileManager.default.copyItem(atPath: f.root.appendingPathComponent("run/maps/step-1").path, toPath: maps)
    let ok = try runIUMAD(["evaluate", "--maps", maps, "--data", f.data, "--protocol", "uniad", "--input-size", "64"])
    #expect(ok.status == 0, "\(ok.stderr)")
    let cls = try FileManager.default.contentsOfDirectory(atPath: maps).sorted()[0]
    let file = "\(maps)/\(cls)/test/good/000.tiff"
    for value in [Float.infinity, -Float.infinity, Float.nan] {
      var map = try TIFF.read(file)
      map.data[5] = value
      try TIFF.write(map, to: file)
      expectInputError(try runIUMAD(["evaluate", "--maps", maps, "--data", f.data, "--protocol", "uniad", "--input-size", "64"]),
                       [file, "pixel 5 is", "must be finite"])
    }
  }

  @Test func brokenDatasetsStopTrainingBeforeItStarts() throws {
    let f = try fixture()
    let root = f.root.appendingPathComponent("broken")
    let fm = FileManager.default
    let classes = try fm.contentsOfDirectory(atPath: f.data).filter { !$0.hasPrefix(".") }.sorted()

    // A class without defective test images: inspect and train both say so up front.
    let noDefects = root.appendingPathComponent("no-defects").path
    try fm.createDirectory(atPath: root.path, withIntermediateDirectories: true)
    try fm.copyItem(atPath: f.data, toPath: noDefects)
    for kind in try fm.contentsOfDirectory(atPath: "\(noDefects)/\(classes[0])/test") where kind != "good" {
      try fm.removeItem(atPath: "\(noDefects)/\(classes[0])/test/\(kind)")
    }
    expectInputError(try runIUMAD(["dataset", "inspect", "--data", noDefects]), ["class '\(classes[0])': no defective test samples"])
    let run = root.appendingPathComponent("run-no-defects").path
    let r = try runIUMAD(["train", "--config", Self.tiny, "--data", noDefects, "--out", run, "--set", "train.schedule=2-0",
                          "--set", "backbone.cache=\(root.path)/cache"])
    expectInputError(r, ["class '\(classes[0])' has no defective test samples"])
    #expect(!fm.fileExists(atPath: run + "/model.safetensors"))
    #expect(r.stderr.components(separatedBy: "no defective test samples").count == 2, "printed once: \(r.stderr)")

    // Damaged PNG and TIFF files are named.
    let damaged = root.appendingPathComponent("damaged").path
    try fm.copyItem(atPath: f.data, toPath: damaged)
    let png = "\(damaged)/\(classes[1])/train/good/rgb/000.png", tiff = "\(damaged)/\(classes[1])/train/good/xyz/001.tiff"
    let pngBytes = try Data(contentsOf: URL(fileURLWithPath: png))
    try pngBytes.prefix(pngBytes.count / 2).write(to: URL(fileURLWithPath: png))
    try Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) }).write(to: URL(fileURLWithPath: tiff))
    let d = try runIUMAD(["train", "--config", Self.tiny, "--data", damaged, "--out", root.appendingPathComponent("run-damaged").path,
                          "--set", "train.schedule=2-0", "--set", "backbone.cache=\(root.path)/cache"])
    expectInputError(d, [png, tiff])

    // A file name that is not valid UTF-8 is named as such, not as missing.
    let latin1 = root.appendingPathComponent("latin1").path
    try fm.copyItem(atPath: f.data, toPath: latin1)
    for (dir, ext) in [("\(latin1)/\(classes[0])/train/good/rgb", "png"), ("\(latin1)/\(classes[0])/train/good/xyz", "tiff")] {
      let source = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/000.\(ext)"))
      let path: [CChar] = (Array(dir.utf8) + Array("/".utf8) + [0xFF, 0xFE] + Array(".\(ext)".utf8) + [0]).map { CChar(bitPattern: $0) }
      let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
      try #require(fd >= 0)
      _ = source.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      close(fd)
    }
    expectInputError(try runIUMAD(["dataset", "inspect", "--data", latin1]), ["the file name is not valid UTF-8"])

    // An output folder that is a file is reported before training.
    let blocked = root.appendingPathComponent("run-blocked")
    try fm.createDirectory(at: blocked, withIntermediateDirectories: true)
    fm.createFile(atPath: blocked.appendingPathComponent("checkpoints").path, contents: Data("x".utf8))
    let b = try runIUMAD(["train", "--config", Self.tiny, "--data", f.data, "--out", blocked.path, "--set", "train.schedule=2-0",
                          "--set", "backbone.cache=\(root.path)/cache"])
    expectInputError(b, [blocked.appendingPathComponent("checkpoints").path, "is a file"])
  }
}
