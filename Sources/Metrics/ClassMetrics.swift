/// The three per-class metrics of SPEC §8, by the names used in JSON, CSV and reports.
public enum MetricName: String, Codable, CodingKey, CaseIterable, Sendable, Comparable {
  case iAUROC = "i_auroc"
  case pAUROC = "p_auroc"
  case aupro

  /// The label in tables and plots.
  public var title: String {
    switch self {
    case .iAUROC: return "I-AUROC"
    case .pAUROC: return "P-AUROC"
    case .aupro: return "AUPRO"
    }
  }

  public static func < (a: MetricName, b: MetricName) -> Bool {
    allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
  }
}

/// One class's scores on its test set, as fractions in [0, 1].
public struct ClassMetrics: Codable, Equatable, Sendable {
  public var iAUROC: Double
  public var pAUROC: Double
  public var aupro: Double

  public init(iAUROC: Double, pAUROC: Double, aupro: Double) {
    self.iAUROC = iAUROC
    self.pAUROC = pAUROC
    self.aupro = aupro
  }

  public subscript(metric: MetricName) -> Double {
    switch metric {
    case .iAUROC: return iAUROC
    case .pAUROC: return pAUROC
    case .aupro: return aupro
    }
  }

  /// The element-wise mean of several classes' metrics; nil for none.
  public static func mean(_ all: [ClassMetrics]) -> ClassMetrics? {
    guard !all.isEmpty else { return nil }
    let n = Double(all.count)
    return ClassMetrics(iAUROC: all.map(\.iAUROC).reduce(0, +) / n,
                        pAUROC: all.map(\.pAUROC).reduce(0, +) / n,
                        aupro: all.map(\.aupro).reduce(0, +) / n)
  }

  enum CodingKeys: String, CodingKey {
    case iAUROC = "i_auroc", pAUROC = "p_auroc", aupro
  }
}
