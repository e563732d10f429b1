import Foundation

/// A zstd-compressed payload behind a self-checking header: how checkpoints and feature-cache
/// entries are stored.
///
///     magic (8 bytes) | version u32 | fields (the format's own) | raw size u64 |
///     compressed size u64 | FNV-1a 64 u64 | zstd frame
///
/// `open` compares the checksum before any size from the header is used, and the zstd frame's
/// own content size must equal the raw size before the payload is expanded, so a damaged file is
/// an error saying what is wrong, never a trap or a huge allocation.
public struct ChecksummedFrame {
  /// What the checksum covers. The formats written so far differ, and files already on disk must
  /// stay readable: checkpoint version 1 covers the payload, version 2 everything after the
  /// magic, feature-cache version 1 everything.
  public enum Coverage: Sendable { case payload, afterMagic, everything }

  /// A frame whose header and checksum are verified; `payload(rawSizeAtMost:)` expands it.
  public struct Opened {
    public let version: UInt32
    /// The format's own fields (between the version and the sizes).
    public let fields: ArraySlice<UInt8>
    public let rawSize: UInt64
    let packed: ArraySlice<UInt8>

    /// The payload, after checking its raw size against `limit` (what the caller can expect).
    public func payload(rawSizeAtMost limit: Int) throws -> [UInt8] {
      guard rawSize <= UInt64(max(0, limit)) else { throw FormatError("raw size \(rawSize) bytes, at most \(limit) possible") }
      do { return try Zstd.decompress(packed, size: Int(rawSize)) } catch { throw FormatError("payload: \(error)") }
    }
  }

  public let magic: [UInt8]

  /// `name`: seven ASCII characters (the magic is them and a zero byte).
  public init(magic name: String) {
    precondition(name.utf8.count == 7, "ChecksummedFrame: a magic is 7 characters")
    magic = Array(name.utf8) + [0]
  }

  public func encode(version: UInt32, fields: [UInt8], payload raw: [UInt8], coverage: Coverage) throws -> [UInt8] {
    let packed = try Zstd.compress(raw)
    var header = ByteWriter()
    header.append(magic)
    header.put(version)
    header.append(fields)
    header.put(UInt64(raw.count))
    header.put(UInt64(packed.count))
    var out = header.bytes
    out += withUnsafeBytes(of: Self.checksum(header.bytes[...], packed[...], magicLength: magic.count, coverage).littleEndian) { Array($0) }
    return out + packed
  }

  /// Verifies `bytes`: `fieldsLength(version, bytes after the version)` gives the length of the
  /// fields and the coverage for a version this reader knows, and throws for any other.
  public func open(_ bytes: [UInt8], fieldsLength: (UInt32, ArraySlice<UInt8>) throws -> (Int, Coverage)) throws -> Opened {
    guard bytes.count >= magic.count + 4, Array(bytes[0..<magic.count]) == magic else {
      throw FormatError(bytes.count < magic.count + 4 ? "truncated: \(bytes.count) bytes" : "bad magic")
    }
    var reader = ByteReader(bytes[magic.count...])
    let version = try reader.get(UInt32.self, "version")
    let (length, coverage) = try fieldsLength(version, bytes[reader.position...])
    let headerEnd = reader.position + length + 16
    guard length >= 0, bytes.count >= headerEnd + 8 else { throw FormatError("truncated: \(bytes.count) bytes, header needs \(headerEnd + 8)") }
    let fields = bytes[reader.position..<(reader.position + length)]
    reader = ByteReader(bytes[(headerEnd - 16)...])
    let rawSize = try reader.get(UInt64.self, "raw size"), packedSize = try reader.get(UInt64.self, "compressed size")
    let stored = try reader.get(UInt64.self, "checksum")
    let packed = bytes[(headerEnd + 8)...]
    guard Self.checksum(bytes[0..<headerEnd], packed, magicLength: magic.count, coverage) == stored else {
      throw FormatError(UInt64(packed.count) == packedSize ? "checksum mismatch (header or payload damaged)"
        : "truncated or damaged: payload is \(packed.count) bytes, header says \(packedSize), checksum mismatch")
    }
    // Where the checksum leaves the sizes out (checkpoint version 1), they are checked here.
    guard UInt64(packed.count) == packedSize else { throw FormatError("truncated: payload is \(packed.count) bytes, header says \(packedSize)") }
    return Opened(version: version, fields: fields, rawSize: rawSize, packed: packed)
  }

  static func checksum(_ header: ArraySlice<UInt8>, _ packed: ArraySlice<UInt8>, magicLength: Int, _ coverage: Coverage) -> UInt64 {
    var h = FNV1a64()
    switch coverage {
    case .payload: break
    case .afterMagic: h.combine(header.dropFirst(magicLength))
    case .everything: h.combine(header)
    }
    h.combine(packed)
    return h.value
  }
}
