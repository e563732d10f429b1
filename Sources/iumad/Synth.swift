import ArgumentParser
import Datasets
import Foundation

struct Synth: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a synthetic RGB + depth anomaly dataset in the MVTec 3D-AD layout.",
    discussion: """
      Renders K object classes (distinct shapes, textures, colours) with pose and lighting \
      jitter: <class>/train/good, <class>/validation/good and <class>/test/{good,color,dent,combined}, \
      each with rgb/NNN.png, xyz/NNN.tiff (float32 x,y,z; 0 = missing point) and, in test, gt/NNN.png \
      (255 = defect). `color` is a stain, `dent` changes depth only, `combined` has both. \
      The same options and seed always give byte-identical files.
      """
  )

  @Option(help: "Directory to write the dataset into (created if missing).")
  var out: String

  @Option(help: "Number of object classes (1...\(SyntheticDataset.maxClasses)).")
  var classes: Int = 3

  @Option(help: "Training samples per class (train/good).")
  var train: Int = 20

  @Option(help: "Validation samples per class (validation/good); default: train/10, at least 1.")
  var validation: Int?

  @Option(help: "Test samples per class, dealt in turn to good, color, dent, combined.")
  var test: Int = 8

  @Option(help: "Image width and height in pixels.")
  var size: Int = 128

  @Option(help: "Random seed; equal seeds give identical datasets.")
  var seed: UInt64 = 0

  func run() throws {
    let config = SyntheticDatasetConfig(classes: classes, train: train, validation: validation ?? max(1, train / 10),
                                        test: test, size: size, seed: seed)
    do { try SyntheticDataset.validate(config) } catch { throw ValidationError("\(error)") }
    let start = Date()
    let count = try SyntheticDataset.write(config, to: out)
    let names = SyntheticDataset.classNames(count: classes).joined(separator: ", ")
    print(String(format: "wrote %d samples of %d classes (%@) at %dx%d to %@ in %.2f s",
                 count, classes, names, size, size, out, Date().timeIntervalSince(start)))
  }
}
