import Tensor

/// Sums equal-length float vectors in a balanced pairwise tree, ((x0+x1)+(x2+x3))…, keeping at
/// most log₂(n)+1 partial sums. For a power-of-two count the tree is the one a power-of-two
/// rank-ordered all-reduce builds, so micro-batch gradients summed here in one process equal,
/// bit for bit, the same micro-batches spread over 2, 4, … ranks.
public struct PairwiseSum {
  /// (tree level, partial sum): levels strictly decrease from bottom to top.
  private var stack: [(level: Int, sum: [Float])] = []

  public init() {}

  public mutating func add(_ x: [Float]) {
    stack = Self.push(x, onto: stack)
  }

  /// The total (leftover partials folded from the right); nil when nothing was added.
  public func total() -> [Float]? { Self.fold(stack) }

  /// Elements `range` of the total after adding `last` (that range of one more vector): the same
  /// arithmetic as `add` then `total`, element by element, so a caller can finish the sum one
  /// tensor at a time while the last backward is still running. Zeros when nothing was added.
  public func total(range: Range<Int>, last: [Float]?) -> [Float] {
    var partial = stack.map { (level: $0.level, sum: Array($0.sum[range])) }
    if let last { partial = Self.push(last, onto: partial) }
    return Self.fold(partial) ?? [Float](repeating: 0, count: range.count)
  }

  static func push(_ x: [Float], onto stack: [(level: Int, sum: [Float])]) -> [(level: Int, sum: [Float])] {
    var stack = stack
    var item = (level: 0, sum: x)
    while let top = stack.last, top.level == item.level {
      stack.removeLast()
      check(top.sum.count == item.sum.count, "PairwiseSum: vectors of \(top.sum.count) and \(item.sum.count) elements")
      var s = top.sum
      for i in 0..<s.count { s[i] += item.sum[i] }
      item = (level: item.level + 1, sum: s)
    }
    stack.append(item)
    return stack
  }

  static func fold(_ stack: [(level: Int, sum: [Float])]) -> [Float]? {
    guard var acc = stack.last?.sum else { return nil }
    for part in stack.dropLast().reversed() {
      var s = part.sum
      for i in 0..<s.count { s[i] += acc[i] }
      acc = s
    }
    return acc
  }
}
