/// A loaded tensor that does not fit the parameter it is meant for.
public struct ParameterLoadError: Error, CustomStringConvertible {
  public let problems: [String]
  public var description: String { "cannot load parameters:\n  " + problems.joined(separator: "\n  ") }
}

extension ParameterStore {
  /// Copies values by name from `tensors`; every parameter must be present with its shape.
  /// Lists every missing or mismatched tensor (name and both shapes) in one error.
  public func load(_ tensors: [String: Tensor], prefix: String = "") throws {
    var problems: [String] = []
    for (name, p) in named {
      guard let t = tensors[prefix + name] else { problems.append("missing tensor '\(prefix + name)' (shape \(p.shape))"); continue }
      if t.shape != p.shape { problems.append("tensor '\(prefix + name)': file has shape \(t.shape), model expects \(p.shape)") }
    }
    if !problems.isEmpty { throw ParameterLoadError(problems: problems) }
    for (name, p) in named { p.assign(tensors[prefix + name]!.data) }
  }
}
