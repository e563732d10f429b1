import Foundation
import Incremental

/// `RUN/finished.json`: written by rank 0 once a run has trained and evaluated every step of its
/// schedule. Multi-seed runs and studies skip a run directory holding one for the same
/// configuration, and refuse one written for another (its results would be mistaken for these).
public struct RunCompletion: Codable, Equatable {
  public static let fileName = "finished.json"

  /// `RunIdentity.hash` of the run (configuration and data), in hex.
  public var configHash: String
  public var steps: Int
  /// Wall time of the invocation that finished the run (a resumed run counts only its last part).
  public var seconds: Double

  public init(identity: RunIdentity, steps: Int, seconds: Double) {
    configHash = identity.hash
    self.steps = steps
    self.seconds = seconds
  }

  /// The marker in `directory`, or nil when there is none (or it cannot be read).
  public static func read(in directory: URL) -> RunCompletion? {
    guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(fileName).path) else { return nil }
    return try? JSONDecoder().decode(RunCompletion.self, from: data)
  }

  /// Removes the marker (a run about to train is not finished, whatever ran there before).
  public static func remove(in directory: URL) throws {
    let path = directory.appendingPathComponent(fileName).path
    if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
  }

  public func write(in directory: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(self).write(to: directory.appendingPathComponent(Self.fileName), options: .atomic)
  }

  enum CodingKeys: String, CodingKey {
    case configHash = "config_hash", steps, seconds
  }
}
