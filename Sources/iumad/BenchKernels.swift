import ArgumentParser
import Foundation
import Tensor

/// Forward + backward seconds of `body` (mean of `repeats` after one warm-up).
func timeForwardBackward(repeats: Int, _ body: () -> Tensor) -> Double {
  func once() {
    let y = body()
    y.backward(seed: [Float](repeating: 1, count: y.count))
  }
  once()
  let start = DispatchTime.now().uptimeNanoseconds
  for _ in 0..<repeats { once() }
  return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(repeats)
}

/// Largest |a − b| relative to max |b|.
func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
  let scale = Double(b.map(abs).max() ?? 0)
  let diff = zip(a, b).map { Double(abs($0 - $1)) }.max() ?? 0
  return scale > 0 ? diff / scale : diff
}

struct BenchScan: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scan",
    abstract: "S6 selective scan: the fused kernel vs the same recurrence from plain ops (forward + backward).",
    discussion: "Defaults are the paper preset's scans: (batch × 4 sub-grids) sequences of 196 steps, 256 channels, state 16."
  )

  @Option(help: "Sequences (batch × sub-grids).") var batch: Int = 32
  @Option(help: "Sequence length.") var length: Int = 196
  @Option(help: "Channels E.") var channels: Int = 256
  @Option(help: "State size N.") var state: Int = 16
  @Option(help: "Timed repetitions.") var repeats: Int = 3
  @Flag(help: "Apply softplus to Δ inside the kernel, as the model does (delta then holds its pre-activation).")
  var softplus = false
  @OptionGroup var bench: BenchOptions

  func run() throws {
    guard [batch, length, channels, state, repeats].allSatisfy({ $0 > 0 }) else { throw ValidationError("all sizes and --repeats must be positive") }
    bench.applyThreads()
    var rng = RNG(seed: 3)
    func leaf(_ shape: [Int], _ lo: Float, _ hi: Float) -> Tensor {
      let t = Tensor(uniform: shape, lo, hi, rng: &rng)
      t.requiresGrad = true
      return t
    }
    let (bs, l, e, n) = (batch, length, channels, state)
    let u = leaf([bs, l, e], -1, 1), delta = leaf([bs, l, e], 0.01, 0.2), a = leaf([e, n], -2, -0.1)
    let b = leaf([bs, l, n], -1, 1), c = leaf([bs, l, n], -1, 1), d = leaf([e], -1, 1)
    func fusedScan() -> Tensor { Tensor.selectiveScan(u: u, delta: delta, a: a, b: b, c: c, d: d, deltaSoftplus: softplus) }
    func plainScan() -> Tensor { Tensor.selectiveScanReference(u: u, delta: delta, a: a, b: b, c: c, d: d, deltaSoftplus: softplus) }
    let fused = timeForwardBackward(repeats: repeats, fusedScan)
    let plain = timeForwardBackward(repeats: max(1, repeats / 3), plainScan)
    let diff = relativeDifference(fusedScan().data, plainScan().data)
    print(tableRow([("[B, L, E, N]", 20), ("fused ms", 10), ("plain ms", 10), ("speed-up", 9), ("max rel diff", 13)]))
    print(tableRow([("[\(bs), \(l), \(e), \(n)]", 20), (String(format: "%.1f", fused * 1e3), 10), (String(format: "%.1f", plain * 1e3), 10),
                  (String(format: "%.1f×", plain / fused), 9), (String(format: "%.1e", diff), 13)]))
    try bench.write(["bench": "scan", "shape": [bs, l, e, n], "softplus": softplus, "threads": Threading.threads, "fused_seconds": fused,
                     "plain_seconds": plain, "speedup": plain / fused, "max_relative_difference": diff])
  }
}

struct BenchAttention: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attention",
    abstract: "Multi-head attention: the fused kernel vs matmul/softmax/permute ops (forward + backward).",
    discussion: "Cases: the paper's MRN attention (8 × 196 tokens, 256 wide, 8 heads) and Mamba-block attention (8 × 784 tokens, 128 wide, 4 heads)."
  )

  @Option(help: "Batch.") var batch: Int = 8
  @Option(help: "Timed repetitions.") var repeats: Int = 3
  @OptionGroup var bench: BenchOptions

  func run() throws {
    guard batch > 0, repeats > 0 else { throw ValidationError("--batch and --repeats must be positive") }
    bench.applyThreads()
    print(tableRow([("case", 8), ("[B, T, dim, heads]", 20), ("fused ms", 10), ("plain ms", 10), ("speed-up", 9), ("max rel diff", 13)]))
    var rows: [[String: Any]] = []
    for (name, t, dim, heads) in [("mrn", 196, 256, 8), ("mamba", 784, 128, 4)] {
      var rng = RNG(seed: 5)
      let q = Tensor(randn: [batch, t, dim], rng: &rng), k = Tensor(randn: [batch, t, dim], rng: &rng), v = Tensor(randn: [batch, t, dim], rng: &rng)
      for x in [q, k, v] { x.requiresGrad = true }
      let fused = timeForwardBackward(repeats: repeats) { Tensor.attention(q: q, k: k, v: v, heads: heads) }
      let plain = timeForwardBackward(repeats: repeats) { Tensor.attentionReference(q: q, k: k, v: v, heads: heads) }
      let diff = GradMode.withoutGrad {
        relativeDifference(Tensor.attention(q: q, k: k, v: v, heads: heads).data, Tensor.attentionReference(q: q, k: k, v: v, heads: heads).data)
      }
      print(tableRow([(name, 8), ("[\(batch), \(t), \(dim), \(heads)]", 20), (String(format: "%.1f", fused * 1e3), 10),
                    (String(format: "%.1f", plain * 1e3), 10), (String(format: "%.1f×", plain / fused), 9), (String(format: "%.1e", diff), 13)]))
      rows.append(["case": name, "shape": [batch, t, dim, heads], "fused_seconds": fused, "plain_seconds": plain, "speedup": plain / fused,
                   "max_relative_difference": diff])
    }
    try bench.write(["bench": "attention", "threads": Threading.threads, "results": rows])
  }
}
