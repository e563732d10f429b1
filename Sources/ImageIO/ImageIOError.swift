/// Why an image could not be read or written. Every case names the file, so a message printed
/// during dataset validation points straight at the bad input.
public enum ImageIOError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file could not be opened or created (missing, permissions, ...).
  case cannotOpen(path: String, reason: String)
  /// The bytes are not a file of the expected format.
  case wrongFormat(path: String, expected: String)
  /// The file ends before all of its image data.
  case truncated(path: String)
  /// The data is damaged or inconsistent; `reason` is the decoder's own text.
  case corrupt(path: String, reason: String)
  /// A valid file that uses a feature we do not read (e.g. an integer TIFF where float32 is needed).
  case unsupported(path: String, reason: String)
  /// Writing failed part-way (disk full, encoder error, invalid image for the format).
  case cannotWrite(path: String, reason: String)

  public var path: String {
    switch self {
    case .cannotOpen(let p, _), .wrongFormat(let p, _), .truncated(let p), .corrupt(let p, _),
      .unsupported(let p, _), .cannotWrite(let p, _):
      return p
    }
  }

  public var description: String {
    switch self {
    case .cannotOpen(let p, let r):
      // Foundation lists a name that is not valid UTF-8 with U+FFFD in place of its bytes, and
      // that name then does not exist: say so instead of "No such file or directory".
      if p.contains("\u{FFFD}") {
        return "cannot open '\(p)': the file name is not valid UTF-8 (the undecodable bytes are shown as \u{FFFD}); rename the file"
      }
      return "cannot open '\(p)': \(r)"
    case .wrongFormat(let p, let e): return "'\(p)' is not a \(e) file"
    case .truncated(let p): return "'\(p)' is truncated: the file ends before its image data does"
    case .corrupt(let p, let r): return "'\(p)' is corrupt: \(r)"
    case .unsupported(let p, let r): return "'\(p)' is not supported: \(r)"
    case .cannotWrite(let p, let r): return "cannot write '\(p)': \(r)"
    }
  }
}
