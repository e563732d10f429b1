/// Why a metric could not be computed. Every case names what was being measured (`what`, e.g.
/// "class 'bagel' image scores") or the file at fault, and what was expected instead.
///
/// A metric that is undefined for its input (AUROC with only one class present, AUPRO without
/// any defect region) is an error rather than NaN: NaN would travel silently into means, FM and
/// JSON (which cannot even encode it).
public enum MetricsError: Error, Equatable, Sendable, CustomStringConvertible {
  /// AUROC needs at least one positive and one negative.
  case oneClassOnly(what: String, positives: Int, negatives: Int)
  /// AUPRO needs at least one connected defect region and at least one defect-free pixel.
  case noDefectRegion(what: String)
  case noDefectFreePixel(what: String)
  /// Two arrays that must pair up element by element have different lengths.
  case countMismatch(what: String, expected: Int, found: Int)
  /// A score is NaN (scores cannot be ordered then).
  case nanScore(what: String, index: Int)
  /// A label other than 0 (good) or 1 (defect).
  case invalidLabel(what: String, index: Int, value: Int)
  /// An argument outside its domain (integration limit, pooling size, image size ...).
  case invalidArgument(what: String, reason: String)
  /// An anomaly map file that `iumad evaluate` needs is not there.
  case missingMap(path: String, sample: String)
  /// An anomaly map file has the wrong number of channels or the wrong size.
  case badMap(path: String, reason: String)

  public var description: String {
    switch self {
    case .oneClassOnly(let what, let p, let n):
      return "\(what): AUROC needs both good and defective samples, found \(p) defective and \(n) good"
    case .noDefectRegion(let what):
      return "\(what): AUPRO needs at least one defect region in the ground truth, found none"
    case .noDefectFreePixel(let what):
      return "\(what): AUPRO needs defect-free pixels to measure false positives, found none"
    case .countMismatch(let what, let expected, let found):
      return "\(what): expected \(expected) values, found \(found)"
    case .nanScore(let what, let index):
      return "\(what): score \(index) is NaN"
    case .invalidLabel(let what, let index, let value):
      return "\(what): label \(index) is \(value), expected 0 (good) or 1 (defect)"
    case .invalidArgument(let what, let reason):
      return "\(what): \(reason)"
    case .missingMap(let path, let sample):
      return "anomaly map '\(path)' (for test image '\(sample)') does not exist"
    case .badMap(let path, let reason):
      return "anomaly map '\(path)': \(reason)"
    }
  }
}
