import Foundation
import Testing

@testable import ImageIO

/// The files written by Scripts/make_fixtures_imageio.py and their expected values.
struct ImageIOFixtures: Decodable {
  struct TIFFCase: Decodable { let file: String; let width, height, channels: Int; let bits: [UInt32] }
  struct PNGCase: Decodable {
    let file: String
    let width, height, channels: Int
    let bit_depth: Int
    let samples: [UInt16]
  }
  struct Unsupported: Decodable { let file: String; let reason: String }
  struct ResizeCase: Decodable { let filter: String; let width, height: Int; let bits: [UInt32] }
  struct ResizeSet: Decodable { let width, height: Int; let source_bits: [UInt32]; let cases: [ResizeCase] }

  let tiff: [TIFFCase]
  let png: [PNGCase]
  let tiff_unsupported: [Unsupported]
  let resize: ResizeSet

  static let directory: URL = Bundle.module.resourceURL!.appendingPathComponent("imageio")

  static func load() throws -> ImageIOFixtures {
    let data = try Data(contentsOf: directory.appendingPathComponent("expected.json"))
    return try JSONDecoder().decode(ImageIOFixtures.self, from: data)
  }

  static func path(_ file: String) -> String { directory.appendingPathComponent(file).path }
}

/// A fresh temporary directory, removed when the closure returns.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
  let dir = FileManager.default.temporaryDirectory
    .appendingPathComponent("iumad-imageio-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: dir) }
  return try body(dir)
}

/// Writes the first `length` bytes of `source` to `destination`.
func writeTruncated(_ source: String, to destination: String, length: Int) throws {
  let data = try Data(contentsOf: URL(fileURLWithPath: source))
  try data.prefix(length).write(to: URL(fileURLWithPath: destination))
}

func floatBits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

/// How many positions differ (a length difference counts as that many mismatches): a short
/// failure message where printing two whole images would bury it.
func mismatches<T: Equatable>(_ a: [T], _ b: [T]) -> Int {
  zip(a, b).filter { $0 != $1 }.count + abs(a.count - b.count)
}
