import Foundation
import Testing
import TestSupport

@testable import Datasets
@testable import Incremental
@testable import Runs
@testable import Model

/// `perturb.*` applied to a step's training samples: donors, determinism, the test split, and
/// (with the real backbone and synthetic data) the feature cache.
@Suite("Training perturbations")
struct TrainingPerturbationTests {
  static let size = 32, root = "/data/synthetic"
  static let classes = ["box", "disc", "ring"]

  static func sample(_ className: String, _ split: Split, _ k: Int) -> Sample {
    Sample(className: className, split: split, defectType: "good", label: 0,
           rgbPath: "\(root)/\(className)/\(split.rawValue)/good/rgb/\(k).png",
           depthPath: "\(root)/\(className)/\(split.rawValue)/good/xyz/\(k).tiff", depthKind: .xyzTIFF, maskPath: nil)
  }

  /// Every value names its origin: class (thousands of thousands), sample, channel, pixel; depth
  /// holds the negative of the RGB code, so an RGB patch and its depth patch can be matched.
  static func code(_ s: Sample, _ channel: Int, _ pixel: Int) -> Float {
    let k = Int(URL(fileURLWithPath: s.rgbPath).deletingPathExtension().lastPathComponent)!
    return Float(classes.firstIndex(of: s.className)! * 1_000_000 + k * 10_000 + channel * 2_000 + pixel)
  }

  /// `scale` brings the codes into the range of normalised images, where noise does not clip.
  static func coded(_ s: Sample, scale: Float = 1) -> PreparedSample {
    let n = size * size
    let rgb = (0..<(3 * n)).map { scale * code(s, $0 / n, $0 % n) }
    return PreparedSample(sample: s, size: size, rgb: rgb, depth: rgb.map { -$0 }, mask: [Float](repeating: 0, count: n))
  }

  static func perturber(_ p: Perturbation, seed: UInt64 = 0, scale: Float = 1) -> TrainingPerturber {
    let pool = classes.flatMap { c in (0..<4).map { sample(c, .train, $0) } + [sample(c, .validation, 9)] }
    return TrainingPerturber(perturbation: p, seed: seed, root: root, pool: pool + [sample("ring", .test, 5)], load: { coded($0, scale: scale) })
  }

  static var spurious: Perturbation {
    var p = Perturbation()
    p.spurious = 1
    p.spuriousPatches = 3
    p.spuriousSize = 0.25
    return p
  }

  @Test func spuriousPatchesComeOnlyFromOtherClassesWithTheirDepth() throws {
    let perturber = Self.perturber(Self.spurious)
    #expect(!perturber.pool.contains { $0.split == .test }, "test images are never donors")
    let own = Self.classes.flatMap { c in (0..<4).map { Self.sample(c, .train, $0) } }
    var prepared = own.map { Self.coded($0) }
    let inputs = try perturber.perturb(&prepared)
    #expect(inputs.count == own.count)
    var pasted = 0
    for (i, s) in own.enumerated() {
      let input = try #require(inputs[i])
      #expect(input.donors.count == 3 && input.donors.allSatisfy { $0.className != s.className && $0.split != .test })
      let n = Self.size * Self.size
      for j in 0..<(3 * n) where prepared[i].rgb[j] != Self.code(s, j / n, j % n) {
        pasted += 1
        let value = Int(prepared[i].rgb[j])
        let donorClass = Self.classes[value / 1_000_000]
        #expect(donorClass != s.className, "\(s.className) sample \(i) got a patch of its own class")
        #expect(input.donors.contains { $0.className == donorClass })
        #expect(prepared[i].depth[j] == -prepared[i].rgb[j], "the depth patch is the RGB patch's region of the same donor")
        #expect((value % 10_000) / 2_000 == j / n, "patches keep their channel")
      }
    }
    #expect(pasted > 0)
  }

  @Test func perturbationIsDeterministicPerSeedAndSample() throws {
    var p = Self.spurious
    p.redundant = 0.2
    let samples = Self.classes.map { Self.sample($0, .train, 1) }
    func run(_ seed: UInt64) throws -> ([PreparedSample], [String]) {
      var prepared = samples.map { Self.coded($0, scale: 1e-6) }
      let inputs = try Self.perturber(p, seed: seed, scale: 1e-6).perturb(&prepared)
      return (prepared, samples.indices.map { inputs[$0]!.key })
    }
    let (a, keysA) = try run(4), (b, keysB) = try run(4), (c, keysC) = try run(5)
    #expect(a.map(\.rgb) == b.map(\.rgb) && a.map(\.depth) == b.map(\.depth) && keysA == keysB)
    #expect(a.map(\.rgb) != c.map(\.rgb) && keysA != keysC)
    #expect(Set(keysA).count == samples.count, "each sample has its own perturbation")
    // A sample's perturbation does not depend on its batch mates.
    var alone = [Self.coded(samples[1], scale: 1e-6)]
    _ = try Self.perturber(p, seed: 4, scale: 1e-6).perturb(&alone)
    #expect(alone[0].rgb == a[1].rgb && alone[0].depth == a[1].depth)
  }

  @Test func testSamplesAreNeverPerturbed() throws {
    var p = Self.spurious
    p.redundant = 0.5
    let test = Self.classes.map { Self.sample($0, .test, 5) }
    var prepared = test.map { Self.coded($0) }
    let inputs = try Self.perturber(p).perturb(&prepared)
    #expect(inputs.isEmpty)
    #expect(prepared.map(\.rgb) == test.map { Self.coded($0).rgb } && prepared.map(\.depth) == test.map { Self.coded($0).depth })
  }

  /// The real pipeline: synthetic data, the lite0 backbone, the feature cache.
  @Test func pipelinePerturbsTrainingInputsOnlyUnderTheirOwnCacheKeys() throws {
    let dir = try temporaryDirectory("perturb-pipeline")
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = dir.appendingPathComponent("data").path
    _ = try SyntheticDataset.write(SyntheticDatasetConfig(classes: 3, train: 3, validation: 1, test: 4, size: 64, seed: 5), to: data)
    let plain = try RunConfig.load(path: packageRoot.appendingPathComponent("configs/tiny.yaml").path,
                                   overrides: ["data.root=\(data)", "backbone.cache=\(dir.path)/cache", "train.schedule=2-1"])
    var perturbedConfig = plain
    perturbedConfig.perturb.spurious = 1
    perturbedConfig.perturb.redundant = 0.2
    let p0 = try DataPipeline(config: plain), p1 = try DataPipeline(config: perturbedConfig)
    let ms = plain.model.modalities
    let seen = Array(p1.classes.prefix(2))
    let train = p1.trainingSamples(seen), test = p1.testSamples(seen)
    #expect(train.contains { $0.split == .validation }, "the paper's protocol trains on validation/good too")

    let base = try p0.prepare(train, modalities: ms, training: true)  // nothing to perturb
    #expect(p0.lastComputed == ms.count * train.count)
    #expect(base.images == (try p0.prepare(train, modalities: ms)).images)
    let perturbed = try p1.prepare(train, modalities: ms, training: true)
    #expect(p1.lastComputed == ms.count * train.count && p1.lastCacheHits == 0, "perturbed images need their own cache entries")
    for m in ms {
      for i in train.indices {
        #expect(perturbed.images[m]![i] != base.images[m]![i] && perturbed.features[m]![i] != base.features[m]![i], "\(m) sample \(i)")
      }
    }
    let again = try p1.prepare(train, modalities: ms, training: true)
    #expect(p1.lastCacheHits == ms.count * train.count)
    #expect(again.images == perturbed.images && again.features == perturbed.features)

    // Evaluation never perturbs, and test images stay untouched even when passed as training.
    let t0 = try p0.prepare(test, modalities: ms)
    for prepared in [try p1.prepare(test, modalities: ms), try p1.prepare(test, modalities: ms, training: true)] {
      #expect(prepared.images == t0.images && prepared.features == t0.features)
    }
  }
}
