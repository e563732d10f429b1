import Foundation
import Testing

@testable import ImageIO

@Suite struct PNGTests {
  /// Every channel count at both depths, with extreme and pseudo-random samples.
  static let shapes: [(channels: Int, bitDepth: Int)] = [(1, 8), (2, 8), (3, 8), (4, 8), (1, 16), (3, 16)]

  static func pattern(width: Int, height: Int, channels: Int, bitDepth: Int) -> PixelImage {
    let maxValue = UInt32(bitDepth == 8 ? 255 : 65535)
    let n = width * height * channels
    var samples = (0..<n).map { UInt16((UInt32($0) &* 2_654_435_761 >> 7) % (maxValue + 1)) }
    samples[0] = 0
    samples[n - 1] = UInt16(maxValue)
    return PixelImage(width: width, height: height, channels: channels, bitDepth: bitDepth, samples: samples)
  }

  @Test(arguments: shapes.indices)
  func roundTripIsBitExact(shape: Int) throws {
    let (channels, bitDepth) = Self.shapes[shape]
    let image = Self.pattern(width: 13, height: 7, channels: channels, bitDepth: bitDepth)
    try withTemporaryDirectory { dir in
      let path = dir.appendingPathComponent("x.png").path
      try PNG.write(image, to: path)
      let back = try PNG.read(path)
      #expect(back == image, "\(channels) channels, \(bitDepth) bit")
    }
  }

  @Test func writingIsDeterministic() throws {
    let image = Self.pattern(width: 31, height: 9, channels: 3, bitDepth: 8)
    try withTemporaryDirectory { dir in
      let a = dir.appendingPathComponent("a.png").path, b = dir.appendingPathComponent("b.png").path
      try PNG.write(image, to: a)
      try PNG.write(image, to: b)
      #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)))
    }
  }

  @Test func readsPillowFixturesExactly() throws {
    let fixtures = try ImageIOFixtures.load()
    #expect(fixtures.png.count == 6)
    for f in fixtures.png {
      let image = try PNG.read(ImageIOFixtures.path(f.file))
      #expect(image.width == f.width && image.height == f.height, "\(f.file)")
      #expect(image.channels == f.channels, "\(f.file)")
      #expect(image.bitDepth == f.bit_depth, "\(f.file)")
      #expect(mismatches(image.samples, f.samples) == 0, "\(f.file)")
    }
  }

  @Test func truncatedFileIsReportedNotCrashed() throws {
    let image = Self.pattern(width: 64, height: 48, channels: 3, bitDepth: 8)
    try withTemporaryDirectory { dir in
      let whole = dir.appendingPathComponent("whole.png").path
      try PNG.write(image, to: whole, compressionLevel: 0)
      let size = try Data(contentsOf: URL(fileURLWithPath: whole)).count
      // Cut inside the header, inside IDAT, and just before IEND.
      for length in [12, 40, size / 2, size - 13] {
        let cut = dir.appendingPathComponent("cut\(length).png").path
        try writeTruncated(whole, to: cut, length: length)
        #expect(throws: ImageIOError.truncated(path: cut)) { try PNG.read(cut) }
      }
    }
  }

  @Test func corruptDataNamesFileAndLibpngReason() throws {
    let image = Self.pattern(width: 16, height: 16, channels: 1, bitDepth: 8)
    try withTemporaryDirectory { dir in
      let path = dir.appendingPathComponent("bad.png").path
      try PNG.write(image, to: path)
      var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
      bytes[bytes.count / 2] ^= 0xFF  // inside IDAT: the CRC no longer matches
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      do {
        _ = try PNG.read(path)
        Issue.record("corrupt PNG was accepted")
      } catch let error as ImageIOError {
        guard case .corrupt(let p, let reason) = error else { Issue.record("got \(error)"); return }
        #expect(p == path)
        #expect(reason.contains("libpng"))
        #expect(error.description.contains(path))
      }
    }
  }

  @Test func notAPNGAndMissingFile() throws {
    try withTemporaryDirectory { dir in
      let text = dir.appendingPathComponent("text.png").path
      try Data("hello, not an image".utf8).write(to: URL(fileURLWithPath: text))
      #expect(throws: ImageIOError.wrongFormat(path: text, expected: "PNG")) { try PNG.read(text) }
      let missing = dir.appendingPathComponent("missing.png").path
      #expect(throws: ImageIOError.cannotOpen(path: missing, reason: "No such file or directory")) {
        try PNG.read(missing)
      }
    }
  }

  @Test func writeIntoMissingDirectoryFails() throws {
    let image = Self.pattern(width: 2, height: 2, channels: 1, bitDepth: 8)
    let path = "/nonexistent-iumad-dir/x.png"
    #expect(throws: ImageIOError.cannotOpen(path: path, reason: "No such file or directory")) {
      try PNG.write(image, to: path)
    }
  }
}
