import Foundation

/// A file that is not what it claims to be; `description` says what is wrong with it.
public struct FormatError: Error, CustomStringConvertible, Equatable {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// Little-endian fields appended to bytes: the integers, float arrays and texts of our formats.
public struct ByteWriter {
  public private(set) var bytes: [UInt8] = []
  public init() {}

  public mutating func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
  /// The floats' own bytes (every host we build for is little-endian).
  public mutating func put(floats: [Float]) { floats.withUnsafeBytes { bytes += $0 } }
  /// u32 length, then UTF-8.
  public mutating func put(text: String) {
    let b = Array(text.utf8)
    put(UInt32(b.count))
    bytes += b
  }
  public mutating func append(_ raw: [UInt8]) { bytes += raw }
}

/// Little-endian fields read back: running past the end, or a count that cannot fit in what is
/// left, is a `FormatError` naming the field — checked before anything is allocated, never a trap.
public struct ByteReader {
  let bytes: ArraySlice<UInt8>
  public private(set) var position: Int

  public init(_ bytes: ArraySlice<UInt8>) {
    self.bytes = bytes
    position = bytes.startIndex
  }

  public var remaining: Int { bytes.endIndex - position }

  mutating func take(_ n: Int, _ what: String) throws -> ArraySlice<UInt8> {
    guard n >= 0, n <= remaining else { throw FormatError("\(what): needs \(n) bytes, \(remaining) left") }
    defer { position += n }
    return bytes[position..<(position + n)]
  }

  public mutating func get<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
    try take(MemoryLayout<T>.size, what).withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
  }

  /// A u64 that must be a count of at most `limit`.
  public mutating func count(_ what: String, atMost limit: Int) throws -> Int {
    let n = try get(UInt64.self, what)
    guard n <= UInt64(max(0, limit)) else { throw FormatError("\(what) claims \(n), at most \(limit) possible") }
    return Int(n)
  }

  public mutating func floats(_ n: Int, _ what: String) throws -> [Float] {
    guard n >= 0, n <= remaining / 4 else { throw FormatError("\(what) claims \(n) floats, room for \(remaining / 4)") }
    return try take(4 * n, what).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
  }

  public mutating func text(_ what: String) throws -> String {
    let n = Int(try get(UInt32.self, "\(what) length"))
    return String(decoding: try take(n, what), as: UTF8.self)
  }
}
