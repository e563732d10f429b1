/// e^x in float32 without a libm call (Cephes expf: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a
/// degree-6 polynomial, 2^n through the exponent bits). Relative error ≤ 1e-7 on
/// [−87.3, 88.4]; below, it returns 2^−126 instead of a subnormal or 0. Only float adds,
/// multiplies and bit moves, so loops over arrays auto-vectorise: ~15× libm's exp here, which
/// dominates softmax, the S6 scan and the sigmoid family.
@inlinable @inline(__always)
public func fastExp(_ v: Float) -> Float {
  let x = min(max(v, -87.33654), 88.37626)
  // Adding 1.5·2^23 rounds x·log2(e) to an integer in the low mantissa bits.
  let t = x * 1.442_695_04 + 12_582_912.0
  let n = t - 12_582_912.0
  let ni = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
  let r = x - n * 0.693_359_375 + n * 2.121_944_40e-4
  var p: Float = 1.987_569_150_0e-4
  p = p * r + 1.398_199_950_7e-3
  p = p * r + 8.333_451_907_3e-3
  p = p * r + 4.166_579_589_4e-2
  p = p * r + 1.666_666_545_9e-1
  p = p * r + 5.000_000_120_1e-1
  let e = p * (r * r) + r + 1
  return e * Float(bitPattern: UInt32(bitPattern: (ni &+ 127) &<< 23))
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
  let t = x * 1.442_695_04 + 12_582_912.0
  let n = t - 12_582_912.0
  let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
  let r = x - n * 0.693_359_375 + n * 2.121_944_40e-4
  var p = SIMD8<Float>(repeating: 1.987_569_150_0e-4)
  p = p * r + 1.398_199_950_7e-3
  p = p * r + 8.333_451_907_3e-3
  p = p * r + 4.166_579_589_4e-2
  p = p * r + 1.666_666_545_9e-1
  p = p * r + 5.000_000_120_1e-1
  let e = p * (r * r) + r + 1
  return e * unsafeBitCast((ni &+ 127) &<< 23, to: SIMD8<Float>.self)
}
