/// Problems only the baseline has (everything else is a `RunSetupError` of the shared pipeline).
public enum BaselineError: Error, CustomStringConvertible, Equatable {
  /// Normalisation statistics need a defect-free image outside the bank.
  case tooFewCalibrationImages(className: String, trainingImages: Int)

  public var description: String {
    switch self {
    case .tooFewCalibrationImages(let c, let n):
      return "class '\(c)': \(n) training image(s); the baseline needs at least 2 (one is held out to measure "
        + "defect-free nearest-neighbour distances), or a validation split that data.train_splits does not include"
    }
  }
}
