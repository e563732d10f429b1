import Foundation
import Testing
import TestSupport

@testable import Backbone
import Tensor

/// Scripts/convert_weights.py on checkpoints written torch.save-style by the fixture script.
@Suite("convert_weights.py (no torch)", .serialized)
struct ConverterTests {
  func convert(_ checkpoint: String) throws -> (ProcessResult, String) {
    let out = try temporaryDirectory("convert").appendingPathComponent("w.safetensors").path
    return (try runProcess("python3", ["Scripts/convert_weights.py", fixture(checkpoint), out], directory: repoRoot), out)
  }

  func expectMatches(_ checkpoint: String, expected: String, naming: String) throws {
    let (r, out) = try convert(checkpoint)
    #expect(r.status == 0, "converter failed: \(r.stderr)")
    let file = try SafeTensorsFile(path: out)
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture(expected)))) as! [String: [String: Any]]
    #expect(file.names == json.keys.sorted(), "tensor names")
    for (name, entry) in json {
      let shape = entry["shape"] as! [Int], values = (entry["values"] as! [Double]).map { Float($0) }
      let t = try file.tensor(name, shape: shape)
      #expect(t.data == values, "\(checkpoint): \(name)")
    }
    #expect(file.metadata["source_naming"] == naming)
  }

  @Test func legacyFormatWithViewsSharedAndHalfStorages() throws {
    try expectMatches("ckpt_legacy.pth", expected: "expected_legacy.json", naming: "lukemelas")
  }

  @Test func zipFormatWithTimmNames() throws {
    try expectMatches("ckpt_zip.pth", expected: "expected_zip.json", naming: "timm")
    let (_, out) = try convert("ckpt_zip.pth")
    let meta = try SafeTensorsFile(path: out).metadata
    #expect(meta["bn_eps"] == "1e-05" && meta["padding"] == "symmetric")
  }

  @Test func unsupportedOpcodeFailsClearly() throws {
    let (r, out) = try convert("bad_opcode.pth")
    #expect(r.status != 0)
    #expect(r.stderr.contains("unsupported pickle opcode EXT1") && r.stderr.contains("bad_opcode.pth"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: out))
  }

  @Test func forbiddenGlobalFailsClearly() throws {
    let (r, _) = try convert("bad_global.pth")
    #expect(r.status != 0)
    #expect(r.stderr.contains("forbidden global 'os.system'"), "\(r.stderr)")
  }
}
