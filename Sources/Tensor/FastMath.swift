/// e^x in float32 without a libm call (Cephes expf: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a
/// degree-6 polynomial, 2^n through the exponent bits). Relative error ≤ 1e-7 on
/// [−87.3, 88.4]; below, it returns 2^−126 instead of a subnormal or 0. Only float adds,
/// multiplies and bit moves, so loops over arrays auto-vectorise: ~15× libm's exp here, which
/// dominates softmax, the S6 scan and the sigmoid family.
@inlinable @inline(__always)
public func fastExp(_ v: Float) -> Float {
  let (t, er) = expReduced(min(max(v, -87.33654), 88.37626))
  let n = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
  return er * Float(bitPattern: UInt32(bitPattern: (n &+ 127) &<< 23))
}

/// 1 / (1 + e^−x).
@inlinable @inline(__always)
public func fastSigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }

/// `fastExp` on 8 lanes with the same operations, so each lane has the scalar version's bits: for
/// kernels that vectorise across channels by hand.
@inlinable @inline(__always)
public func fastExp(_ v: SIMD8<Float>) -> SIMD8<Float> {
  var x = v
  x.replace(with: -87.33654, where: x .< -87.33654)
  x.replace(with: 88.37626, where: x .> 88.37626)
  let (t, er) = expReduced(x)
  let n = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
  return er * unsafeBitCast((n &+ 127) &<< 23, to: SIMD8<Float>.self)
}

/// Float arithmetic that a Float and a vector of them share: what `expReduced` needs.
public protocol FastMathArithmetic {
  init(broadcast: Float)
  static func + (a: Self, b: Self) -> Self
  static func - (a: Self, b: Self) -> Self
  static func * (a: Self, b: Self) -> Self
  static func + (a: Self, b: Float) -> Self
  static func - (a: Self, b: Float) -> Self
  static func * (a: Self, b: Float) -> Self
}

extension Float: FastMathArithmetic {
  @inlinable public init(broadcast v: Float) { self = v }
}

extension SIMD8: FastMathArithmetic where Scalar == Float {
  @inlinable public init(broadcast v: Float) { self.init(repeating: v) }
}

/// x = n·ln2 + r: t holds n = round(x·log₂e) in its low mantissa bits (1.5·2²³ added), and e^r
/// by the polynomial. The scalar and the lane `fastExp` share it, so their bits agree.
@inlinable @inline(__always)
func expReduced<V: FastMathArithmetic>(_ x: V) -> (t: V, er: V) {
  let t = x * 1.442_695_04 + 12_582_912.0
  let n = t - 12_582_912.0
  let r = x - n * 0.693_359_375 + n * 2.121_944_40e-4
  var p = V(broadcast: 1.987_569_150_0e-4)
  p = p * r + 1.398_199_950_7e-3
  p = p * r + 8.333_451_907_3e-3
  p = p * r + 4.166_579_589_4e-2
  p = p * r + 1.666_666_545_9e-1
  p = p * r + 5.000_000_120_1e-1
  return (t, p * (r * r) + r + 1)
}

/// ln x on 8 lanes for positive normal x (Cephes logf: x = m·2^e with m in [√½, √2), ln m by a
/// degree-9 polynomial in m − 1): ~1 ulp, and a vector loop where libm's is a call per element.
@inlinable @inline(__always)
public func fastLog(_ v: SIMD8<Float>) -> SIMD8<Float> {
  let bits = unsafeBitCast(v, to: SIMD8<Int32>.self)
  var exponent = (bits &>> 23) &- 126
  var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: SIMD8<Float>.self)  // [0.5, 1)
  let low = m .< 0.707_106_781_186_547_524
  exponent.replace(with: exponent &- 1, where: low)
  m.replace(with: m + m, where: low)
  let x = m - 1
  // The exponent as a float through the 1.5·2^23 trick (exact for the exponents of floats).
  let e = unsafeBitCast(exponent &+ 0x4B40_0000, to: SIMD8<Float>.self) - 12_582_912.0
  let z = x * x
  var y = SIMD8<Float>(repeating: 7.037_683_629_2e-2)
  y = y * x - 1.151_461_031_0e-1
  y = y * x + 1.167_699_874_0e-1
  y = y * x - 1.242_014_084_6e-1
  y = y * x + 1.424_932_278_7e-1
  y = y * x - 1.666_805_766_5e-1
  y = y * x + 2.000_071_476_5e-1
  y = y * x - 2.499_999_399_3e-1
  y = y * x + 3.333_333_117_4e-1
  y = y * x * z
  y = y + e * -2.121_944_40e-4
  y = y - z * 0.5
  return x + y + e * 0.693_359_375
}

/// softplus(x) = ln(1 + e^x) on 8 lanes, and its derivative σ(x), from one exponential:
/// ln(1 + z) as ln(u)·z/(u − 1) with u = 1 + z (exact where u rounds to 1, as log1p is for
/// small z); x itself above 20.
@inlinable @inline(__always)
public func fastSoftplus(_ x: SIMD8<Float>) -> (value: SIMD8<Float>, derivative: SIMD8<Float>) {
  let z = fastExp(x), u = 1 + z
  var value = fastLog(u) * (z / (u - 1))
  value.replace(with: z, where: u .== 1)
  value.replace(with: x, where: x .> 20)
  var derivative = z / u
  derivative.replace(with: 1, where: x .> 20)
  return (value, derivative)
}
