import ArgumentParser
import Foundation
import ImageIO
import Incremental
import Runs
import Metrics

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
    let inference = try wrap { try Inference(checkpoint: checkpoint) }
    let threshold = inference.bundle.threshold
    let pairs = try inputPairs(needsDepth: inference.needsDepth)
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    var rows: [[String: Any]] = []
    for (rgbPath, xyzPath) in pairs {
      let r = try wrap { try inference.run(rgbPath: rgbPath, xyzPath: xyzPath) }
      let name = URL(fileURLWithPath: rgbPath).deletingPathExtension().lastPathComponent
      try TIFF.write(Resize.bilinear(r.map, width: r.rgb.width, height: r.rgb.height), to: "\(out)/\(name).tiff")
      let verdict = r.isAnomalous ? "ANOMALOUS" : "ok"
      try Heatmap.write(image: r.rgb, map: r.map, mask: nil, depth: r.xyz?.zImage,
                        caption: String(format: "%@  score %.3f %@ threshold %.3f: %@", name, r.score, r.isAnomalous ? ">" : "<=", threshold, verdict),
                        to: "\(out)/\(name).png")
      rows.append(["file": rgbPath, "score": Double(r.score), "anomalous": r.isAnomalous])
      print(String(format: "%@  score %.4f  %@", rgbPath, r.score, verdict))
    }
    let obj: [String: Any] = ["checkpoint": checkpoint, "threshold": Double(threshold), "images": rows]
    try writeJSON(obj, to: "\(out)/scores.json")
    // The same decisions as a table: file, score, threshold, verdict.
    let csv = ["file,score,threshold,verdict"] + rows.map { r in
      let file = r["file"] as! String, score = r["score"] as! Double
      return "\(CSV.field(file)),\(score),\(Double(threshold)),\((r["anomalous"] as! Bool) ? "anomalous" : "ok")"
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
