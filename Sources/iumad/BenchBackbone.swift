import ArgumentParser
import Backbone
import Foundation
import Tensor

struct BenchBackbone: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "backbone",
    abstract: "Backbone + neck images/s per architecture (random weights: speed does not depend on values)."
  )

  @Option(help: "Comma-separated architectures.")
  var archs: String = "efficientnet-lite0,efficientnet-b4"

  @Option(help: "Input size S.")
  var size: Int = 224

  @Option(help: "Images per forward pass.")
  var batch: Int = 8

  @Option(help: "Minimum seconds to time each architecture.")
  var seconds: Double = 2

  @OptionGroup var bench: BenchOptions

  func run() throws {
    bench.applyThreads()
    let names = archs.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    var rows: [[String: Any]] = []
    func row(_ cells: [String]) -> String { tableRow(Array(zip(cells, [20, 6, 6, 6, 10, 10]))) }
    print(row(["arch", "size", "batch", "C_in", "images/s", "ms/image"]))
    for name in names {
      let config: EfficientNetConfig
      do { config = try EfficientNetConfig.named(name) } catch let e as BackboneError { throw ValidationError(e.description) }
      let extractor: FeatureExtractor
      do { extractor = try FeatureExtractor(backbone: .random(config: config), inputSize: size) } catch let e as BackboneError {
        throw ValidationError(e.description)
      }
      var rng = RNG(seed: 1)
      let images = Tensor(randn: [batch, 3, size, size], rng: &rng)
      _ = try extractor.features(images)  // warm-up: first-touch allocations, BLAS buffers
      var n = 0
      let start = Date()
      repeat {
        _ = try extractor.features(images)
        n += batch
      } while Date().timeIntervalSince(start) < seconds
      let elapsed = Date().timeIntervalSince(start)
      let ips = Double(n) / elapsed
      print(row([config.name, "\(size)", "\(batch)", "\(config.neckChannels)", String(format: "%.2f", ips), String(format: "%.2f", 1e3 / ips)]))
      rows.append(["arch": config.name, "size": size, "batch": batch, "c_in": config.neckChannels,
                   "images_per_second": ips, "threads": Threading.threads])
    }
    try bench.write(["bench": "backbone", "results": rows])
  }
}
