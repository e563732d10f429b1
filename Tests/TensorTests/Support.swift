import Foundation
import Testing

@testable import Tensor
import TestSupport

/// Finite-difference check of every input's gradient (see TestSupport.gradientMismatch).
func checkGradient(
  _ op: String, _ inputs: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
  maxChecks: Int = 48, sourceLocation: SourceLocation = #_sourceLocation,
  _ f: ([Tensor]) throws -> Tensor
) rethrows {
  let mismatch = try gradientMismatch(op, inputs, eps: eps, atol: atol, rtol: rtol, maxChecks: maxChecks) { try f(inputs) }
  #expect(mismatch == nil, "\(mismatch ?? "")", sourceLocation: sourceLocation)
}

func expectClose(
  _ a: [Float], _ b: [Float], atol: Float = 1e-5, rtol: Float = 1e-4, _ what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let failure = closenessFailure(a, b, atol: atol, rtol: rtol, what)
  #expect(failure == nil, "\(failure ?? "")", sourceLocation: sourceLocation)
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
