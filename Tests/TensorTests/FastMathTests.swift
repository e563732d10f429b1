import Foundation
import Testing

@testable import Tensor

/// The libm-free exp, log and softplus against Foundation's, in double precision.
@Suite("Fast math against libm")
struct FastMathTests {
  /// Inputs spread over [lo, hi], the ends included, in groups of 8 lanes.
  func lanes(_ lo: Float, _ hi: Float, count: Int = 4096) -> [SIMD8<Float>] {
    let xs = (0..<count).map { lo + (hi - lo) * Float($0) / Float(count - 1) }
    return stride(from: 0, to: count, by: 8).map { i in SIMD8<Float>((0..<8).map { xs[min(i + $0, count - 1)] }) }
  }

  @Test func expLanesAreTheScalarBits() {
    for v in lanes(-100, 100) {
      let got = fastExp(v)
      for l in 0..<8 { #expect(got[l].bitPattern == fastExp(v[l]).bitPattern, "x = \(v[l])") }
    }
  }

  @Test func expIsWithinTwoMillionthsOfLibm() {
    for v in lanes(-87, 88) {
      let got = fastExp(v)
      for l in 0..<8 {
        let want = Foundation.exp(Double(v[l]))
        #expect(abs(Double(got[l]) - want) / want < 2e-7, "exp(\(v[l])) = \(got[l]), libm \(want)")
      }
    }
  }

  /// Mantissas on both sides of √½ and exponents from 2^−120 to 2^120.
  @Test func logIsWithinTwoUlpsOfLibm() {
    for v in lanes(0.5, 4) + lanes(1e-36, 1e-30, count: 64) + lanes(1e30, 1e36, count: 64) + [SIMD8(repeating: 1)] {
      let got = fastLog(v)
      for l in 0..<8 {
        let want = Foundation.log(Double(v[l]))
        #expect(abs(Double(got[l]) - want) <= 2 * Double(Float(want).ulp) + 1e-12, "log(\(v[l])) = \(got[l]), libm \(want)")
      }
    }
  }

  /// Δ = softplus(x) spans 1e−4…1e−1 at initialisation (x ≈ −9…−2): relative accuracy there
  /// matters as much as near 0 or 20.
  @Test func softplusAndItsDerivativeMatchLibm() {
    for v in lanes(-90, 40) + lanes(-10, 1) {
      let (value, derivative) = fastSoftplus(v)
      for l in 0..<8 {
        let x = Double(v[l])
        let want = x > 20 ? x : Foundation.log1p(Foundation.exp(x))
        #expect(abs(Double(value[l]) - want) <= 4e-7 * want + 1e-37, "softplus(\(x)) = \(value[l]), libm \(want)")
        let sigma = 1 / (1 + Foundation.exp(-x))
        #expect(abs(Double(derivative[l]) - sigma) <= 4e-7 * sigma + 1e-37, "σ(\(x)) = \(derivative[l]), libm \(sigma)")
      }
    }
  }
}
