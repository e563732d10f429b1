import Foundation

/// Explains why libtiff refused to open a file, by walking the TIFF header and first directory
/// ourselves: libtiff's open errors ("IO error during reading of ...") do not say whether the
/// file is not a TIFF at all or a TIFF cut short, and users need to know which.
struct TIFFStructureProbe {
  enum Verdict: Equatable { case notTIFF, truncated, intact }

  private let bytes: [UInt8]
  private let little: Bool

  static func examine(path: String) -> Verdict {
    guard let data = FileManager.default.contents(atPath: path) else { return .truncated }
    let bytes = [UInt8](data)
    if bytes.count < 4 {
      // Too short to hold a header: a cut-off TIFF if what is there matches one.
      let prefixes: [[UInt8]] = [[0x49, 0x49, 0x2A, 0x00], [0x4D, 0x4D, 0x00, 0x2A], [0x49, 0x49, 0x2B, 0x00], [0x4D, 0x4D, 0x00, 0x2B]]
      return prefixes.contains { Array($0.prefix(bytes.count)) == bytes } ? .truncated : .notTIFF
    }
    let little = bytes[0] == 0x49 && bytes[1] == 0x49
    guard little || (bytes[0] == 0x4D && bytes[1] == 0x4D) else { return .notTIFF }
    return TIFFStructureProbe(bytes: bytes, little: little).walk()
  }

  private func uint(_ at: UInt64, _ n: Int) -> UInt64? {
    guard at <= UInt64(bytes.count), UInt64(bytes.count) - at >= UInt64(n) else { return nil }
    let slice = bytes[Int(at)..<(Int(at) + n)]
    return (little ? slice.reversed() : Array(slice)).reduce(0) { $0 << 8 | UInt64($1) }
  }

  /// Checks that the first directory and every out-of-line tag value lie inside the file.
  private func walk() -> Verdict {
    guard let magic = uint(2, 2) else { return .truncated }
    let big: Bool
    switch magic {
    case 42: big = false
    case 43: big = true
    default: return .notTIFF
    }
    let offsetSize = big ? 8 : 4
    guard let ifd = uint(big ? 8 : 4, offsetSize),
      let entries = uint(ifd, big ? 8 : 2)
    else { return .truncated }
    let entrySize: UInt64 = big ? 20 : 12
    let first = ifd + UInt64(big ? 8 : 2)
    guard uint(first + entries * entrySize, offsetSize) != nil else { return .truncated }
    for e in 0..<entries {
      let at = first + e * entrySize
      guard let type = uint(at + 2, 2), let count = uint(at + 4, offsetSize) else { return .truncated }
      let length = count * Self.typeSize(type)
      if length > UInt64(offsetSize) {
        guard let valueOffset = uint(at + 4 + UInt64(offsetSize), offsetSize),
          valueOffset + length <= UInt64(bytes.count)
        else { return .truncated }
      }
    }
    return .intact
  }

  /// Bytes per value of each TIFF field type (unknown types count as 1).
  private static func typeSize(_ type: UInt64) -> UInt64 {
    switch type {
    case 3, 8: return 2            // SHORT, SSHORT
    case 4, 9, 11, 13: return 4    // LONG, SLONG, FLOAT, IFD
    case 5, 10, 12, 16, 17, 18: return 8  // RATIONAL, SRATIONAL, DOUBLE, LONG8, SLONG8, IFD8
    default: return 1
    }
  }
}
