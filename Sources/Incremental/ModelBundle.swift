import Backbone
import Foundation
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

  public func write(parameters: ParameterStore, to url: URL) throws {
    let classesJSON = String(decoding: try JSONSerialization.data(withJSONObject: classes), as: UTF8.self)
    let meta = ["format": "iumad-model/1", "config": config.yaml(), "classes": classesJSON,
                "step": String(step), "threshold": String(threshold)]
    try SafeTensorsFile.write(Dictionary(uniqueKeysWithValues: parameters.named.map { ($0.name, $0.tensor) }),
                              metadata: meta, to: url.path)
  }

  /// Reads a bundle and builds its model with the saved parameters.
  public static func load(_ path: String) throws -> (bundle: ModelBundle, model: IBIUMAD) {
    let file = try SafeTensorsFile(path: path)
    guard file.metadata["format"] == "iumad-model/1", let yaml = file.metadata["config"],
      let classesText = file.metadata["classes"],
      let classes = try JSONSerialization.jsonObject(with: Data(classesText.utf8)) as? [String],
      let threshold = file.metadata["threshold"].flatMap(Float.init), let step = file.metadata["step"].flatMap(Int.init)
    else {
      throw RunSetupError(["\(path): not an IUMAD model file (expected the model.safetensors a run writes)"])
    }
    let config = try RunConfig.parse(yaml: yaml, source: "\(path) (embedded config)")
    var mc = config.model
    mc.classes = classes.count
    let model = IBIUMAD(config: mc, seed: config.seed)
    var tensors: [String: Tensor] = [:]
    for name in file.names { tensors[name] = try file.tensor(name, shape: file.shape(of: name)!) }
    do { try model.parameters.load(tensors) } catch let e as ParameterLoadError {
      throw RunSetupError(["\(path): \(e.description)"])
    }
    return (ModelBundle(config: config, classes: classes, step: step, threshold: threshold), model)
  }
}
