import Foundation

/// The PatchCore baseline's own settings (everything else comes from the run's `RunConfig`).
public struct BaselineSettings: Codable, Equatable, Sendable {
  /// Fraction of each class's training tokens kept in the memory bank (1 = all of them).
  public var coreset: Double = 0.1
  /// Neighbours k: a token's score is its mean distance to the k nearest bank tokens.
  public var neighbours = 1
  /// Dimension of the random projection the greedy k-center search runs on (PatchCore: 128).
  /// Features with at most this many channels are searched as they are.
  public var projection = 128
  /// Share of a class's training images held out of its calibration bank when no separate
  /// validation split is available (see `Calibration`).
  public var calibrationFraction = 0.1

  public init(coreset: Double = 0.1, neighbours: Int = 1) {
    self.coreset = coreset
    self.neighbours = neighbours
  }

  /// Every value out of range, each naming its option.
  public func problems() -> [String] {
    var p: [String] = []
    if !(coreset > 0 && coreset <= 1) { p.append("--coreset: \(coreset) is not in (0, 1] (the fraction of training tokens kept)") }
    if neighbours < 1 { p.append("--neighbours: expected at least 1, got \(neighbours)") }
    if projection < 1 { p.append("projection: expected at least 1 dimension, got \(projection)") }
    if !(calibrationFraction > 0 && calibrationFraction < 1) {
      p.append("calibration fraction: \(calibrationFraction) is not in (0, 1)")
    }
    return p
  }

  /// The method column of reports: "PatchCore baseline (coreset 0.1, k=1)".
  public var methodLabel: String {
    "PatchCore baseline (coreset \(Self.format(coreset)), k=\(neighbours))"
  }

  /// A fraction without trailing zeros: 0.1, 0.25, 1.
  static func format(_ x: Double) -> String {
    var s = String(format: "%.4f", x)
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
  }

  enum CodingKeys: String, CodingKey {
    case coreset, neighbours, projection, calibrationFraction = "calibration_fraction"
  }

  /// How many of `n` tokens a coreset keeps: ⌊coreset·n⌋ as PatchCore does (the 1e-9 keeps
  /// 0.1·30 = 3.0000000000000004 at 3), at least k so every query has k neighbours.
  public func keep(of n: Int) -> Int {
    guard n > 0 else { return 0 }
    return min(n, max(neighbours, 1, Int((coreset * Double(n) + 1e-9).rounded(.down))))
  }
}
