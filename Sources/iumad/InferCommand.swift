import ArgumentParser
import Backbone
import Datasets
import Foundation
import ImageIO
import Incremental
import Metrics
import Model
import Tensor

struct InferCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "infer",
    abstract: "Anomaly maps, heatmaps and image scores for new images with a trained model.",
    discussion: """
      --checkpoint is the model.safetensors a run writes (RUN/model.safetensors): parameters, the
      resolved config, the class list and a decision threshold (the highest score of the \
      validation images, all defect-free).
      --input is an RGB PNG (with --depth its xyz TIFF), or a folder holding rgb/NNN.png and
      xyz/NNN.tiff (any MVTec 3D-AD split folder, e.g. ROOT/bagel/test/crack). \
      Writes OUT/<name>.tiff (float32 map at the image's size), OUT/<name>.png (image | map | —) \
      OUT/scores.json ({"threshold", "images": [{"file", "score", "anomalous"}]}) and \
      OUT/scores.csv (file, score, threshold, verdict).
      """
  )

  @Option(help: "A trained model: RUN/model.safetensors.")
  var checkpoint: String

  @Option(help: "An RGB PNG, or a folder with rgb/*.png and xyz/*.tiff.")
  var input: String

  @Option(help: "The xyz TIFF of a single --input PNG (needed when the model uses depth).")
  var depth: String?

  @Option(help: "Output folder.")
  var out: String

  func run() throws {
    let (bundle, model) = try wrap { try ModelBundle.load(checkpoint) }
    let cfg = bundle.config
    let pairs = try inputPairs(needsDepth: cfg.model.modalities.contains(.depth))
    let extractor = try wrap { try DataPipeline.makeExtractor(cfg) }
    let pre = Preprocessor(inputSize: cfg.model.inputSize, depthMode: cfg.data.depthMode)
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    var rows: [[String: Any]] = []
    let s = cfg.model.inputSize
    for (rgbPath, xyzPath) in pairs {
      let rgb = try wrap { try SampleLoader.readRGB(rgbPath) }
      var images: [Modality: Tensor] = [.rgb: Tensor(shape: [1, 3, s, s], data: pre.rgb(rgb))]
      var xyzImage: Image?
      if let xyzPath {
        let xyz = try wrap { try SampleLoader.readXYZTIFF(xyzPath) }
        xyzImage = xyz
        try wrap { try SampleLoader.requireSameSize(xyz, path: xyzPath, as: rgb, reference: rgbPath) }
        images[.depth] = Tensor(shape: [1, 3, s, s], data: try wrap { try pre.depth(xyz, path: xyzPath) })
      }
      var features: [Modality: Tensor] = [:]
      for m in cfg.model.modalities { features[m] = try wrap { try extractor.features(images[m]!) } }
      let input = ModelInput(features: features, images: images, labels: [0])
      var ctx = ForwardContext.eval
      let maps = model.anomalyMaps(GradMode.withoutGrad { model.forward(input, &ctx) },
                                   blurSigma: cfg.eval.mapBlurSigma,
                                   poolKernel: cfg.eval.mapPoolKernel)
      let name = URL(fileURLWithPath: rgbPath).deletingPathExtension().lastPathComponent
      let map = Image(width: s, height: s, channels: 1, data: maps.maps.data)
      try TIFF.write(Resize.bilinear(map, width: rgb.width, height: rgb.height), to: "\(out)/\(name).tiff")
      let score = maps.scores[0]
      guard score.isFinite else { throw InputError("\(rgbPath): the model scores it \(score) (non-finite anomaly map)") }
      let verdict = score > bundle.threshold ? "ANOMALOUS" : "ok"
      try Heatmap.write(image: rgb, map: map, mask: nil, depth: xyzImage?.zImage,
                        caption: String(format: "%@  score %.3f %@ threshold %.3f: %@", name, score, score > bundle.threshold ? ">" : "<=", bundle.threshold, verdict),
                        to: "\(out)/\(name).png")
      rows.append(["file": rgbPath, "score": Double(score), "anomalous": score > bundle.threshold])
      print(String(format: "%@  score %.4f  %@", rgbPath, score, score > bundle.threshold ? "ANOMALOUS" : "ok"))
    }
    let obj: [String: Any] = ["checkpoint": checkpoint, "threshold": Double(bundle.threshold), "images": rows]
    try writeJSON(obj, to: "\(out)/scores.json")
    // The same decisions as a table: file, score, threshold, verdict.
    let csv = ["file,score,threshold,verdict"] + rows.map { r in
      let file = r["file"] as! String, score = r["score"] as! Double
      return "\(CSV.field(file)),\(score),\(Double(bundle.threshold)),\((r["anomalous"] as! Bool) ? "anomalous" : "ok")"
    }
    do { try Data((csv.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: "\(out)/scores.csv")) } catch {
      throw InputError("cannot write '\(out)/scores.csv': \(error.localizedDescription)")
    }
  }

  /// (rgb, xyz) pairs from --input/--depth.
  func inputPairs(needsDepth: Bool) throws -> [(String, String?)] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else {
      throw ValidationError("--input '\(input)' does not exist")
    }
    if !isDir.boolValue {
      if needsDepth && depth == nil { throw ValidationError("the model uses depth: give --depth XYZ.tiff for '\(input)'") }
      return [(input, depth)]
    }
    let rgbDir = input + "/rgb"
    guard let files = try? FileManager.default.contentsOfDirectory(atPath: rgbDir).filter({ $0.lowercased().hasSuffix(".png") }).sorted(),
      !files.isEmpty
    else { throw ValidationError("--input '\(input)': expected PNG files in '\(rgbDir)'") }
    return try files.map { f in
      let stem = (f as NSString).deletingPathExtension
      let xyz = "\(input)/xyz/\(stem).tiff"
      if needsDepth && !FileManager.default.fileExists(atPath: xyz) {
        throw ValidationError("'\(rgbDir)/\(f)': missing depth partner '\(xyz)'")
      }
      return ("\(rgbDir)/\(f)", needsDepth ? xyz : nil)
    }
  }

  /// Library errors become usage errors with their own message (no raw trap, no stack).
  func wrap<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ValidationError { throw e } catch let e as InputError { throw e } catch { throw InputError("\(error)") }
  }
}
