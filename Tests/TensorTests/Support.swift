import Foundation
import Testing

@testable import Tensor

/// Finite-difference check of every input's gradient, micrograd style: records a test issue
/// naming the op, the input, the element and both values at the first mismatch.
func checkGradient(
  _ op: String, _ inputs: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
  maxChecks: Int = 48, sourceLocation: SourceLocation = #_sourceLocation,
  _ f: ([Tensor]) throws -> Tensor
) rethrows {
  let mismatch = try gradientMismatch(op, inputs, eps: eps, atol: atol, rtol: rtol, maxChecks: maxChecks, f)
  #expect(mismatch == nil, "\(mismatch ?? "")", sourceLocation: sourceLocation)
}

/// The first disagreement between the analytic and the numeric gradient, or nil.
///
/// The scalar probed is L = Σ f(x)·w with fixed random weights w, so every output element counts.
/// Analytic: f(x).backward(seed: w). Numeric: central differences (L(x+ε) − L(x−ε)) / 2ε with the
/// forward accumulated in Double. Inputs larger than `maxChecks` are probed at random positions.
func gradientMismatch(
  _ op: String, _ inputs: [Tensor], eps: Float, atol: Float, rtol: Float, maxChecks: Int,
  _ f: ([Tensor]) throws -> Tensor
) rethrows -> String? {
  for t in inputs { t.requiresGrad = true; t.grad = nil }
  let out = try f(inputs)
  var wrng = RNG(seed: 99)
  let w = (0..<out.count).map { _ in wrng.uniform(-1, 1) }
  out.backward(seed: w)
  let analytic = inputs.map { $0.grad ?? [Float](repeating: 0, count: $0.count) }
  func loss() throws -> Double {
    let y = try GradMode.withoutGrad { try f(inputs) }
    return zip(y.data, w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
  }
  var prng = RNG(seed: 7)
  for (n, t) in inputs.enumerated() {
    let positions = t.count <= maxChecks ? Array(0..<t.count) : (0..<maxChecks).map { _ in prng.int(below: t.count) }
    for i in positions {
      let saved = t.data[i]
      t.data[i] = saved + eps
      let lp = try loss()
      t.data[i] = saved - eps
      let lm = try loss()
      t.data[i] = saved
      let numeric = Float((lp - lm) / Double(2 * eps))
      let a = analytic[n][i]
      if !(abs(a - numeric) <= atol + rtol * max(abs(a), abs(numeric))) {
        return "\(op): input \(n) element \(i): analytic \(a) vs numeric \(numeric)"
      }
    }
  }
  return nil
}

/// Random tensor with entries N(0, std²) from a seeded stream.
func randn(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
  var rng = RNG(seed: seed)
  return Tensor(randn: shape, std: std, rng: &rng)
}

/// Elementwise closeness with a printed worst difference.
func expectClose(
  _ a: [Float], _ b: [Float], atol: Float = 1e-5, rtol: Float = 1e-4, _ what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count) values", sourceLocation: sourceLocation)
  guard a.count == b.count else { return }
  guard !a.isEmpty else { return }
  var worst = 0, worstExcess = -Float.infinity
  for i in 0..<a.count {
    let excess = abs(a[i] - b[i]) - (atol + rtol * abs(b[i]))
    if !(excess <= worstExcess) { worstExcess = excess; worst = i }
  }
  #expect(
    worstExcess <= 0, "\(what): worst at \(worst): \(a[worst]) vs \(b[worst]) (|Δ| = \(abs(a[worst] - b[worst])))",
    sourceLocation: sourceLocation)
}

// MARK: fixtures written by Scripts/make_fixtures_tensor.py

let fixturesDirectory = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

struct ArrayFixture: Decodable {
  let shape: [Int]
  let data: [Float]
  var tensor: Tensor { Tensor(shape: shape, data: data) }
}

func loadTensorReference() throws -> [String: [String: AnyFixtureValue]] {
  let url = fixturesDirectory.appendingPathComponent("tensor/reference.json")
  return try JSONDecoder().decode([String: [String: AnyFixtureValue]].self, from: Data(contentsOf: url))
}

/// One value in a fixture case: an array, a list of arrays, or a plain number/bool/list.
enum AnyFixtureValue: Decodable {
  case array(ArrayFixture), arrays([ArrayFixture]), number(Double), bool(Bool), numbers([Double])

  init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let v = try? c.decode(ArrayFixture.self) { self = .array(v) }
    else if let v = try? c.decode([ArrayFixture].self) { self = .arrays(v) }
    else if let v = try? c.decode(Bool.self) { self = .bool(v) }
    else if let v = try? c.decode(Double.self) { self = .number(v) }
    else { self = .numbers(try c.decode([Double].self)) }
  }

  var tensor: Tensor { if case .array(let a) = self { return a.tensor }; fatalError("fixture value is not an array") }
  var tensors: [Tensor] { if case .arrays(let a) = self { return a.map(\.tensor) }; fatalError("fixture value is not a list of arrays") }
  var int: Int { if case .number(let d) = self { return Int(d) }; fatalError("fixture value is not a number") }
  var float: Float { if case .number(let d) = self { return Float(d) }; fatalError("fixture value is not a number") }
  var bool: Bool { if case .bool(let b) = self { return b }; fatalError("fixture value is not a bool") }
  var ints: [Int] { if case .numbers(let d) = self { return d.map { Int($0) } }; fatalError("fixture value is not a list") }
  var floats: [Float] { if case .numbers(let d) = self { return d.map { Float($0) } }; fatalError("fixture value is not a list") }
}
