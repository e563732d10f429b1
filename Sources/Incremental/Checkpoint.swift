import Storage
import Foundation

/// A training checkpoint (SPEC §9): one file, zstd-compressed, self-checking.
///
///     magic "IUMADCK\0" | version u32 | config hash u64 | model-shape hash u64 |
///     raw size u64 | compressed size u64 | FNV-1a 64 u64 | payload
///
/// Version 2's checksum covers every byte after the magic except itself (header fields and
/// payload), and is verified before anything is allocated from the header; version 1 (payload
/// only) is still read, its raw size checked against the zstd frame's own.
///
/// The payload is a list of named entries (float arrays or JSON text): parameters, optimiser
/// state, θ_old, projection Gram matrices, compression buffers, the metrics so far, loss curves,
/// the schedule position and the run identity. Random streams are derived from (seed, step,
/// epoch, iteration), so the position is the whole RNG state. Written atomically (temp file,
/// fsync, rename).
public struct Checkpoint {
  public static let magic: [UInt8] = Array("IUMADCK".utf8) + [0]
  public static let version: UInt32 = 2

  public var configHash: UInt64
  public var shapeHash: UInt64
  public var floats: [String: [Float]] = [:]
  public var texts: [String: String] = [:]

  public init(configHash: UInt64, shapeHash: UInt64) {
    self.configHash = configHash
    self.shapeHash = shapeHash
  }

  // MARK: encoding

  public func encoded() throws -> [UInt8] {
    var raw: [UInt8] = []
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { raw += $0 } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { raw += $0 } }
    func name(_ s: String) { let b = Array(s.utf8); u32(UInt32(b.count)); raw += b }
    u32(UInt32(floats.count))
    for key in floats.keys.sorted() {
      name(key)
      let v = floats[key]!
      u64(UInt64(v.count))
      v.withUnsafeBytes { raw += $0 }
    }
    u32(UInt32(texts.count))
    for key in texts.keys.sorted() { name(key); name(texts[key]!) }
    let packed = try Zstd.compress(raw)
    var fields: [UInt8] = []
    withUnsafeBytes(of: Self.version.littleEndian) { fields += $0 }
    for v in [configHash, shapeHash, UInt64(raw.count), UInt64(packed.count)] { withUnsafeBytes(of: v.littleEndian) { fields += $0 } }
    var out = Self.magic + fields
    withUnsafeBytes(of: Self.checksum(fields: fields[...], payload: packed[...]).littleEndian) { out += $0 }
    return out + packed
  }

  static func checksum(fields: ArraySlice<UInt8>, payload: ArraySlice<UInt8>) -> UInt64 {
    var h = FNV1a64()
    h.combine(fields)
    h.combine(payload)
    return h.value
  }

  /// Decodes and verifies; the error says what is wrong (truncated, checksum, version…).
  public static func decode(_ bytes: [UInt8]) throws -> Checkpoint {
    let header = magic.count + 4 + 5 * 8
    guard bytes.count >= header else { throw CheckpointError.corrupt("truncated: \(bytes.count) bytes, header needs \(header)") }
    guard Array(bytes[0..<magic.count]) == magic else { throw CheckpointError.corrupt("not an IUMAD checkpoint (bad magic)") }
    func u64(_ at: Int) -> UInt64 { bytes[at..<(at + 8)].enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } }
    let version = UInt32(truncatingIfNeeded: u64(magic.count) & 0xFFFF_FFFF)
    let base = magic.count + 4
    let (configHash, shapeHash, rawSize, packedSize, checksum) = (u64(base), u64(base + 8), u64(base + 16), u64(base + 24), u64(base + 32))
    let packed = bytes[header...]
    switch version {
    case 2:
      guard Self.checksum(fields: bytes[magic.count..<(base + 32)], payload: packed) == checksum else {
        throw CheckpointError.corrupt(UInt64(packed.count) == packedSize ? "checksum mismatch (header or payload damaged)"
          : "truncated or damaged: payload is \(packed.count) bytes, header says \(packedSize), checksum mismatch")
      }
    case 1:
      guard UInt64(packed.count) == packedSize else { throw CheckpointError.corrupt("truncated: payload is \(packed.count) bytes, header says \(packedSize)") }
      guard FNV1a64.hash(packed) == checksum else { throw CheckpointError.corrupt("payload checksum mismatch") }
    default:
      throw CheckpointError.corrupt("format version \(version), this build reads 1 and \(Self.version)")
    }
    guard rawSize <= UInt64(Int.max) else { throw CheckpointError.corrupt("raw size \(rawSize) is impossible") }
    let raw: [UInt8]
    do { raw = try Zstd.decompress(packed, size: Int(rawSize)) } catch { throw CheckpointError.corrupt("payload: \(error)") }
    var c = Checkpoint(configHash: configHash, shapeHash: shapeHash)
    var at = 0
    func need(_ n: Int) throws { if at + n > raw.count { throw CheckpointError.corrupt("payload ends early") } }
    func r32() throws -> Int { try need(4); defer { at += 4 }; return raw[at..<(at + 4)].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) } }
    func r64() throws -> Int { try need(8); defer { at += 8 }; return raw[at..<(at + 8)].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) } }
    func text() throws -> String { let n = try r32(); try need(n); defer { at += n }; return String(decoding: raw[at..<(at + n)], as: UTF8.self) }
    for _ in 0..<(try r32()) {
      let key = try text(), n = try r64()
      guard n >= 0, n <= (raw.count - at) / 4 else { throw CheckpointError.corrupt("entry '\(key)' claims \(n) floats, the payload has room for \((raw.count - at) / 4)") }
      c.floats[key] = raw[at..<(at + 4 * n)].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
      at += 4 * n
    }
    for _ in 0..<(try r32()) { let key = try text(); c.texts[key] = try text() }
    return c
  }

  /// Temp file, fsync, rename: a crash leaves either the old file set or the complete new one.
  public func write(to url: URL) throws {
    let bytes = try encoded()
    let tmp = url.path + ".tmp-\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw CheckpointError.io("cannot create '\(tmp)': \(String(cString: strerror(errno)))") }
    do {
      try Self.writeFully(bytes, to: fd, path: tmp)
      guard fsync(fd) == 0 else { throw CheckpointError.io("cannot write '\(tmp)': \(String(cString: strerror(errno)))") }
    } catch {
      close(fd)
      unlink(tmp)
      throw error
    }
    close(fd)
    guard rename(tmp, url.path) == 0 else {
      let reason = String(cString: strerror(errno))
      unlink(tmp)
      throw CheckpointError.io("cannot rename '\(tmp)' to '\(url.path)': \(reason)")
    }
  }

  /// Writes all of `bytes` (a short write is continued); the error carries the system's reason
  /// ("No space left on device"), read before anything else can change errno.
  public static func writeFully(_ bytes: [UInt8], to fd: Int32, path: String) throws {
    var done = 0
    while done < bytes.count {
      let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, $0.count - done) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else {
        throw CheckpointError.io("cannot write '\(path)' (\(done) of \(bytes.count) bytes written): \(String(cString: strerror(n < 0 ? errno : ENOSPC)))")
      }
      done += n
    }
  }
}

public enum CheckpointError: Error, CustomStringConvertible, Equatable {
  case corrupt(String)
  case io(String)
  case mismatch(String)

  public var description: String {
    switch self {
    case .corrupt(let s): return "corrupt checkpoint: \(s)"
    case .io(let s): return s
    case .mismatch(let s): return s
    }
  }
}
