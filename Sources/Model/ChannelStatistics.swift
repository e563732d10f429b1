import Tensor

// MARK: per-channel statistics of features and residuals

/// Count, mean and variance of each of `channels` columns, accumulated row by row in Double
/// (so the result does not depend on how rows were batched) and mergeable across data sets
/// (Chan et al.'s pooled variance), which lets an incremental step add its classes' statistics
/// to those of earlier steps without their data.
public struct ChannelStatistics: Equatable, Sendable {
  public private(set) var count: Double = 0
  public private(set) var mean: [Double]
  /// Sum of squared deviations from the mean (M2); variance = m2 / count.
  public private(set) var m2: [Double]

  public init(channels: Int) {
    mean = [Double](repeating: 0, count: channels)
    m2 = [Double](repeating: 0, count: channels)
  }

  public var channels: Int { mean.count }

  /// Adds the rows of a row-major block of `channels`-wide rows.
  public mutating func add(rows x: UnsafeBufferPointer<Float>) {
    let c = channels
    precondition(x.count % c == 0, "ChannelStatistics.add: \(x.count) values are not rows of \(c)")
    let n = x.count / c
    guard n > 0 else { return }
    // The block's own mean and M2, then one merge: exact up to rounding, and cheap.
    var bm = [Double](repeating: 0, count: c), b2 = [Double](repeating: 0, count: c)
    for r in 0..<n { for j in 0..<c { bm[j] += Double(x[r * c + j]) } }
    for j in 0..<c { bm[j] /= Double(n) }
    for r in 0..<n { for j in 0..<c { let d = Double(x[r * c + j]) - bm[j]; b2[j] += d * d } }
    merge(count: Double(n), mean: bm, m2: b2)
  }

  public mutating func add(rows x: [Float]) { x.withUnsafeBufferPointer { add(rows: $0) } }

  /// Pools `other` into these statistics.
  public mutating func merge(_ other: ChannelStatistics) { merge(count: other.count, mean: other.mean, m2: other.m2) }

  mutating func merge(count nb: Double, mean mb: [Double], m2 m2b: [Double]) {
    precondition(mb.count == channels, "ChannelStatistics.merge: \(mb.count) channels into \(channels)")
    guard nb > 0 else { return }
    let na = count, n = na + nb
    for j in 0..<channels {
      let delta = mb[j] - mean[j]
      mean[j] += delta * nb / n
      m2[j] += m2b[j] + delta * delta * na * nb / n
    }
    count = n
  }

  /// Population standard deviation of each channel, with a floor of `relativeFloor` × the
  /// root-mean variance over channels: a channel that is (nearly) constant on the data it was
  /// measured on must not blow up small deviations elsewhere into huge standardised values.
  public func std(relativeFloor: Double) -> [Float] {
    guard count > 0 else { return [Float](repeating: 1, count: channels) }
    let variances = m2.map { $0 / count }
    let floor = relativeFloor * relativeFloor * variances.reduce(0, +) / Double(max(channels, 1))
    return variances.map { Float(max($0, floor, 1e-12).squareRoot()) }
  }

  public var meanFloats: [Float] { mean.map(Float.init) }

  // MARK: storage (checkpoints, model files)

  /// Lossless flat form [count, mean…, m2…]: each Double's 64 bits as three 22-bit integers,
  /// each exact in a Float (a resumed run must standardise with the very same bits).
  public var packed: [Float] {
    ([count] + mean + m2).flatMap { d -> [Float] in
      let bits = d.bitPattern
      return [Float(bits >> 44), Float((bits >> 22) & 0x3F_FFFF), Float(bits & 0x3F_FFFF)]
    }
  }

  /// The inverse of `packed`; nil when the length or a value does not fit `channels`.
  public init?(packed p: [Float], channels: Int) {
    // Slots hold bits 44…63 (20 bits), 22…43 and 0…21 (22 bits each): anything else is corrupt.
    guard p.count == 3 * (1 + 2 * channels),
          p.indices.allSatisfy({ i in p[i] >= 0 && p[i] < (i % 3 == 0 ? 1_048_576 : 4_194_304) && p[i] == p[i].rounded() })
    else { return nil }
    let d = stride(from: 0, to: p.count, by: 3).map { i in
      Double(bitPattern: UInt64(p[i]) << 44 | UInt64(p[i + 1]) << 22 | UInt64(p[i + 2]))
    }
    guard d[0] >= 0, d.allSatisfy(\.isFinite), d[(channels + 1)...].allSatisfy({ $0 >= 0 }) else { return nil }
    count = d[0]
    mean = Array(d[1...channels])
    m2 = Array(d[(channels + 1)...])
  }
}

/// The per-channel affine map x ↦ (x − μ)/σ of one modality's backbone features (SPEC §6.6's
/// revision: the MRN reconstructs standardised features, and maps are measured in those units).
public struct FeatureStandardizer: Equatable, Sendable {
  public let mean: [Float]
  public let invStd: [Float]

  /// σ floor: 1 % of the root-mean channel variance (see `ChannelStatistics.std`).
  public static let relativeFloor = 0.01

  public init(_ s: ChannelStatistics) {
    mean = s.meanFloats
    invStd = s.std(relativeFloor: Self.relativeFloor).map { 1 / $0 }
  }

  /// [.., C] → the same shape, standardised per channel (a constant: no gradient).
  public func apply(_ x: Tensor) -> Tensor {
    let c = mean.count
    check(x.shape.last == c, "FeatureStandardizer: features have \(x.shape.last ?? 0) channels, the statistics \(c)")
    var out = [Float](repeating: 0, count: x.count)
    x.data.withUnsafeBufferPointer { src in
      for r in 0..<(x.count / c) {
        for j in 0..<c { out[r * c + j] = (src[r * c + j] - mean[j]) * invStd[j] }
      }
    }
    return Tensor(shape: x.shape, data: out)
  }
}
