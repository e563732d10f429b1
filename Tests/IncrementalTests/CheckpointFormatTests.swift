import Foundation
import Storage
import Testing
import TestSupport
@testable import Incremental
@testable import Runs

/// The checkpoint container: every header byte is checked before anything is allocated from it,
/// version 1 files still read, rotation by position, and write errors carry the system's reason.
@Suite("Checkpoint format")
struct CheckpointFormatTests {
  func sample() -> Checkpoint {
    var c = Checkpoint(configHash: 0x1234, shapeHash: 0x5678)
    c.floats["w"] = (0..<1000).map { Float($0) * 0.5 }
    c.texts["position"] = #"{"step":0,"epoch":1,"iteration":2}"#
    return c
  }

  @Test func roundTripsAndRejectsEveryFlippedByte() throws {
    let bytes = try sample().encoded()
    let back = try Checkpoint.decode(bytes)
    #expect(back.floats == sample().floats && back.texts == sample().texts && back.configHash == 0x1234 && back.shapeHash == 0x5678)
    // Each byte of the 52-byte header, and some payload bytes: never accepted, never a trap.
    for offset in Array(0..<52) + [60, bytes.count / 2, bytes.count - 1] {
      var damaged = bytes
      damaged[offset] ^= 0x10
      #expect(throws: CheckpointError.self, "byte \(offset)") { try Checkpoint.decode(damaged) }
    }
    #expect(throws: CheckpointError.self) { try Checkpoint.decode(Array(bytes.prefix(bytes.count - 7))) }
  }

  @Test func versionOneIsReadAndItsRawSizeCheckedAgainstTheFrame() throws {
    // Version 1: the same header, the checksum over the payload only.
    var v2 = try sample().encoded()
    let payload = Array(v2[52...])
    v2[8] = 1
    let h = FNV1a64.hash(payload)
    for k in 0..<8 { v2[44 + k] = UInt8(truncatingIfNeeded: h >> (8 * UInt64(k))) }
    let back = try Checkpoint.decode(v2)
    #expect(back.floats == sample().floats)
    // A raw size of 1 TB in a version-1 header is caught by the zstd frame's own size.
    v2[28 + 5] = 0x01
    #expect(throws: CheckpointError.self) { try Checkpoint.decode(v2) }
  }

  @Test func diskFullIsReportedAsSuch() throws {
    let fd = open("/dev/full", O_WRONLY)
    try #require(fd >= 0, "/dev/full is not available")
    defer { close(fd) }
    do {
      try Checkpoint.writeFully([UInt8](repeating: 7, count: 1 << 16), to: fd, path: "/dev/full")
      Issue.record("writing to /dev/full succeeded")
    } catch let e as CheckpointError {
      #expect(e.description.contains("/dev/full") && e.description.contains("No space left on device"), "\(e)")
    }
  }

  @Test func rotationKeepsTheNewestBeforeThePositionWritten() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-rotation-\(UUID().uuidString)")
    let store = CheckpointStore(runDirectory: dir, keep: 2)
    let c = sample()
    for p in [RunPosition(step: 0, epoch: 1, iteration: 0), RunPosition(step: 0, epoch: 2, iteration: 0), RunPosition(step: 1, epoch: 0, iteration: 0)] {
      try store.save(c, at: p)
    }
    #expect(store.positions().map(\.name) == ["ckpt-000-00002-000000.iumad", "ckpt-001-00000-000000.iumad"])
    // Resumed from an older position: the later files belong to a timeline the run left.
    try store.save(c, at: RunPosition(step: 0, epoch: 1, iteration: 5))
    #expect(store.positions().map(\.name) == ["ckpt-000-00001-000005.iumad"])
    FileManager.default.createFile(atPath: dir.appendingPathComponent("checkpoints/ckpt-000-00001-000005.iumad.tmp-42").path, contents: Data())
    #expect(store.removeLeftovers().count == 1)
    #expect(store.positions().count == 1)
  }
}


/// Files written before the container moved to Storage (Tests/Fixtures/storage, written by
/// commit 0b9d614) still read, and a new file has the documented layout.
@Suite("Checkpoint format: files on disk stay readable")
struct CheckpointCompatibilityTests {
  @Test func aVersionTwoFileFromBeforeReads() throws {
    let bytes = [UInt8](try Data(contentsOf: packageRoot.appendingPathComponent("Tests/Fixtures/storage/checkpoint-v2.iumad")))
    let c = try Checkpoint.decode(bytes)
    #expect(c.configHash == 0x1234 && c.shapeHash == 0x5678)
    #expect(c.floats["w"] == (0..<256).map { Float($0) * 0.5 } && c.floats["b"] == [1, -2, 3.25])
    #expect(c.texts == ["position": #"{"step":0,"epoch":1,"iteration":2}"#])
    // Re-encoded: the same header fields at the same offsets, and the same payload.
    let again = try c.encoded()
    #expect(Array(again[0..<36]) == Array(bytes[0..<36]), "magic, version, hashes, raw size")
    #expect(try Checkpoint.decode(again).floats == c.floats)
  }
}
