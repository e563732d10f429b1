import Backbone
import Foundation
import Incremental
import Model
import Tensor

/// A trained model for inference: parameters (safetensors) plus, in the file's metadata, the
/// resolved run config, the class list and the decision threshold chosen on validation data.
/// Written atomically to `RUN/model.safetensors` after every step; read by `iumad infer`.
public struct ModelBundle {
  public var config: RunConfig
  public var classes: [String]
  public var step: Int
  /// Image scores above this are called anomalous: the highest score of the validation samples
  /// (all defect-free), so no validation image is flagged.
  public var threshold: Float

  public static let fileName = "model.safetensors"

  /// Names of the non-trainable statistics stored beside the parameters.
  static let featureStatsPrefix = "stats.features.", mapStatsPrefix = "stats.map."

  public func write(_ model: IBIUMAD, to url: URL) throws {
    let classesJSON = String(decoding: try JSONSerialization.data(withJSONObject: classes), as: UTF8.self)
    let meta = ["format": "iumad-model/1", "config": config.yaml(), "classes": classesJSON,
                "step": String(step), "threshold": String(threshold)]
    var tensors = Dictionary(uniqueKeysWithValues: model.parameters.named.map { ($0.name, $0.tensor) })
    var stats = model.mapStatistics?.named(prefix: Self.mapStatsPrefix) ?? [:]
    for (m, s) in model.featureStatistics { stats[Self.featureStatsPrefix + m.rawValue] = s.packed }
    for (k, v) in stats { tensors[k] = Tensor(shape: [v.count], data: v) }
    try SafeTensorsFile.write(tensors, metadata: meta, to: url.path)
  }

  /// Reads a bundle and builds its model with the saved parameters.
  public static func load(_ path: String) throws -> (bundle: ModelBundle, model: IBIUMAD) {
    if let head = FileHandle(forReadingAtPath: path).map({ h in defer { try? h.close() }; return [UInt8](h.readData(ofLength: 8)) }),
       head == Checkpoint.magic {
      throw RunSetupError(["\(path) is a training checkpoint (for train --resume); models for inference are RUN/model.safetensors, written after every step"])
    }
    let file = try SafeTensorsFile(path: path)
    guard file.metadata["format"] == "iumad-model/1", let yaml = file.metadata["config"],
      let classesText = file.metadata["classes"],
      let classes = (try? JSONSerialization.jsonObject(with: Data(classesText.utf8))) as? [String],
      let threshold = file.metadata["threshold"].flatMap(Float.init), let step = file.metadata["step"].flatMap(Int.init)
    else {
      throw RunSetupError(["\(path): not an IUMAD model file (expected the model.safetensors a run writes)"])
    }
    let config = try RunConfig.parse(yaml: yaml, source: "\(path) (embedded config)")
    guard !classes.isEmpty else { throw RunSetupError(["\(path): the model file names no classes"]) }
    let mc = config.model
    let model = IBIUMAD(config: mc, classes: classes.count, seed: config.seed)
    var tensors: [String: Tensor] = [:], stats: [String: [Float]] = [:]
    for name in file.names {
      let t = try file.tensor(name, shape: file.shape(of: name)!)
      // A diverged run saves NaN weights; every score from them would be meaningless.
      if let bad = t.data.firstIndex(where: { !$0.isFinite }) {
        throw RunSetupError(["\(path): tensor '\(name)' holds a non-finite value (\(t.data[bad]) at element \(bad)); the run that wrote it diverged"])
      }
      if name.hasPrefix("stats.") { stats[name] = t.data } else { tensors[name] = t }
    }
    do {
      try model.parameters.load(tensors)
      let c = mc.featureChannels
      model.featureStatistics = try IncrementalTrainer.featureStatistics(
        stats.filter { $0.key.hasPrefix(featureStatsPrefix) }.reduce(into: [:]) { $0[String($1.key.dropFirst(featureStatsPrefix.count))] = $1.value },
        channels: c)
      let mapEntries = stats.filter { $0.key.hasPrefix(mapStatsPrefix) }
      model.mapStatistics = mapEntries.isEmpty ? nil : try MapStatistics(named: mapEntries, prefix: mapStatsPrefix, channels: c)
    } catch let e as ParameterLoadError {
      throw RunSetupError(["\(path): \(e.description)"])
    } catch let e as StatisticsError {
      throw RunSetupError(["\(path): \(e.description)"])
    }
    if mc.standardizeFeatures && Set(model.featureStatistics.keys) != Set(mc.modalities) {
      throw RunSetupError(["\(path): model.standardize_features is on but the file holds no feature statistics for \(mc.modalities.map(\.rawValue)) (written by an older version? retrain or set it off)"])
    }
    if mc.mapNormalization != .none && model.mapStatistics == nil {
      throw RunSetupError(["\(path): model.map_normalization is \(mc.mapNormalization.rawValue) but the file holds no map statistics"])
    }
    return (ModelBundle(config: config, classes: classes, step: step, threshold: threshold), model)
  }
}
