import Foundation
import Testing

@testable import Backbone
import Tensor

/// Repository root, from this file's path.
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let fixtureDir = repoRoot.appendingPathComponent("Tests/Fixtures/backbone")

func fixture(_ name: String) -> String { fixtureDir.appendingPathComponent(name).path }

/// The converted real lite0 weights written by Scripts/fetch_weights.sh.
func lite0WeightsPath() -> String {
  let env = ProcessInfo.processInfo.environment
  let dir = env["IUMAD_WEIGHTS_DIR"] ?? (NSHomeDirectory() + "/.cache/iumad/weights")
  return dir + "/efficientnet-lite0.safetensors"
}

/// Worst |a−b| against the tolerance atol·max|ref| + rtol·|b|; nil when every element passes.
func closeness(_ got: Tensor, _ ref: Tensor, tol: Float = 1e-3) -> String? {
  guard got.shape == ref.shape else { return "shape \(got.shape) vs reference \(ref.shape)" }
  let scale = ref.data.reduce(Float(0)) { max($0, abs($1)) }
  var worst = (excess: Float(-1), index: 0)
  for i in 0..<ref.count {
    let excess = abs(got.data[i] - ref.data[i]) - (tol * scale + tol * abs(ref.data[i]))
    if excess > worst.excess { worst = (excess, i) }
  }
  let i = worst.index
  let msg = "worst element \(i): got \(got.data[i]), reference \(ref.data[i]), |diff| \(abs(got.data[i] - ref.data[i])), max|ref| \(scale)"
  return worst.excess > 0 ? "mismatch: " + msg : nil
}

func temporaryDirectory(_ name: String) throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-backbone-\(name)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

struct ProcessOutput { let status: Int32; let stdout: String; let stderr: String }

func runProcess(_ executable: String, _ args: [String]) throws -> ProcessOutput {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  p.arguments = [executable] + args
  p.currentDirectoryURL = repoRoot
  let out = Pipe(), err = Pipe()
  p.standardOutput = out
  p.standardError = err
  try p.run()
  let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return ProcessOutput(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}
