import Yams

/// YAML read from files a user (or a model file) hands us, with bounds: a 560-byte document of
/// nested aliases ("billion laughs") otherwise expands to gigabytes when turned into values, and
/// deep flow nesting overflows the parser's stack. Aliases themselves are fine within the bound.
public enum BoundedYAML {
  public static let maxBytes = 1 << 20
  /// Nodes after alias expansion; a full resolved config has about 150.
  public static let maxNodes = 100_000
  public static let maxFlowDepth = 64

  public struct LimitError: Error, CustomStringConvertible {
    public let description: String
  }

  /// The document as plain values (`Yams.load`), or an error naming the bound it exceeds.
  public static func load(_ text: String) throws -> Any? {
    guard text.utf8.count <= maxBytes else {
      throw LimitError(description: "\(text.utf8.count) bytes; a configuration is at most \(maxBytes) bytes")
    }
    var depth = 0
    for c in text.utf8 {
      if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") { depth += 1 } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") { depth -= 1 }
      if depth > maxFlowDepth { throw LimitError(description: "brackets nested deeper than \(maxFlowDepth)") }
    }
    guard let node = try Yams.compose(yaml: text) else { return nil }
    var budget = maxNodes
    guard fits(node, &budget) else {
      throw LimitError(description: "expands to more than \(maxNodes) values (aliases of aliases?)")
    }
    return node.any
  }

  static func fits(_ node: Node, _ budget: inout Int) -> Bool {
    budget -= 1
    guard budget >= 0 else { return false }
    switch node {
    case .scalar, .alias: return true
    case .mapping(let m): return m.allSatisfy { fits($0.key, &budget) && fits($0.value, &budget) }
    case .sequence(let s): return s.allSatisfy { fits($0, &budget) }
    }
  }
}
