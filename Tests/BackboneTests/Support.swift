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


