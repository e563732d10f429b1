import Foundation

/// One settable key of a configuration section: its name, help text and a typed setter that
/// accepts what YAML gives (Int, Double, Bool, String, lists) or what `--set key=value` gives
/// (a String), and returns a message naming the expected type when the value does not fit.
public struct ConfigKey<Root> {
  public let key: String
  public let help: String
  public let set: (inout Root, Any) -> String?
  /// The current value as YAML text (for the resolved config written into a run directory).
  public let render: (Root) -> String

  public init(_ key: String, _ help: String, set: @escaping (inout Root, Any) -> String?, render: @escaping (Root) -> String) {
    self.key = key
    self.help = help
    self.set = set
    self.render = render
  }

  public static func int(_ key: String, _ path: WritableKeyPath<Root, Int>, _ help: String, min: Int? = nil) -> ConfigKey {
    ConfigKey(key, help, set: { root, v in
      guard let i = v as? Int ?? (v as? String).flatMap({ Int($0) }) else { return "expected an integer, got '\(v)'" }
      if let min, i < min { return "must be at least \(min), got \(i)" }
      root[keyPath: path] = i
      return nil
    }, render: { "\($0[keyPath: path])" })
  }

  /// A finite number (nan and inf never make sense in a configuration) inside `range`.
  public static func float(_ key: String, _ path: WritableKeyPath<Root, Float>, _ help: String, _ range: NumberRange = .any) -> ConfigKey {
    ConfigKey(key, help, set: { root, v in
      guard let d = v as? Double ?? (v as? Int).map(Double.init) ?? (v as? String).flatMap({ Double($0) }) else {
        return "expected a number, got '\(v)'"
      }
      guard d.isFinite, Float(d).isFinite else { return "expected a finite number, got '\(v)'" }
      if !range.contains(d) { return "must be \(range), got \(d)" }
      root[keyPath: path] = Float(d)
      return nil
    }, render: { "\($0[keyPath: path])" })
  }

  public static func bool(_ key: String, _ path: WritableKeyPath<Root, Bool>, _ help: String) -> ConfigKey {
    ConfigKey(key, help, set: { root, v in
      if let b = v as? Bool { root[keyPath: path] = b; return nil }
      switch (v as? String)?.lowercased() {
      case "on", "true", "yes": root[keyPath: path] = true; return nil
      case "off", "false", "no": root[keyPath: path] = false; return nil
      default: return "expected on/off (or true/false), got '\(v)'"
      }
    }, render: { $0[keyPath: path] ? "on" : "off" })
  }

  public static func string(_ key: String, _ path: WritableKeyPath<Root, String>, _ help: String) -> ConfigKey {
    ConfigKey(key, help, set: { root, v in
      guard let s = v as? String ?? (v as? Int).map({ String($0) }) else { return "expected text, got '\(v)'" }
      root[keyPath: path] = s
      return nil
    }, render: { yamlQuoted($0[keyPath: path]) })
  }

  public static func stringList(_ key: String, _ path: WritableKeyPath<Root, [String]>, _ help: String) -> ConfigKey {
    ConfigKey(key, help, set: { root, v in
      if let list = v as? [Any] {
        guard list.allSatisfy({ $0 is String }) else { return "expected a list of names, got \(v)" }
        root[keyPath: path] = list as! [String]
        return nil
      }
      // `--set key=a,b,c` (or a single name).
      guard let s = v as? String else { return "expected a list of names, got '\(v)'" }
      root[keyPath: path] = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      return nil
    }, render: { "[" + $0[keyPath: path].map(yamlQuoted).joined(separator: ", ") + "]" })
  }

  public static func choice<E: RawRepresentable & CaseIterable>(_ key: String, _ path: WritableKeyPath<Root, E>, _ help: String) -> ConfigKey where E.RawValue == String {
    ConfigKey(key, help, set: { root, v in
      guard let s = v as? String, let e = E(rawValue: s) else {
        return "expected one of \(E.allCases.map(\.rawValue).joined(separator: ", ")), got '\(v)'"
      }
      root[keyPath: path] = e
      return nil
    }, render: { $0[keyPath: path].rawValue })
  }
}

/// Quotes text for YAML output when it could be misread as another type.
public func yamlQuoted(_ s: String) -> String {
  let plain = s.range(of: #"^[A-Za-z0-9_./+-][A-Za-z0-9_./+ -]*$"#, options: .regularExpression) != nil
  let ambiguous = ["on", "off", "yes", "no", "true", "false", "null", "~"].contains(s.lowercased()) || Double(s) != nil
  return plain && !ambiguous ? s : "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

/// A configuration section: a value type with a table of keys.
public protocol ConfigSection {
  static var sectionName: String { get }
  static var keys: [ConfigKey<Self>] { get }
  /// Keys earlier versions wrote (into run directories and model files) that no longer mean
  /// anything, with why: accepted and ignored, so those files still read.
  static var retiredKeys: [String: String] { get }
}

extension ConfigSection {
  public static var retiredKeys: [String: String] { [:] }

  /// Applies every entry of a YAML mapping; unknown keys and wrong types go to `problems`,
  /// each prefixed with `section.key`.
  public mutating func apply(_ dict: [String: Any], problems: inout [String], skipping: Set<String> = []) {
    for (key, value) in dict.sorted(by: { $0.key < $1.key }) where !skipping.contains(key) {
      set(key, value, problems: &problems)
    }
  }

  public mutating func set(_ key: String, _ value: Any, problems: inout [String]) {
    if Self.retiredKeys[key] != nil { return }
    guard let entry = Self.keys.first(where: { $0.key == key }) else {
      problems.append("\(Self.sectionName).\(key): unknown key (known: \(Self.keys.map(\.key).joined(separator: ", ")))")
      return
    }
    if let err = entry.set(&self, value) { problems.append("\(Self.sectionName).\(key): \(err)") }
  }

  /// The section as YAML lines (two-space indented), every key with its current value.
  public func yamlLines() -> [String] {
    Self.keys.map { "  \($0.key): \($0.render(self))" }
  }
}

/// Where a number key's values may lie; `description` completes "must be …".
public struct NumberRange: CustomStringConvertible, Sendable {
  public var lower: Double?, upper: Double?
  public var lowerOpen = false, upperOpen = false

  public static let any = NumberRange()
  /// ≥ 0: weights, decays, clips, sigmas.
  public static let nonNegative = NumberRange(lower: 0)
  /// > 0: learning rates, sizes.
  public static let positive = NumberRange(lower: 0, lowerOpen: true)
  /// [0, 1]: probabilities, fractions.
  public static let unit = NumberRange(lower: 0, upper: 1)
  /// [0, 1): Adam's β, dropout.
  public static let unitOpen = NumberRange(lower: 0, upper: 1, upperOpen: true)

  public init(lower: Double? = nil, upper: Double? = nil, lowerOpen: Bool = false, upperOpen: Bool = false) {
    self.lower = lower; self.upper = upper; self.lowerOpen = lowerOpen; self.upperOpen = upperOpen
  }

  public func contains(_ v: Double) -> Bool {
    if let lower, lowerOpen ? v <= lower : v < lower { return false }
    if let upper, upperOpen ? v >= upper : v > upper { return false }
    return true
  }

  public var description: String {
    switch (lower, upper) {
    case let (l?, u?): return "in \(lowerOpen ? "(" : "[")\(l), \(u)\(upperOpen ? ")" : "]")"
    case let (l?, nil): return lowerOpen ? "greater than \(l)" : "at least \(l)"
    case let (nil, u?): return upperOpen ? "less than \(u)" : "at most \(u)"
    default: return "a number"
    }
  }
}
