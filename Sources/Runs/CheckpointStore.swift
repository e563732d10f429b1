import Foundation
import Incremental

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

  /// Writes `checkpoint` for `position`, then keeps the newest `keep` at or before it. Files
  /// after `position` are from a timeline this run left (it resumed from an older checkpoint):
  /// removed, so rotation never keeps them in place of the run's own.
  /// Returns the files it removed.
  @discardableResult
  public func save(_ checkpoint: Checkpoint, at position: RunPosition) throws -> [String] {
    do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
      throw CheckpointError.io("cannot create '\(directory.path)': \(error.localizedDescription)")
    }
    try checkpoint.write(to: url(position))
    let files = positions()
    let kept = files.filter { $0.position <= position }.suffix(keep).map(\.name)
    return files.filter { !kept.contains($0.name) }.compactMap { f in
      (try? FileManager.default.removeItem(at: directory.appendingPathComponent(f.name))).map { f.name }
    }
  }

  /// The checkpoint files by position (oldest first); names that are not `ckpt-S-E-I.iumad` are ignored.
  func positions() -> [(name: String, position: RunPosition)] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.compactMap { name -> (String, RunPosition)? in
      guard name.hasPrefix("ckpt-"), name.hasSuffix(".iumad") else { return nil }
      let parts = name.dropFirst(5).dropLast(6).split(separator: "-").compactMap { Int($0) }
      guard parts.count == 3 else { return nil }
      return (name, RunPosition(step: parts[0], epoch: parts[1], iteration: parts[2]))
    }.sorted { $0.1 < $1.1 }
  }

  /// Removes temporary files of checkpoint writes that were killed (`*.tmp-PID`); the lines say which.
  public func removeLeftovers() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.contains(".iumad.tmp-") }.sorted().compactMap { name in
      let path = directory.appendingPathComponent(name).path
      return (try? FileManager.default.removeItem(atPath: path)).map { "removed \(path), left by a checkpoint write that was interrupted" }
    }
  }

  /// What `--resume auto` found: the newest checkpoint that decodes and verifies (if any), and a
  /// line for each newer one that was skipped (truncated, flipped bytes, …).
  public struct Selection {
    public var checkpoint: Checkpoint?
    public var path: String?
    public var skipped: [String] = []
  }

  public func newestValid() -> Selection {
    var selection = Selection()
    for f in positions().reversed().map(\.name) {
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
