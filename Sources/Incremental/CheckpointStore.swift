import Backbone
import Foundation

/// Where a run is in its schedule: the next (step, epoch, iteration) to train.
public struct RunPosition: Codable, Comparable, CustomStringConvertible, Sendable {
  public var step: Int, epoch: Int, iteration: Int
  public init(step: Int, epoch: Int, iteration: Int) { self.step = step; self.epoch = epoch; self.iteration = iteration }
  public static func < (a: RunPosition, b: RunPosition) -> Bool { (a.step, a.epoch, a.iteration) < (b.step, b.epoch, b.iteration) }
  public var description: String { "step \(step + 1), epoch \(epoch + 1), iteration \(iteration + 1)" }
}

/// How `iumad train` starts: from the newest valid checkpoint of the run directory, from scratch,
/// or from a given checkpoint file.
public enum ResumeMode: Equatable, Sendable {
  case auto, never, path(String)

  public init(_ text: String) {
    switch text {
    case "auto": self = .auto
    case "never": self = .never
    default: self = .path(text)
    }
  }
}

/// The checkpoint files of a run directory: `checkpoints/ckpt-S-E-I.iumad`, newest last K kept.
public struct CheckpointStore {
  public let directory: URL
  public let keep: Int

  public init(runDirectory: URL, keep: Int) {
    directory = runDirectory.appendingPathComponent("checkpoints")
    self.keep = max(1, keep)
  }

  func url(_ p: RunPosition) -> URL {
    directory.appendingPathComponent(String(format: "ckpt-%03d-%05d-%06d.iumad", p.step, p.epoch, p.iteration))
  }

  /// Writes `checkpoint` for `position` and removes the oldest beyond `keep`.
  public func save(_ checkpoint: Checkpoint, at position: RunPosition) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try checkpoint.write(to: url(position))
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.filter { $0.hasSuffix(".iumad") }.sorted() ?? []
    for old in files.dropLast(keep) { try? FileManager.default.removeItem(at: directory.appendingPathComponent(old)) }
  }

  /// What `--resume auto` found: the newest checkpoint that decodes and verifies (if any), and a
  /// line for each newer one that was skipped (truncated, flipped bytes, …).
  public struct Selection {
    public var checkpoint: Checkpoint?
    public var path: String?
    public var skipped: [String] = []
  }

  public func newestValid() -> Selection {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.filter { $0.hasSuffix(".iumad") }.sorted() ?? []
    var selection = Selection()
    for f in files.reversed() {
      let path = directory.appendingPathComponent(f).path
      do {
        selection.checkpoint = try Self.read(path)
        selection.path = path
        return selection
      } catch {
        selection.skipped.append("\(path): \(error)")
      }
    }
    return selection
  }

  /// Reads and verifies one checkpoint file.
  public static func read(_ path: String) throws -> Checkpoint {
    guard let data = FileManager.default.contents(atPath: path) else { throw CheckpointError.io("cannot read '\(path)'") }
    return try Checkpoint.decode([UInt8](data))
  }
}
