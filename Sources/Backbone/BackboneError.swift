// MARK: typed errors of the Backbone module; each names the file or tensor at fault

public enum BackboneError: Error, CustomStringConvertible, Equatable {
  case unreadableFile(path: String, reason: String)
  case malformedSafeTensors(path: String, reason: String)
  case unsupportedDType(path: String, tensor: String, dtype: String)
  case missingTensor(source: String, tensor: String, expectedShape: [Int])
  case shapeMismatch(source: String, tensor: String, expected: [Int], found: [Int])
  case unknownArchitecture(name: String, known: [String])
  case badInputSize(size: Int, reason: String)
  case badInput(reason: String)
  case malformedNPY(path: String, reason: String)

  public var description: String {
    switch self {
    case let .unreadableFile(path, reason): return "cannot read '\(path)': \(reason)"
    case let .malformedSafeTensors(path, reason): return "'\(path)' is not a valid safetensors file: \(reason)"
    case let .unsupportedDType(path, tensor, dtype):
      return "'\(path)': tensor '\(tensor)' has dtype \(dtype); supported: F32, F16, BF16, F64"
    case let .missingTensor(source, tensor, shape):
      return "'\(source)': missing weight tensor '\(tensor)' (expected shape \(shape), found none)"
    case let .shapeMismatch(source, tensor, expected, found):
      return "'\(source)': weight tensor '\(tensor)' has shape \(found), expected \(expected)"
    case let .unknownArchitecture(name, known):
      return "unknown backbone '\(name)'; known: \(known.joined(separator: ", "))"
    case let .badInputSize(size, reason): return "input size \(size): \(reason)"
    case let .badInput(reason): return reason
    case let .malformedNPY(path, reason): return "'\(path)' is not a supported .npy file: \(reason)"
    }
  }
}
