import Foundation
import Testing

@testable import ImageIO

@Suite struct TIFFTests {
  /// Values whose bits catch byte-order and plane-order mistakes, including NaN, ±inf and −0.
  static func pattern(width: Int, height: Int, channels: Int) -> Image {
    var rng = SystemRandomNumberGenerator()
    var data = (0..<(width * height * channels)).map { _ in Float(bitPattern: UInt32.random(in: 0...0x7F7F_FFFF, using: &rng)) * (Bool.random() ? 1 : -1) }
    data[0] = 0
    data[1] = .nan
    data[2] = -.infinity
    data[3] = -0.0
    return Image(width: width, height: height, channels: channels, data: data)
  }

  @Test(arguments: [1, 3], [TIFF.Compression.none, .lzw, .deflate, .packBits])
  func roundTripIsBitExact(channels: Int, compression: TIFF.Compression) throws {
    // Tall enough for several strips (strips are ~64 KiB).
    let image = Self.pattern(width: 97, height: 211, channels: channels)
    try withTemporaryDirectory { dir in
      let path = dir.appendingPathComponent("x.tiff").path
      try TIFF.write(image, to: path, compression: compression)
      let back = try TIFF.read(path)
      #expect(back.width == 97 && back.height == 211 && back.channels == channels)
      #expect(mismatches(floatBits(back.data), floatBits(image.data)) == 0)
    }
  }

  @Test func readsTifffileFixturesExactly() throws {
    let fixtures = try ImageIOFixtures.load()
    #expect(fixtures.tiff.count == 12)
    for f in fixtures.tiff {
      let image = try TIFF.read(ImageIOFixtures.path(f.file))
      #expect(image.width == f.width && image.height == f.height, "\(f.file)")
      #expect(image.channels == f.channels, "\(f.file)")
      #expect(mismatches(floatBits(image.data), f.bits) == 0, "\(f.file)")
    }
  }

  @Test func integerTIFFIsRefusedWithReason() throws {
    let fixtures = try ImageIOFixtures.load()
    for f in fixtures.tiff_unsupported {
      let path = ImageIOFixtures.path(f.file)
      #expect(throws: ImageIOError.unsupported(path: path, reason: "samples are \(f.reason), expected 32-bit float")) {
        try TIFF.read(path)
      }
    }
  }

  @Test func truncatedFileIsReportedNotCrashed() throws {
    for compression in [TIFF.Compression.none, .deflate] {
      let image = Self.pattern(width: 40, height: 30, channels: 3)
      try withTemporaryDirectory { dir in
        let whole = dir.appendingPathComponent("whole.tiff").path
        try TIFF.write(image, to: whole, compression: compression)
        let size = try Data(contentsOf: URL(fileURLWithPath: whole)).count
        for length in [0, 3, 7, 200, size / 2, size - 1] {
          let cut = dir.appendingPathComponent("cut\(length).tiff").path
          try writeTruncated(whole, to: cut, length: length)
          #expect(throws: ImageIOError.truncated(path: cut), "\(compression) cut at \(length)") { try TIFF.read(cut) }
        }
      }
    }
  }

  /// tifffile puts the directory before the data, so these cuts keep a readable directory and
  /// lose strips/tiles instead.
  @Test(arguments: ["gray_tiles_none.tiff", "rgb_tiles_contig_deflate.tiff", "rgb_strips_separate_none.tiff"])
  func truncatedDataAfterIntactDirectoryIsReported(fixture: String) throws {
    let source = ImageIOFixtures.path(fixture)
    let size = try Data(contentsOf: URL(fileURLWithPath: source)).count
    try withTemporaryDirectory { dir in
      for length in [size / 2, size - 1] {
        let cut = dir.appendingPathComponent("cut\(length).tiff").path
        try writeTruncated(source, to: cut, length: length)
        #expect(throws: ImageIOError.truncated(path: cut), "\(fixture) cut at \(length)") { try TIFF.read(cut) }
      }
    }
  }

  @Test func notATIFFAndMissingFile() throws {
    try withTemporaryDirectory { dir in
      let png = dir.appendingPathComponent("image.tiff").path
      try PNG.write(PixelImage(width: 2, height: 2, channels: 1, bitDepth: 8, samples: [1, 2, 3, 4]), to: png)
      #expect(throws: ImageIOError.wrongFormat(path: png, expected: "TIFF")) { try TIFF.read(png) }
      let missing = dir.appendingPathComponent("missing.tiff").path
      #expect(throws: ImageIOError.cannotOpen(path: missing, reason: "no such file")) { try TIFF.read(missing) }
    }
  }

  @Test func refusesChannelCountsItCannotLabel() throws {
    let image = Image(width: 2, height: 2, channels: 2, fill: 1)
    try withTemporaryDirectory { dir in
      let path = dir.appendingPathComponent("x.tiff").path
      #expect(throws: ImageIOError.cannotWrite(path: path, reason: "TIFF output holds 1 or 3 channels, got 2")) {
        try TIFF.write(image, to: path)
      }
    }
  }
}
