import Foundation

/// Deterministic random numbers (SplitMix64). The whole state is one UInt64, so it can be saved
/// in a checkpoint and restored exactly.
public struct RNG: Sendable, Equatable {
  public var state: UInt64

  public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

  /// A generator for a named sub-stream: same seed and name give the same stream.
  public init(seed: UInt64, stream: UInt64) {
    self.init(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
    _ = next()
  }

  /// A generator for a named sub-stream (FNV-1a of the name): modules drawing from their own
  /// stream keep their initial values when other modules are added or removed.
  public init(seed: UInt64, name: String) {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
    self.init(seed: seed, stream: h)
  }

  @inlinable
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1) with 24 random bits.
  @inlinable
  public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

  @inlinable
  public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }

  /// Standard normal by Box–Muller (one value per call, for simplicity of state).
  @inlinable
  public mutating func normal() -> Float {
    let u1 = max(Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0), 1e-300)
    let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
  }

  /// Uniform integer in 0..<n.
  @inlinable
  public mutating func int(below n: Int) -> Int {
    check(n > 0, "RNG.int(below:): n must be positive, got \(n)")
    return Int(next() % UInt64(n))
  }

  /// Fisher–Yates permutation of 0..<n.
  public mutating func permutation(_ n: Int) -> [Int] {
    var p = Array(0..<n)
    if n > 1 {
      for i in stride(from: n - 1, to: 0, by: -1) {
        p.swapAt(i, int(below: i + 1))
      }
    }
    return p
  }
}

