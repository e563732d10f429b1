import ImageIO

/// A problem with a dataset's files. Every case names the file at fault and what was expected,
/// so that the list printed before training (or by `iumad dataset inspect`) can be acted on.
public enum DatasetError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The dataset root does not exist or is not a directory.
  case missingRoot(path: String)
  /// The root holds no samples in the expected layout.
  case emptyRoot(path: String, layout: String)
  /// `path` exists but the file it must be paired with does not.
  case missingPartner(path: String, partner: String)
  /// A file named by a meta file or layout is missing.
  case missingFile(path: String, referencedBy: String)
  /// An image could not be read (wraps the ImageIO error, which names the file and the reason).
  case unreadableImage(ImageIOError)
  case wrongChannelCount(path: String, expected: String, found: Int)
  /// Image sizes within one sample disagree (rgb vs depth vs mask).
  case sizeMismatch(path: String, size: String, expected: String, reference: String)
  /// No pixel of the depth/xyz map holds a valid (finite, non-zero) depth.
  case allInvalidDepth(path: String)
  /// A meta file names a class that is not in the known class list.
  case unknownClass(path: String, line: Int, className: String, known: [String])
  /// A line of a JSONL meta file is malformed.
  case badMetaLine(path: String, line: Int, reason: String)
  /// A YAML side file (Eyecandies info/metadata) is missing a key or malformed.
  case badYAML(path: String, reason: String)

  public var description: String {
    switch self {
    case .missingRoot(let p):
      return "dataset root '\(p)' does not exist or is not a directory"
    case .emptyRoot(let p, let layout):
      return "dataset root '\(p)' holds no samples in the \(layout) layout"
    case .missingPartner(let p, let partner):
      return "'\(p)': its partner file '\(partner)' is missing"
    case .missingFile(let p, let by):
      return "'\(p)' (named by \(by)) does not exist"
    case .unreadableImage(let e):
      return e.description
    case .wrongChannelCount(let p, let expected, let found):
      return "'\(p)' has \(found) channel\(found == 1 ? "" : "s"), expected \(expected)"
    case .sizeMismatch(let p, let size, let expected, let reference):
      return "'\(p)' is \(size) but '\(reference)' is \(expected); the images of a sample must have the same size"
    case .allInvalidDepth(let p):
      return "'\(p)' has no valid depth: every point is 0 or NaN"
    case .unknownClass(let p, let line, let name, let known):
      return "'\(p)' line \(line): unknown class '\(name)' (known: \(known.joined(separator: ", ")))"
    case .badMetaLine(let p, let line, let reason):
      return "'\(p)' line \(line): \(reason)"
    case .badYAML(let p, let reason):
      return "'\(p)': \(reason)"
    }
  }
}

/// Thrown when validation finds problems and bad samples may not be skipped: all of them at once.
public struct DatasetValidationError: Error, CustomStringConvertible, Sendable {
  public let problems: [DatasetError]

  public init(problems: [DatasetError]) { self.problems = problems }

  public var description: String {
    let lines = problems.map { "  - \($0.description)" }
    return "the dataset has \(problems.count) problem\(problems.count == 1 ? "" : "s"):\n"
      + lines.joined(separator: "\n")
  }
}
