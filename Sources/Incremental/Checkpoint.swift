import Storage
import Foundation

/// A training checkpoint (SPEC §9): one file, zstd-compressed, self-checking.
///
///     magic "IUMADCK\0" | version u32 | config hash u64 | model-shape hash u64 |
///     raw size u64 | compressed size u64 | FNV-1a 64 u64 | payload
///
/// (Storage's `ChecksummedFrame` with two fields.) Version 2's checksum covers every byte after
/// the magic except itself, and is verified before anything is allocated from the header;
/// version 1 (payload only) is still read, its sizes checked against the file and the zstd frame.
///
/// The payload is a list of named entries (float arrays or JSON text): parameters, optimiser
/// state, θ_old, projection Gram matrices, compression buffers, the metrics so far, loss curves,
/// the schedule position and the run identity. Random streams are derived from (seed, step,
/// epoch, iteration), so the position is the whole RNG state. Written atomically (temp file,
/// fsync, rename).
public struct Checkpoint {
  public static var magic: [UInt8] { frame.magic }
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

  static let frame = ChecksummedFrame(magic: "IUMADCK")
  /// A payload larger than this machine's memory cannot be ours to load.
  static var largestPayload: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory) }

  public func encoded() throws -> [UInt8] {
    var raw = ByteWriter()
    raw.put(UInt32(floats.count))
    for key in floats.keys.sorted() {
      raw.put(text: key)
      raw.put(UInt64(floats[key]!.count))
      raw.put(floats: floats[key]!)
    }
    raw.put(UInt32(texts.count))
    for key in texts.keys.sorted() {
      raw.put(text: key)
      raw.put(text: texts[key]!)
    }
    var fields = ByteWriter()
    fields.put(configHash)
    fields.put(shapeHash)
    return try Self.frame.encode(version: Self.version, fields: fields.bytes, payload: raw.bytes, coverage: .afterMagic)
  }

  /// Decodes and verifies; the error says what is wrong (truncated, checksum, version…).
  public static func decode(_ bytes: [UInt8]) throws -> Checkpoint {
    do {
      let opened = try frame.open(bytes) { version, _ in
        switch version {
        case 1: return (16, .payload)
        case 2: return (16, .afterMagic)
        default: throw FormatError("format version \(version), this build reads 1 and \(Self.version)")
        }
      }
      var header = ByteReader(opened.fields)
      var c = Checkpoint(configHash: try header.get(UInt64.self, "config hash"), shapeHash: try header.get(UInt64.self, "model-shape hash"))
      var r = ByteReader(try opened.payload(rawSizeAtMost: largestPayload)[...])
      for _ in 0..<(try r.get(UInt32.self, "float entry count")) {
        let key = try r.text("entry name")
        let n = try r.count("entry '\(key)' length", atMost: r.remaining / 4)
        c.floats[key] = try r.floats(n, "entry '\(key)'")
      }
      for _ in 0..<(try r.get(UInt32.self, "text entry count")) {
        let key = try r.text("text entry name")
        c.texts[key] = try r.text("text entry '\(key)'")
      }
      return c
    } catch let e as FormatError {
      throw CheckpointError.corrupt(e.description == "bad magic" ? "not an IUMAD checkpoint (bad magic)" : e.description)
    }
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
