/// An incremental schedule `B-k×s` (SPEC §7): a base step on the first B classes, then s steps
/// adding k classes each. `10-0` is one step; `6-4` is `6-4x1`.
public struct Schedule: Equatable, CustomStringConvertible, Sendable {
  public let base: Int, increment: Int, steps: Int

  public init(base: Int, increment: Int, steps: Int) {
    self.base = base
    self.increment = increment
    self.steps = increment == 0 ? 0 : steps
  }

  public static let maxNumber = 10_000

  /// Parses `B-k`, `B-kxs` or `B-k×s`; nil with a reason on failure.
  public static func parse(_ text: String) -> Result<Schedule, ScheduleError> {
    let t = text.replacingOccurrences(of: "×", with: "x").lowercased()
    let parts = t.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2, let b = Int(parts[0]), b >= 1 else { return .failure(.malformed(text)) }
    let right = parts[1].split(separator: "x", omittingEmptySubsequences: false)
    guard let k = Int(right[0]), k >= 0, right.count <= 2 else { return .failure(.malformed(text)) }
    var s = 1
    if right.count == 2 {
      guard let v = Int(right[1]), v >= 1 else { return .failure(.malformed(text)) }
      s = v
    }
    // Each number bounded, so class counts cannot overflow (no dataset has more classes).
    guard b <= maxNumber, k <= maxNumber, s <= maxNumber else { return .failure(.tooLarge(text, limit: maxNumber)) }
    return .success(Schedule(base: b, increment: k, steps: s))
  }

  public var totalClasses: Int { base + increment * steps }
  public var stepCount: Int { 1 + steps }

  public var description: String {
    increment == 0 ? "\(base)-0" : steps == 1 ? "\(base)-\(increment)" : "\(base)-\(increment)x\(steps)"
  }

  /// The classes trained at each step, taken in order from `classes`.
  public func stepClasses(_ classes: [String]) -> [[String]] {
    var out = [Array(classes.prefix(base))]
    for s in 0..<steps {
      let start = base + s * increment
      out.append(Array(classes[start..<(start + increment)]))
    }
    return out
  }
}

public enum ScheduleError: Error, Equatable, CustomStringConvertible {
  case malformed(String)
  case tooFewClasses(schedule: String, needed: Int, available: Int)
  case tooLarge(String, limit: Int)

  public var description: String {
    switch self {
    case .malformed(let s): return "schedule '\(s)' is not of the form B-k or B-kxs (e.g. 10-0, 9-1, 6-4, 6-1x4)"
    case .tooFewClasses(let s, let n, let a): return "schedule \(s) needs \(n) classes but the dataset has \(a)"
    case .tooLarge(let s, let limit): return "schedule '\(s)': each of B, k and s must be at most \(limit)"
    }
  }
}
