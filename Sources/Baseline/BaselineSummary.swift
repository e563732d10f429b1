import Foundation
import Metrics

/// `RUN/baseline.json`: the baseline's settings and, per step, what its memory held, the
/// normalisation statistics it scored with, and its wall time (the metrics themselves are in
/// metrics.json, written by the shared `StepEvaluator`).
public struct BaselineSummary: Codable {
  public struct ModalityState: Codable {
    public var modality: String
    /// Tokens in the memory bank after the step.
    public var bankTokens: Int
    /// Statistics of defect-free nearest-neighbour distances the z-scores used.
    public var distanceMean: Double
    public var distanceStd: Double
    public var calibrationTokens: Int

    enum CodingKeys: String, CodingKey {
      case modality, bankTokens = "bank_tokens", distanceMean = "distance_mean", distanceStd = "distance_std",
        calibrationTokens = "calibration_tokens"
    }
  }

  public struct Step: Codable {
    public var step: Int
    public var newClasses: [String]
    public var modalities: [ModalityState]
    /// Per class added at this step: where its calibration distances came from.
    public var calibration: [String: String]
    public var mean: ClassMetrics?
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
      case step, newClasses = "new_classes", modalities, calibration, mean, seconds
    }
  }

  public var method: String
  public var settings: BaselineSettings
  public var steps: [Step] = []

  public init(settings: BaselineSettings) {
    self.settings = settings
    method = settings.methodLabel
  }

  public func write(to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(self).write(to: url, options: .atomic)
  }
}
