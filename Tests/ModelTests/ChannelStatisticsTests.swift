import Foundation
import Testing

@testable import Model
@testable import Tensor
import TestSupport

// MARK: helpers (shared with AnomalyMapVariantTests)

/// The first element where |a − b| > rtol·max(|b|, scale), as a message naming what was compared,
/// the index and both values; nil when every element agrees.
func doubleMismatch(_ a: [Double], _ b: [Double], rtol: Double, scale: Double = 1, _ what: String) -> String? {
  guard a.count == b.count else { return "\(what): \(a.count) vs \(b.count) values" }
  for i in a.indices where !(abs(a[i] - b[i]) <= rtol * max(abs(b[i]), scale)) {
    return "\(what): at \(i): \(a[i]) vs \(b[i]) (|Δ| = \(abs(a[i] - b[i])))"
  }
  return nil
}

/// The first element whose bit pattern differs, as a message; nil when all are bit-identical.
func bitMismatch(_ a: [Double], _ b: [Double], _ what: String) -> String? {
  guard a.count == b.count else { return "\(what): \(a.count) vs \(b.count) values" }
  for i in a.indices where a[i].bitPattern != b[i].bitPattern {
    return "\(what): at \(i): \(a[i]) (0x\(String(a[i].bitPattern, radix: 16))) vs \(b[i]) (0x\(String(b[i].bitPattern, radix: 16)))"
  }
  return nil
}

/// `rows` × `channels` row-major Floats: channel j ~ N(μ_j, σ_j²) with distinct, non-zero means
/// (shifted by `shift`) and scales between 0.5 and 2.
func channelData(rows: Int, channels: Int, seed: UInt64, shift: Float = 0) -> [Float] {
  let z = randn([rows, channels], seed: seed).data
  return z.indices.map { i in
    let j = i % channels
    return shift + Float(j % 11) * 1.5 - 4.25 + (0.5 + Float(j % 7) * 0.25) * z[i]
  }
}

/// Plain two-pass mean and population variance of each channel, in Double.
func twoPass(_ x: [Float], channels c: Int) -> (mean: [Double], variance: [Double]) {
  let n = x.count / c
  var mean = [Double](repeating: 0, count: c), v = [Double](repeating: 0, count: c)
  for r in 0..<n { for j in 0..<c { mean[j] += Double(x[r * c + j]) } }
  mean = mean.map { $0 / Double(n) }
  for r in 0..<n { for j in 0..<c { let d = Double(x[r * c + j]) - mean[j]; v[j] += d * d } }
  return (mean, v.map { $0 / Double(n) })
}

/// Statistics of `x` added in one call.
func statistics(_ x: [Float], channels: Int) -> ChannelStatistics {
  var s = ChannelStatistics(channels: channels)
  s.add(rows: x)
  return s
}

/// The documented storage form of `packed`: each Double's 64 bits as [top 20, middle 22, low 22].
private func pack(_ values: [Double]) -> [Float] {
  values.flatMap { d -> [Float] in
    let b = d.bitPattern
    return [Float(b >> 44), Float((b >> 22) & 0x3F_FFFF), Float(b & 0x3F_FFFF)]
  }
}

@Suite("ChannelStatistics: pooled mean and variance, σ floor, lossless storage; FeatureStandardizer; MapStatistics")
struct ChannelStatisticsTests {
  // MARK: accumulation

  @Test func addRowsMatchesTwoPassMeanAndPopulationVariance() {
    let c = 5, n = 1000
    let x = channelData(rows: n, channels: c, seed: 11, shift: 100)
    let s = statistics(x, channels: c)
    let ref = twoPass(x, channels: c)
    #expect(s.channels == c, "channels of the statistics vs of the data")
    #expect(s.count == Double(n), "count vs number of rows added")
    let meanFailure = doubleMismatch(s.mean, ref.mean, rtol: 1e-12, "mean vs two-pass Double mean")
    #expect(meanFailure == nil, "\(meanFailure ?? "")")
    let varFailure = doubleMismatch(s.m2.map { $0 / s.count }, ref.variance, rtol: 1e-12, "m2/count vs two-pass population variance")
    #expect(varFailure == nil, "\(varFailure ?? "")")
  }

  @Test func addingInBlocksEqualsAddingAllAtOnce() {
    let c = 4
    let sizes = [1, 0, 17, 64, 3, 2, 500, 113]
    let n = sizes.reduce(0, +)
    let x = channelData(rows: n, channels: c, seed: 12, shift: -30)
    let all = statistics(x, channels: c)
    var blocks = ChannelStatistics(channels: c)
    var start = 0
    for size in sizes {
      x[(start * c)..<((start + size) * c)].withUnsafeBufferPointer { blocks.add(rows: $0) }
      start += size
    }
    #expect(blocks.count == all.count, "count after blocks \(sizes) vs after one add")
    let meanFailure = doubleMismatch(blocks.mean, all.mean, rtol: 1e-12, "mean after blocks vs after one add")
    #expect(meanFailure == nil, "\(meanFailure ?? "")")
    let m2Failure = doubleMismatch(blocks.m2, all.m2, rtol: 1e-12, "m2 after blocks vs after one add")
    #expect(m2Failure == nil, "\(m2Failure ?? "")")
  }

  @Test func addingNoRowsChangesNothing() {
    var s = statistics(channelData(rows: 9, channels: 3, seed: 13), channels: 3)
    let before = s
    s.add(rows: [Float]())
    #expect(s == before, "statistics after adding an empty block vs before")
  }

  @Test func mergeEqualsStatisticsOfTheConcatenatedData() {
    let c = 6
    let a = channelData(rows: 300, channels: c, seed: 14)
    let b = channelData(rows: 77, channels: c, seed: 15, shift: 7)  // another distribution: the cross term matters
    var merged = statistics(a, channels: c)
    merged.merge(statistics(b, channels: c))
    let whole = statistics(a + b, channels: c)
    let ref = twoPass(a + b, channels: c)
    #expect(merged.count == 377, "count of merged statistics vs rows of both")
    let meanFailure = doubleMismatch(merged.mean, whole.mean, rtol: 1e-12, "merged mean vs mean of concatenated data")
    #expect(meanFailure == nil, "\(meanFailure ?? "")")
    let m2Failure = doubleMismatch(merged.m2, whole.m2, rtol: 1e-12, "merged m2 vs m2 of concatenated data")
    #expect(m2Failure == nil, "\(m2Failure ?? "")")
    let varFailure = doubleMismatch(merged.m2.map { $0 / merged.count }, ref.variance, rtol: 1e-12,
                                    "merged variance vs two-pass variance of concatenated data")
    #expect(varFailure == nil, "\(varFailure ?? "")")

    // Merging empty statistics (either way round) leaves the other's.
    var empty = ChannelStatistics(channels: c)
    empty.merge(whole)
    let emptyFailure = doubleMismatch(empty.mean + empty.m2, whole.mean + whole.m2, rtol: 1e-15, "empty.merge(s) vs s")
    #expect(emptyFailure == nil && empty.count == whole.count, "\(emptyFailure ?? "count \(empty.count) vs \(whole.count)")")
    var same = whole
    same.merge(ChannelStatistics(channels: c))
    #expect(same == whole, "s.merge(empty) vs s")
  }

  // MARK: σ with a floor

  @Test func constantChannelGetsTheRelativeFloorOthersTheirOwnStd() {
    // Channel 0 constant, 1 alternating ±2 (σ 2), 2 alternating ±3 (σ 3): variances 0, 4, 9.
    var x: [Float] = []
    for r in 0..<10 { let sign: Float = r % 2 == 0 ? 1 : -1; x += [5, 1 + 2 * sign, -4 + 3 * sign] }
    let s = statistics(x, channels: 3)
    let rootMeanVariance = (13.0 / 3).squareRoot()
    let floored = s.std(relativeFloor: 0.1)
    let expected = [Float(0.1 * rootMeanVariance), 2, 3]
    let failure = closenessFailure(floored, expected, atol: 0, rtol: 1e-6, "std(relativeFloor: 0.1) vs [0.1·√(mean var), 2, 3]")
    #expect(failure == nil, "\(failure ?? "")")
    // A floor above channel 1's own σ lifts it too; channel 2 keeps its own.
    let high = s.std(relativeFloor: 1)
    let highFailure = closenessFailure(high, [Float(rootMeanVariance), Float(rootMeanVariance), 3], atol: 0, rtol: 1e-6,
                                       "std(relativeFloor: 1) vs [√(mean var), √(mean var), 3]")
    #expect(highFailure == nil, "\(highFailure ?? "")")
    // Without a relative floor a constant channel still gets the absolute 1e-6 (√1e-12), never 0.
    let bare = s.std(relativeFloor: 0)
    #expect(bare[0] == Float(1e-6) && bare[1] == 2 && bare[2] == 3, "std(relativeFloor: 0) vs [1e-6, 2, 3]: \(bare)")
    #expect(ChannelStatistics(channels: 4).std(relativeFloor: 0.1) == [1, 1, 1, 1], "std of empty statistics vs all ones")
  }

  // MARK: storage

  @Test func packedRoundTripIsBitExactOnAwkwardValues() throws {
    let count = 12345.0
    let mean = [1e-300, 0.1, -1e300, -0.0, -7.25, .leastNonzeroMagnitude]
    let m2 = [1e300, 0, .leastNormalMagnitude, .greatestFiniteMagnitude, 0.1, 1e-300]
    let stored = pack([count] + mean + m2)
    let s = try #require(ChannelStatistics(packed: stored, channels: mean.count), "decoding a hand-packed [count, mean…, m2…]")
    #expect(s.count.bitPattern == count.bitPattern, "decoded count vs \(count)")
    let meanFailure = bitMismatch(s.mean, mean, "decoded mean vs packed mean")
    #expect(meanFailure == nil, "\(meanFailure ?? "")")
    let m2Failure = bitMismatch(s.m2, m2, "decoded m2 vs packed m2")
    #expect(m2Failure == nil, "\(m2Failure ?? "")")
    #expect(s.packed == stored, "re-packed floats vs the packed input")
    #expect(stored.allSatisfy { $0 >= 0 && $0 < 4_194_304 && $0 == $0.rounded() }, "packed entries are 22-bit integers")

    // Statistics measured on data, with a non-integer count, also come back bit for bit.
    var measured = statistics(channelData(rows: 37, channels: 3, seed: 16, shift: -0.3), channels: 3)
    measured.merge(statistics([0.1, 0.2, 0.3], channels: 3))
    let back = try #require(ChannelStatistics(packed: measured.packed, channels: 3), "decoding measured.packed")
    #expect(back == measured, "round-tripped measured statistics vs the original")
    let all = bitMismatch([back.count] + back.mean + back.m2, [measured.count] + measured.mean + measured.m2,
                          "round-tripped [count, mean, m2] vs the original")
    #expect(all == nil, "\(all ?? "")")
    #expect(measured.packed.count == 3 * (1 + 2 * 3), "packed length vs 3·(1 + 2·channels)")
  }

  @Test func packedWithWrongLengthOrEntriesIsRejected() {
    let c = 2
    let good = pack([4, 1.5, -2, 0.25, 3])
    #expect(ChannelStatistics(packed: good, channels: c) != nil, "the valid packing decodes")
    for bad in [Array(good.dropLast()), good + [0], Array(good.dropLast(3)), good + [0, 0, 0], []] {
      #expect(ChannelStatistics(packed: bad, channels: c) == nil, "packed of length \(bad.count) for \(c) channels")
    }
    #expect(ChannelStatistics(packed: good, channels: 1) == nil, "packing of 2 channels read as 1")
    #expect(ChannelStatistics(packed: good, channels: 3) == nil, "packing of 2 channels read as 3")
    // Entry values: negative, non-integer, ≥ 2^22, NaN, infinite.
    let badEntries: [(Int, Float)] = [(4, -1), (5, 0.5), (5, 4_194_304), (7, 5e6), (1, .nan), (2, .infinity), (3, -.infinity)]
    for (i, value) in badEntries {
      var bad = good
      bad[i] = value
      #expect(ChannelStatistics(packed: bad, channels: c) == nil, "packed entry \(i) = \(value)")
    }
    var largest = good
    largest[5] = 4_194_303  // the largest low word: still a valid bit pattern
    #expect(ChannelStatistics(packed: largest, channels: c) != nil, "packed low word 2^22 − 1 is valid")
    // Entries that decode to a negative count or m2, or to a non-finite Double.
    let badValues: [(String, [Double])] = [("count −1", [-1, 1.5, -2, 0.25, 3]), ("m2 −0.25", [4, 1.5, -2, -0.25, 3]),
                                           ("mean NaN", [4, .nan, -2, 0.25, 3]), ("m2 ∞", [4, 1.5, -2, 0.25, .infinity])]
    for (what, values) in badValues {
      #expect(ChannelStatistics(packed: pack(values), channels: c) == nil, "packed statistics with \(what)")
    }
  }

  /// The top word of each Double carries its 20 high bits; a larger value does not fit a 64-bit
  /// pattern (its excess bits are shifted out), so it must not decode — today it aliases the
  /// entry without them.
  @Test func packedTopWordsAbove20BitsAreRejected() {
    let good = pack([4, 1.5, -2, 0.25, 3])
    for i in stride(from: 0, to: good.count, by: 3) {
      var bad = good
      bad[i] += 1_048_576  // + 2^20: still < 2^22 and an integer, but bits 64… of the Double
      let decoded = ChannelStatistics(packed: bad, channels: 2)
      #expect(decoded == nil, "packed top word \(i) = \(bad[i]) (≥ 2^20) decoded to \(String(describing: decoded))")
    }
  }

  // MARK: FeatureStandardizer

  @Test func standardizerAppliesPerChannelAffineMap() {
    // Rows (1, 10), (3, 30): μ = (2, 20), σ = (1, 10).
    let s = statistics([1, 10, 3, 30], channels: 2)
    let f = FeatureStandardizer(s)
    #expect(f.mean == [2, 20] && f.invStd == [1, 0.1], "standardizer mean and 1/σ vs (2, 20) and (1, 0.1): \(f.mean) \(f.invStd)")
    let x = Tensor(shape: [1, 3, 2], data: [2, 20, 4, 0, 0, 40])
    let y = f.apply(x)
    #expect(y.shape == [1, 3, 2], "shape of the standardised features vs the input's")
    let failure = closenessFailure(y.data, [0, 0, 2, -2, -2, 2], atol: 1e-6, rtol: 1e-6, "(x − μ)/σ of a hand example")
    #expect(failure == nil, "\(failure ?? "")")

    // A constant channel is divided by the floor (1 % of √(mean variance)), not by ~0.
    let constant = FeatureStandardizer(statistics([7, 1, 7, 3], channels: 2))  // variances 0, 1
    let floor = Float(0.01 * (0.5).squareRoot())
    let z = constant.apply(Tensor(shape: [1, 2], data: [7.5, 2])).data
    let constantFailure = closenessFailure(z, [0.5 / floor, 0], atol: 1e-5, rtol: 1e-5, "standardised constant channel vs (x − μ)/floor")
    #expect(constantFailure == nil, "\(constantFailure ?? "")")
  }

  // MARK: MapStatistics

  static func mapStatistics(channels c: Int, seed: UInt64) -> MapStatistics {
    var m = MapStatistics()
    m.channel[.rgb] = statistics(channelData(rows: 20, channels: c, seed: seed), channels: c)
    m.channel[.depth] = statistics(channelData(rows: 13, channels: c, seed: seed + 1, shift: 2), channels: c)
    m.score[.fused] = statistics([1, 2.5, 0.1, 7], channels: 1)
    m.score[.rgb] = statistics([-1e-3, 3, 1e5], channels: 1)
    m.score[.depth] = statistics([0.3], channels: 1)
    return m
  }

  @Test func mapStatisticsNamedRoundTrip() throws {
    let c = 6
    let m = Self.mapStatistics(channels: c, seed: 21)
    let named = m.named(prefix: "map_statistics.")
    #expect(Set(named.keys) == ["map_statistics.channel.rgb", "map_statistics.channel.depth", "map_statistics.score.fused",
                                "map_statistics.score.rgb", "map_statistics.score.depth"], "named keys: \(named.keys.sorted())")
    // Entries without the prefix (the rest of a checkpoint) are not read.
    var file = named
    file["parameters.mrn.rgb.weight"] = [1, 2, 3]
    file["feature_statistics.rgb"] = [0.5]
    let back = try MapStatistics(named: file, prefix: "map_statistics.", channels: c)
    #expect(back == m, "MapStatistics after named → init(named:) vs the original")
    #expect(try MapStatistics(named: [:], prefix: "map_statistics.", channels: c) == MapStatistics(), "no entries vs empty statistics")
  }

  @Test func malformedMapStatisticsEntriesThrowNamingTheKey() {
    let c = 3
    let channel = statistics(channelData(rows: 5, channels: c, seed: 22), channels: c).packed
    let score = statistics([1, 2], channels: 1).packed
    let bad: [(String, [Float])] = [
      ("p.channel.foo", channel), ("p.colour.rgb", channel), ("p.channel.rgb.extra", channel), ("p.channel", channel),
      ("p.channel.RGB", channel), ("p.score.", score),
      ("p.channel.rgb", statistics([1, 2, 3, 4], channels: 4).packed), ("p.channel.depth", score),
      ("p.score.rgb", channel), ("p.score.fused", Array(score.dropLast())),
    ]
    for (key, value) in bad {
      var named = Self.mapStatistics(channels: c, seed: 23).named(prefix: "p.")
      named[key] = value
      do {
        _ = try MapStatistics(named: named, prefix: "p.", channels: c)
        Issue.record("MapStatistics(named:) accepted the malformed entry '\(key)' (\(value.count) values)")
      } catch let StatisticsError.malformed(k) {
        #expect(k == key, "key named by StatisticsError.malformed vs the malformed key")
        #expect(StatisticsError.malformed(k).description.contains(key), "error description names '\(key)'")
      } catch {
        Issue.record("entry '\(key)': expected StatisticsError.malformed, got \(error)")
      }
    }
  }

  @Test func mapStatisticsMergePoolsPerSource() {
    let c = 4
    let x1 = channelData(rows: 30, channels: c, seed: 24), x2 = channelData(rows: 11, channels: c, seed: 25, shift: 3)
    let x3 = channelData(rows: 8, channels: c, seed: 26, shift: -1)
    let s1: [Float] = [1, 2, 3], s3: [Float] = [10, 20]
    var a = MapStatistics()
    a.channel[.rgb] = statistics(x1, channels: c)
    a.score[.rgb] = statistics(s1, channels: 1)
    var b = MapStatistics()
    b.channel[.rgb] = statistics(x2, channels: c)
    b.channel[.depth] = statistics(x3, channels: c)
    b.score[.depth] = statistics(s3, channels: 1)
    a.merge(b)
    #expect(Set(a.channel.keys) == [.rgb, .depth], "channel sources after merge: \(a.channel.keys)")
    #expect(Set(a.score.keys) == [.rgb, .depth], "score sources after merge: \(a.score.keys)")
    func agree(_ s: ChannelStatistics?, _ ref: ChannelStatistics, _ what: String) {
      guard let s else { Issue.record("\(what): missing"); return }
      let failure = doubleMismatch([s.count] + s.mean + s.m2, [ref.count] + ref.mean + ref.m2, rtol: 1e-12, what)
      #expect(failure == nil, "\(failure ?? "")")
    }
    agree(a.channel[.rgb], statistics(x1 + x2, channels: c), "merged rgb channel statistics vs those of both data sets")
    agree(a.channel[.depth], statistics(x3, channels: c), "depth channel statistics (only in the second) vs its own")
    agree(a.score[.rgb], statistics(s1, channels: 1), "rgb score statistics (only in the first) vs its own")
    agree(a.score[.depth], statistics(s3, channels: 1), "depth score statistics (only in the second) vs its own")
  }
}
