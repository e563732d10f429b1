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

  @usableFromInline static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

  @inlinable
  static func mix(_ state: UInt64) -> UInt64 {
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  @inlinable
  public mutating func next() -> UInt64 {
    state &+= Self.increment
    return Self.mix(state)
  }

  @inlinable
  static func unitFloat(_ bits: UInt64) -> Float { Float(bits >> 40) * (1.0 / 16_777_216.0) }

  /// Uniform in [0, 1) with 24 random bits.
  @inlinable
  public mutating func uniform() -> Float { Self.unitFloat(next()) }

  /// The state is a counter: the generator `n` draws ahead, without drawing them.
  @inlinable
  public func advanced(by n: Int) -> RNG {
    var r = self
    r.state &+= UInt64(truncatingIfNeeded: n) &* Self.increment
    return r
  }

  /// What the `i`-th call of `uniform()` from this state (counting from 0) returns, without the
  /// calls before it: kernels draw any element of a mask independently, in parallel, and again
  /// in the backward pass instead of storing the mask.
  @inlinable
  public func uniform(at i: Int) -> Float {
    Self.unitFloat(Self.mix(state &+ UInt64(truncatingIfNeeded: i + 1) &* Self.increment))
  }

  /// `uniform(at: i)` … `uniform(at: i + 7)` in vector lanes, the same bits: SplitMix64's 64-bit
  /// multiplies do not vectorise in a scalar loop, written on lanes they do.
  @inlinable
  public func uniforms8(at i: Int) -> SIMD8<Float> {
    let counters = SIMD8<UInt64>(0, 1, 2, 3, 4, 5, 6, 7) &+ UInt64(truncatingIfNeeded: i + 1)
    var z = state &+ counters &* Self.increment
    z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
    z = z ^ (z &>> 31)
    return SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: z &>> 40)) * (1.0 / 16_777_216.0)
  }

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


/// Where random draws for a tensor op come from: one stream (`RNG`) or one stream per sample
/// (`SampleStreams`).
public protocol RandomSource {
  /// Reserves `count` uniforms in [0, 1) for a tensor laid out batch-major; the kernel reads
  /// them from the returned draws in any order (see `UniformDraws`).
  mutating func uniformDraws(_ count: Int) -> UniformDraws
  /// The generator that draws for sample `index` of a batch of `batch`.
  mutating func withSample<T>(_ index: Int, of batch: Int, _ body: (inout RNG) -> T) -> T
}

extension RandomSource {
  /// `count` uniforms, materialised.
  public mutating func uniforms(_ count: Int) -> [Float] {
    let draws = uniformDraws(count)
    return (0..<count).map { draws[$0] }
  }
}

/// `count` reserved uniforms, computed on demand: element e is draw e mod `chunk` of stream
/// e / `chunk` (one chunk per stream), the same number sequential drawing would give.
public struct UniformDraws: Sendable {
  public let starts: [RNG]
  public let chunk: Int

  @inlinable public subscript(e: Int) -> Float { starts[e / chunk].uniform(at: e % chunk) }
}

extension UniformDraws {
  /// Dropout's factors for the elements of `range` into `out` (out[0] is range's first): 1/(1 − p)
  /// where the uniform is ≥ p, else 0 — `Tensor.dropoutFactor`'s bits, 8 draws at a time
  /// (`RNG.uniforms8`) within each stream's chunk.
  @inlinable
  public func dropoutFactors(in range: Range<Int>, p: Float, into out: UnsafeMutablePointer<Float>) {
    let keep: Float = 1 / (1 - p)
    var e = range.lowerBound
    while e < range.upperBound {
      let s = e / chunk, end = min(range.upperBound, (s + 1) * chunk)
      let rng = starts[s], base = s * chunk, o = out - range.lowerBound
      var i = e
      while i + 8 <= end {
        var f = SIMD8<Float>(repeating: keep)
        f.replace(with: 0, where: rng.uniforms8(at: i - base) .< p)
        UnsafeMutableRawPointer(o + i).storeBytes(of: f, as: SIMD8<Float>.self)
        i += 8
      }
      while i < end { o[i] = rng.uniform(at: i - base) >= p ? keep : 0; i += 1 }
      e = end
    }
  }

  /// `body(tile, factors)` over `range` in tiles of 4096 elements, factors[k] the dropout factor
  /// of element tile.lowerBound + k: the kernels' dropout loops, vectorised.
  @inlinable
  public func withDropoutFactors(in range: Range<Int>, p: Float, _ body: (Range<Int>, UnsafePointer<Float>) -> Void) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 4096) { buffer in
      var lo = range.lowerBound
      while lo < range.upperBound {
        let hi = min(range.upperBound, lo + 4096)
        dropoutFactors(in: lo..<hi, p: p, into: buffer.baseAddress!)
        body(lo..<hi, buffer.baseAddress!)
        lo = hi
      }
    }
  }
}

extension RNG: RandomSource {
  public mutating func uniformDraws(_ count: Int) -> UniformDraws {
    defer { self = advanced(by: count) }
    return UniformDraws(starts: [self], chunk: max(count, 1))
  }
  public mutating func withSample<T>(_ index: Int, of batch: Int, _ body: (inout RNG) -> T) -> T { body(&self) }
}

/// One generator per sample of a batch, named by the sample's identity (e.g. its dataset index
/// and the iteration): a sample's dropout masks and jitter are then the same whichever other
/// samples share its batch, micro-batch or rank — what makes N ranks reproduce one rank.
/// A draw over a batch-major tensor of B samples takes its b-th equal chunk from stream b.
public struct SampleStreams: RandomSource, Sendable {
  public private(set) var streams: [RNG]

  public init(_ streams: [RNG]) {
    check(!streams.isEmpty, "SampleStreams: needs at least one stream")
    self.streams = streams
  }

  public mutating func uniformDraws(_ count: Int) -> UniformDraws {
    let b = streams.count
    check(count % b == 0, "SampleStreams: \(count) draws cannot be split over \(b) samples")
    defer { streams = streams.map { $0.advanced(by: count / b) } }
    return UniformDraws(starts: streams, chunk: max(count / b, 1))
  }

  public mutating func withSample<T>(_ index: Int, of batch: Int, _ body: (inout RNG) -> T) -> T {
    check(batch == streams.count, "SampleStreams: a batch of \(batch) samples drawn from \(streams.count) streams")
    return body(&streams[index])
  }
}
