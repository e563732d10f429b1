import Foundation
import Testing
import TestSupport

@testable import Backbone
import Tensor

@Suite("feature cache")
struct FeatureCacheTests {
  /// Small synthetic "dataset": files on disk whose bytes key the cache; load() derives the image.
  func makeRequests(_ dir: URL, count: Int, size: Int) throws -> [FeatureRequest] {
    try (0..<count).map { i in
      let file = dir.appendingPathComponent("img\(i).bin")
      try Data((0..<64).map { UInt8(($0 * 7 + i * 13) & 0xFF) }).write(to: file)
      return FeatureRequest(files: [file.path], preprocessing: "test:seeded-randn") {
        var rng = RNG(seed: UInt64(i) + 100)
        return Tensor(randn: [3, size, size], rng: &rng)
      }
    }
  }

  func extractor(size: Int) throws -> FeatureExtractor {
    try FeatureExtractor(backbone: .random(config: .named("lite0"), seed: 9), inputSize: size)
  }

  @Test func secondPassDoesNoBackboneWorkAndCorruptionIsRecomputed() throws {
    let dir = try temporaryDirectory("cache")
    let requests = try makeRequests(dir, count: 5, size: 32)
    let cache = try FeatureCache(directory: dir.appendingPathComponent("cache").path)
    let ex = try extractor(size: 32)

    let first = try cache.extract(requests, with: ex, batchSize: 2)
    #expect(first.computed == 5 && first.hits == 0 && ex.backboneEvaluations == 5)
    #expect(first.features.allSatisfy { $0.shape == [4, 192] })

    let second = try cache.extract(requests, with: ex, batchSize: 2)
    #expect(second.hits == 5 && second.computed == 0 && second.corrupt.isEmpty)
    #expect(ex.backboneEvaluations == 5, "a cached pass must not run the backbone")
    #expect(zip(first.features, second.features).allSatisfy { $0.data == $1.data })

    // Flip one byte in the middle of one entry: detected, reported, recomputed, rewritten.
    let key = try cache.key(for: requests[3], extractorIdentity: ex.identity)
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: cache.path(forKey: key))))
    bytes[bytes.count / 2] ^= 0x10
    try Data(bytes).write(to: URL(fileURLWithPath: cache.path(forKey: key)))
    let third = try cache.extract(requests, with: ex)
    #expect(third.corrupt.count == 1 && third.corrupt[0].contains(key) && third.corrupt[0].contains("checksum"), "\(third.corrupt)")
    #expect(third.hits == 4 && third.computed == 1 && ex.backboneEvaluations == 6)
    #expect(third.features[3].data == first.features[3].data)
    let fourth = try cache.extract(requests, with: ex)
    #expect(fourth.hits == 5 && fourth.corrupt.isEmpty)
  }

  @Test func everyHeaderByteIsCovered() throws {
    var rng = RNG(seed: 2)
    let t = Tensor(randn: [3, 4], rng: &rng)
    let bytes = try FeatureCache.encode(t)
    guard case let .success(back) = FeatureCache.decode(bytes) else { Issue.record("clean entry rejected"); return }
    #expect(back.shape == [3, 4] && back.data == t.data)
    for i in 0..<bytes.count {
      var b = bytes
      b[i] ^= 0x01
      if case .success = FeatureCache.decode(b) { Issue.record("flipped byte \(i) of \(bytes.count) went undetected") }
    }
    if case .success = FeatureCache.decode(Array(bytes.dropLast())) { Issue.record("truncated entry went undetected") }
  }

  /// An entry written before the container moved to Storage (commit 0b9d614) still reads.
  @Test func anEntryFromBeforeReads() throws {
    let bytes = [UInt8](try Data(contentsOf: packageRoot.appendingPathComponent("Tests/Fixtures/storage/features-v1.feat")))
    guard case let .success(t) = FeatureCache.decode(bytes) else { Issue.record("old entry rejected"); return }
    #expect(t.shape == [3, 4] && t.data == (0..<12).map { Float($0) / 4 - 1 })
    let again = try FeatureCache.encode(t)
    #expect(Array(again[0..<(12 + 16 + 8)]) == Array(bytes[0..<(12 + 16 + 8)]), "magic, version, rank, shape, raw size")
  }

  @Test func keyDependsOnContentsBackboneSizeAndPreprocessing() throws {
    let dir = try temporaryDirectory("keys")
    let requests = try makeRequests(dir, count: 2, size: 32)
    let cache = try FeatureCache(directory: dir.path)
    let a = try extractor(size: 32), b = try extractor(size: 48)
    let k0 = try cache.key(for: requests[0], extractorIdentity: a.identity)
    #expect(k0 == (try cache.key(for: requests[0], extractorIdentity: a.identity)))
    #expect(k0 != (try cache.key(for: requests[1], extractorIdentity: a.identity)))
    #expect(k0 != (try cache.key(for: requests[0], extractorIdentity: b.identity)))
    let other = FeatureRequest(files: requests[0].files, preprocessing: "test:other", load: requests[0].load)
    #expect(k0 != (try cache.key(for: other, extractorIdentity: a.identity)))
    let c = try FeatureExtractor(backbone: .random(config: .named("lite0"), seed: 10), inputSize: 32)
    #expect(k0 != (try cache.key(for: requests[0], extractorIdentity: c.identity)))
    try Data([1, 2, 3]).write(to: URL(fileURLWithPath: requests[0].files[0]))
    #expect(k0 != (try cache.key(for: requests[0], extractorIdentity: a.identity)))
  }

  @Test func ranksShareTheWorkWithoutOverlap() throws {
    let dir = try temporaryDirectory("shard")
    let requests = try makeRequests(dir, count: 5, size: 32)
    let ex = try extractor(size: 32)
    let cache = try FeatureCache(directory: dir.appendingPathComponent("c").path)
    let r0 = try cache.extract(requests, with: ex, rank: 0, worldSize: 2)
    let r1 = try cache.extract(requests, with: ex, rank: 1, worldSize: 2)
    #expect(r0.indices == [0, 2, 4] && r1.indices == [1, 3])
    #expect(r0.computed + r1.computed == 5 && ex.backboneEvaluations == 5)
    // A single-rank pass afterwards finds everything the two ranks wrote.
    let all = try cache.extract(requests, with: ex)
    #expect(all.hits == 5 && ex.backboneEvaluations == 5)
    #expect(throws: BackboneError.self) { try cache.extract(requests, with: ex, rank: 2, worldSize: 2) }
  }

  @Test func badImageShapeIsAnErrorNamingTheFile() throws {
    let dir = try temporaryDirectory("badshape")
    let file = dir.appendingPathComponent("x.bin")
    try Data([1]).write(to: file)
    let req = FeatureRequest(files: [file.path], preprocessing: "p") { Tensor(zeros: [3, 16, 16]) }
    let e = #expect(throws: BackboneError.self) {
      try FeatureCache(directory: dir.appendingPathComponent("c").path).extract([req], with: try extractor(size: 32))
    }
    #expect(e?.description.contains("x.bin") == true && e?.description.contains("[3, 16, 16]") == true)
  }
}
