/// One modality's memory bank: the coreset tokens of every class learned so far. It only grows
/// (a nearest-neighbour method does not forget), and keeps ‖token‖² for the distance GEMMs.
public struct MemoryBank {
  public let dim: Int
  /// [count, dim], row-major, classes in the order they were added.
  public private(set) var tokens: [Float] = []
  public private(set) var norms: [Float] = []
  /// Tokens each class contributed, in the order added.
  public private(set) var classTokens: [(className: String, count: Int)] = []

  public init(dim: Int) { self.dim = dim }

  public var count: Int { norms.count }

  public mutating func append(_ rows: [Float], of className: String) {
    precondition(rows.count % dim == 0, "MemoryBank.append: \(rows.count) values are not rows of \(dim)")
    tokens += rows
    norms += PairwiseDistances(dim: dim).norms(rows)
    classTokens.append((className, rows.count / dim))
  }
}

/// Mean and standard deviation of nearest-neighbour distances, accumulated over classes (sums in
/// Double, so adding a class never loses the earlier ones' precision).
public struct DistanceStatistics: Codable, Equatable, Sendable {
  public private(set) var count = 0
  public private(set) var sum: Double = 0
  public private(set) var sumOfSquares: Double = 0

  public init() {}

  public mutating func add(_ values: [Float]) {
    for v in values {
      count += 1
      sum += Double(v)
      sumOfSquares += Double(v) * Double(v)
    }
  }

  public var mean: Double { count > 0 ? sum / Double(count) : 0 }

  /// Population standard deviation; 1 when undefined or zero, so z-scores stay finite.
  public var std: Double {
    guard count > 1 else { return 1 }
    let v = max(0, sumOfSquares / Double(count) - mean * mean)
    return v > 0 ? v.squareRoot() : 1
  }

  /// (value − mean) / std.
  public func standardise(_ values: [Float]) -> [Float] {
    let m = Float(mean), s = Float(std)
    return values.map { ($0 - m) / s }
  }
}
