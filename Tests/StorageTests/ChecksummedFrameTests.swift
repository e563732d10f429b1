import Foundation
import Testing

@testable import Storage

/// The container checkpoints and feature-cache entries share: every byte a checksum covers is
/// verified before a size from the header is used, and the readers never trap on short input.
@Suite("Storage: checksummed zstd frames and little-endian fields")
struct ChecksummedFrameTests {
  let frame = ChecksummedFrame(magic: "TESTFRM")
  let payload = (0..<3000).map { UInt8(truncatingIfNeeded: $0 * 7 / 5) }

  func open(_ bytes: [UInt8], _ coverage: ChecksummedFrame.Coverage) throws -> [UInt8] {
    let opened = try frame.open(bytes) { v, _ in
      guard v == 3 else { throw FormatError("version \(v)") }
      return (5, coverage)
    }
    #expect(Array(opened.fields) == [1, 2, 3, 4, 5])
    return try opened.payload(rawSizeAtMost: 1 << 20)
  }

  @Test func roundTripsAndCatchesEveryFlippedCoveredByte() throws {
    for coverage in [ChecksummedFrame.Coverage.afterMagic, .everything] {
      let bytes = try frame.encode(version: 3, fields: [1, 2, 3, 4, 5], payload: payload, coverage: coverage)
      #expect(try open(bytes, coverage) == payload)
      for i in bytes.indices {
        var b = bytes
        b[i] ^= 0x04
        #expect(throws: FormatError.self, "\(coverage): byte \(i)") { try open(b, coverage) }
      }
      for cut in [0, 7, 12, 20, bytes.count - 1] {
        #expect(throws: FormatError.self, "\(coverage): cut at \(cut)") { try open(Array(bytes.prefix(cut)), coverage) }
      }
    }
  }

  /// Payload-only coverage (old checkpoints): the sizes are checked against the file and the zstd frame.
  @Test func payloadCoverageStillChecksTheSizes() throws {
    let bytes = try frame.encode(version: 3, fields: [1, 2, 3, 4, 5], payload: payload, coverage: .payload)
    #expect(try open(bytes, .payload) == payload)
    let sizes = 8 + 4 + 5
    for (offset, what) in [(sizes + 2, "raw size"), (sizes + 8 + 1, "compressed size"), (bytes.count - 10, "payload")] {
      var b = bytes
      b[offset] ^= 0x40
      #expect(throws: FormatError.self, "\(what)") { try open(b, .payload) }
    }
  }

  @Test func rawSizeIsBoundedBeforeExpanding() throws {
    let bytes = try frame.encode(version: 3, fields: [1, 2, 3, 4, 5], payload: payload, coverage: .everything)
    let opened = try frame.open(bytes) { _, _ in (5, .everything) }
    #expect(throws: FormatError("raw size 3000 bytes, at most 2999 possible")) { try opened.payload(rawSizeAtMost: 2999) }
    #expect(throws: FormatError("bad magic")) { try ChecksummedFrame(magic: "OTHERFM").open(bytes) { _, _ in (5, .everything) } }
  }

  @Test func readerNamesTheFieldThatRunsPastTheEnd() throws {
    var w = ByteWriter()
    w.put(UInt32(7))
    w.put(text: "gram/x")
    w.put(UInt64(1_000_000))
    w.put(floats: [1.5, -2])
    var r = ByteReader(w.bytes[...])
    #expect(try r.get(UInt32.self, "count") == 7 && r.text("name") == "gram/x")
    #expect(throws: FormatError("length claims 1000000, at most 4 possible")) { try r.count("length", atMost: r.remaining / 4) }
    #expect(try r.floats(2, "values") == [1.5, -2] && r.remaining == 0)
    #expect(throws: FormatError("tail: needs 8 bytes, 0 left")) { try r.get(UInt64.self, "tail") }
    var short = ByteReader(w.bytes[0..<6])
    _ = try short.get(UInt32.self, "count")
    #expect(throws: FormatError("name length: needs 4 bytes, 2 left")) { try short.text("name") }
  }
}
