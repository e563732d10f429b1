import Foundation
import Storage
import Tensor

// MARK: on-disk feature cache: neck features computed once per image, zstd-compressed
//
// Key: FNV-1a 64 of "iumad-features/v1", the content hash of every input file, the extractor's
// identity (backbone, weights hash, padding, input size, neck) and the preprocessing string.
// Entry file <dir>/<key>.feat, little-endian (Storage's ChecksummedFrame):
//   magic "IUMADFC\0" | version u32 | rank u32 | dims u64×rank | raw bytes u64 | payload bytes u64 |
//   checksum u64 (FNV-1a 64 of everything before it and of the payload) | payload (zstd frame)
// Any flipped byte fails the checksum (or the magic/version/size checks) and the entry is
// recomputed and reported, never trusted.

/// One image (one modality) to extract.
public struct FeatureRequest {
  /// Files whose bytes determine the preprocessed image (e.g. the RGB PNG, or the xyz TIFF).
  public let files: [String]
  /// Describes the preprocessing (resize, normalisation, depth mode…): part of the key.
  public let preprocessing: String
  /// Produces the preprocessed image [3, S, S]; only called on a cache miss.
  public let load: () throws -> Tensor

  public init(files: [String], preprocessing: String, load: @escaping () throws -> Tensor) {
    self.files = files; self.preprocessing = preprocessing; self.load = load
  }
}

public struct ExtractionResult {
  /// Indices into the request list that this rank handled (its shard), in order.
  public var indices: [Int] = []
  /// Tokens [T, C_in] for each of `indices`.
  public var features: [Tensor] = []
  public var hits = 0
  public var computed = 0
  /// Entries that failed verification ("<path>: <reason>"); each was recomputed and rewritten.
  public var corrupt: [String] = []
}

/// Why a cache entry cannot be trusted.
public struct CorruptEntry: Error, Equatable {
  public let reason: String
}

public enum CacheLookup {
  case hit(Tensor)
  case miss
  case corrupt(String)
}

public final class FeatureCache {
  public let directory: URL
  static let version: UInt32 = 1

  public init(directory: String) throws {
    self.directory = URL(fileURLWithPath: directory)
    do { try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true) } catch {
      throw BackboneError.unreadableFile(path: directory, reason: "cannot create cache folder: \(error.localizedDescription)")
    }
  }

  public static func fileHash(_ path: String) throws -> UInt64 {
    do { return FNV1a64.hash(try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)) } catch {
      throw BackboneError.unreadableFile(path: path, reason: error.localizedDescription)
    }
  }

  public func key(for request: FeatureRequest, extractorIdentity: String) throws -> String {
    var h = FNV1a64()
    h.combine("iumad-features/v1|\(extractorIdentity)|prep=\(request.preprocessing)|inputs=")
    for f in request.files { h.combine(hex(try FeatureCache.fileHash(f)) + ",") }
    return hex(h.value)
  }

  public func path(forKey key: String) -> String { directory.appendingPathComponent(key + ".feat").path }

  // MARK: entry format (Storage's ChecksummedFrame; the fields are the tensor's rank and shape)

  static let frame = ChecksummedFrame(magic: "IUMADFC")
  /// Elements of one entry: a feature map is a few hundred thousand.
  static let largestEntry = 1 << 28

  static func encode(_ t: Tensor) throws -> [UInt8] {
    var fields = ByteWriter()
    fields.put(UInt32(t.rank))
    for d in t.shape { fields.put(UInt64(d)) }
    var raw = ByteWriter()
    raw.put(floats: t.data)
    return try frame.encode(version: version, fields: fields.bytes, payload: raw.bytes, coverage: .everything)
  }

  /// The tensor in `bytes`, or the reason it cannot be trusted.
  static func decode(_ bytes: [UInt8]) -> Result<Tensor, CorruptEntry> {
    do {
      let opened = try frame.open(bytes) { v, rest in
        guard v == version else { throw FormatError("unsupported version \(v)") }
        var r = ByteReader(rest)
        let rank = try r.get(UInt32.self, "rank")
        guard rank <= 8 else { throw FormatError("bad rank \(rank)") }
        return (4 + 8 * Int(rank), .everything)
      }
      var header = ByteReader(opened.fields)
      var shape: [Int] = [], count = 1
      for i in 0..<Int(try header.get(UInt32.self, "rank")) {
        shape.append(try header.count("dimension \(i)", atMost: largestEntry))
        count = shape.last! == 0 ? 0 : min(count * shape.last!, largestEntry + 1)
      }
      guard count <= largestEntry, opened.rawSize == UInt64(4 * count) else {
        throw FormatError("header sizes disagree with shape \(shape)")
      }
      var payload = ByteReader(try opened.payload(rawSizeAtMost: 4 * count)[...])
      return .success(Tensor(shape: shape, data: try payload.floats(count, "features")))
    } catch {
      return .failure(CorruptEntry(reason: "\(error)"))
    }
  }

  public func lookup(key: String) -> CacheLookup {
    let p = path(forKey: key)
    guard let data = FileManager.default.contents(atPath: p) else { return .miss }
    switch FeatureCache.decode([UInt8](data)) {
    case let .success(t): return .hit(t)
    case let .failure(fault): return .corrupt("\(p): \(fault.reason)")
    }
  }

  /// Writes through a temporary file and a rename, so a reader never sees half an entry.
  public func store(_ t: Tensor, key: String) throws {
    let p = path(forKey: key), tmp = p + ".tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    do {
      try Data(try FeatureCache.encode(t)).write(to: URL(fileURLWithPath: tmp))
      _ = try? FileManager.default.removeItem(atPath: p)
      try FileManager.default.moveItem(atPath: tmp, toPath: p)
    } catch let e as BackboneError {
      throw e
    } catch {
      throw BackboneError.unreadableFile(path: p, reason: "cannot write cache entry: \(error.localizedDescription)")
    }
  }

  // MARK: extraction

  /// Features for this rank's shard of `requests` (indices i with i % worldSize == rank):
  /// cached entries are read, the rest go through the backbone in batches of `batchSize` and are
  /// stored. Hashing, reading, image loading and compression run in parallel over images; the
  /// backbone runs multi-threaded inside each batch.
  public func extract(_ requests: [FeatureRequest], with extractor: FeatureExtractor,
                      rank: Int = 0, worldSize: Int = 1, batchSize: Int = 8) throws -> ExtractionResult {
    guard worldSize >= 1, rank >= 0, rank < worldSize, batchSize >= 1 else {
      throw BackboneError.badInput(reason: "extract: rank \(rank) / world size \(worldSize) / batch \(batchSize) out of range")
    }
    let mine = Array(stride(from: rank, to: requests.count, by: worldSize))
    let identity = extractor.identity
    let keyed = try Threading.parallelMap(mine.count) { j -> (key: String, found: CacheLookup) in
      let k = try key(for: requests[mine[j]], extractorIdentity: identity)
      return (k, lookup(key: k))
    }
    let keys = keyed.map(\.key), found = keyed.map(\.found)

    var result = ExtractionResult(indices: mine)
    var features = [Tensor?](repeating: nil, count: mine.count)
    var missing: [Int] = []
    for j in 0..<mine.count {
      switch found[j] {
      case let .hit(t): features[j] = t; result.hits += 1
      case .miss: missing.append(j)
      case let .corrupt(reason): result.corrupt.append(reason); missing.append(j)
      }
    }

    for start in stride(from: 0, to: missing.count, by: batchSize) {
      let batch = Array(missing[start..<min(start + batchSize, missing.count)])
      let images = try Threading.parallelMap(batch.count) { try requests[mine[batch[$0]]].load() }
      let s = extractor.inputSize
      for (b, im) in images.enumerated() where im.shape != [3, s, s] {
        throw BackboneError.badInput(reason: "\(requests[mine[batch[b]]].files.joined(separator: ", ")): preprocessed image has shape \(im.shape), expected [3, \(s), \(s)]")
      }
      let stacked = Tensor(shape: [batch.count, 3, s, s], data: images.flatMap { $0.data })
      let tokens = try extractor.features(stacked)
      let t = tokens.shape[1], c = tokens.shape[2]
      let perImage = (0..<batch.count).map { b in
        Tensor(shape: [t, c], data: Array(tokens.data[(b * t * c)..<((b + 1) * t * c)]))
      }
      for (b, f) in perImage.enumerated() { features[batch[b]] = f }
      _ = try Threading.parallelMap(batch.count) { try store(perImage[$0], key: keys[batch[$0]]) }
      result.computed += batch.count
    }
    result.features = features.map { $0! }
    return result
  }
}
