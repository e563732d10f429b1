import Configuration
import Datasets
import Foundation
import Metrics
import Model

/// `data.*`: where the dataset is and how to read it (SPEC §5).
public struct DataConfig: ConfigSection, Equatable {
  public var root = ""
  public var format: DatasetFormat = .mvtec3d
  public var meta: [String] = []
  /// The class order of the schedule; empty = the dataset's classes sorted by name.
  public var classes: [String] = []
  public var trainSplits: [String] = ["train", "validation"]
  public var depthMode: DepthMode = .z
  public var imageIndex = 4
  public var skipBadSamples = false
  public init() {}

  public static let sectionName = "data"
  public static let keys: [ConfigKey<DataConfig>] = [
    .string("root", \.root, "dataset root directory"),
    .choice("format", \.format, "mvtec3d | eyecandies | jsonl"),
    .stringList("meta", \.meta, "JSONL meta files (format jsonl)"),
    .stringList("classes", \.classes, "class order for the schedule (default: sorted dataset classes)"),
    .stringList("train_splits", \.trainSplits, "splits trained on (paper: train, validation)"),
    .choice("depth_mode", \.depthMode, "z (replicated) | xyz"),
    .int("image_index", \.imageIndex, "Eyecandies lighting variant K of <id>_image_K.png", min: 0),
    .bool("skip_bad_samples", \.skipBadSamples, "skip unreadable samples (each is listed) instead of stopping"),
  ]
}

/// `backbone.*`: the frozen feature extractor and its feature cache (SPEC §6.1).
public struct BackboneConfig: ConfigSection, Equatable {
  public var name = "lite0"
  /// Safetensors weights; empty = the default file fetched by Scripts/fetch_weights.sh.
  public var weights = ""
  /// Feature cache directory; empty = ~/.cache/iumad/features.
  public var cache = ""
  public var bilinearAlignCorners = false
  public init() {}

  public static let sectionName = "backbone"
  public static let keys: [ConfigKey<BackboneConfig>] = [
    .string("name", \.name, "lite0…lite4 or b0…b7"),
    .string("weights", \.weights, "safetensors weights (default: Scripts/fetch_weights.sh's lite0 file)"),
    .string("cache", \.cache, "feature cache directory (default ~/.cache/iumad/features)"),
    .bool("bilinear_align_corners", \.bilinearAlignCorners, "neck resize like UniAD (bilinear, align corners) instead of area"),
  ]
}

/// What `train.clip` and `train.incremental_clip` bound: the norm of all gradients together, or
/// each module's on its own (docs/quality.md: the Mamba classifiers' gradients are ~60× the
/// reconstruction's, so a global clip leaves the reconstruction a sliver of every step).
public enum ClipScope: String, Codable, CaseIterable, Sendable {
  case global, module
}

/// How a step's learning rates follow its global batch (`train.lr_scaling`).
public enum LRScaling: String, Codable, CaseIterable, Sendable {
  case none, linear, sqrt
}

/// `train.*`: schedule and optimisation (SPEC §7).
public struct TrainConfig: ConfigSection, Equatable {
  /// Parsed once, by its key: every user of the config sees the same typed schedule.
  public var schedule = Schedule(base: 10, increment: 0, steps: 0)
  public var epochsBase = 1000
  public var epochsIncremental = 800
  public var batchSize = 8
  public var microBatch = 0
  public var bucketMB: Float = 16
  public var lr: Float = 1e-4
  public var beta1: Float = 0.9
  public var beta2: Float = 0.999
  public var weightDecay: Float = 1e-4
  public var stepLRStep = 800
  public var stepLRGamma: Float = 0.1
  public var clip: Float = 0.1
  public var clipScope: ClipScope = .module
  public var warmupIterations = 0
  public var lrScaling: LRScaling = .none
  public var referenceBatch = 8
  public var incrementalClip: Float = 0.1
  public var incrementalWeightDecay: Float = 1e-4
  public var compressionLoss = true
  public var compressionWeight: Float = 10
  public var compressionBuffer = 768
  public var pull: Float = 0.05
  public var incrementalLR: Float = 1e-4
  public var ceRGB: Float = 1, ceDepth: Float = 1, fusion: Float = 1, ib: Float = 1
  public var threads = 0
  public var checkpointEvery = 0
  public var keepCheckpoints = 2
  public init() {}

  public static let sectionName = "train"
  public static let keys: [ConfigKey<TrainConfig>] = [
    ConfigKey("schedule", "B-kxs, e.g. 10-0, 9-1, 6-4, 6-1x4", set: { t, v in
      switch Schedule.parse("\(v)") {
      case .success(let s): t.schedule = s; return nil
      case .failure(let e): return "\(e)"
      }
    }, render: { $0.schedule.description }),
    .int("epochs_base", \.epochsBase, "epochs of the base step (paper: 1000)", min: 1),
    .int("epochs_incremental", \.epochsIncremental, "epochs of each incremental step (paper: 800)", min: 1),
    .int("batch_size", \.batchSize, "global batch size", min: 1),
    .int("micro_batch", \.microBatch, "samples per forward/backward on a rank (0 = the rank's whole share); fixing it makes 1, 2, 4, … ranks bit-identical", min: 0),
    .float("bucket_mb", \.bucketMB, "gradient all-reduce bucket size in MiB (buckets start while the backward runs)", .positive),
    .float("lr", \.lr, "AdamW learning rate of the base step", .positive),
    .float("beta1", \.beta1, "AdamW β₁", .unitOpen),
    .float("beta2", \.beta2, "AdamW β₂", .unitOpen),
    .float("weight_decay", \.weightDecay, "AdamW weight decay", .nonNegative),
    .int("step_lr_step", \.stepLRStep, "StepLR period in epochs", min: 1),
    .float("step_lr_gamma", \.stepLRGamma, "StepLR factor", .positive),
    .float("clip", \.clip, "global gradient-norm clip of the base step (0 = off)", .nonNegative),
    .choice("clip_scope", \.clipScope, "global (one norm over all weights, PyTorch's clip_grad_norm_) | module (each module — mrn.rgb, mamba.rgb, ibfm, IBFM's heads, … — clipped on its own); both clips"),
    .int("warmup_iterations", \.warmupIterations, "linear learning-rate warm-up over the first N iterations of each step (0 = off)", min: 0),
    .choice("lr_scaling", \.lrScaling, "none | linear | sqrt: both steps' learning rates × (global batch / reference_batch), or its square root; a step's global batch is min(batch_size, its samples)"),
    .int("reference_batch", \.referenceBatch, "the global batch lr and incremental_lr are meant for (the paper's 8)", min: 1),
    .float("incremental_clip", \.incrementalClip, "global gradient-norm clip of incremental steps (IUF: 0.1; 0 = off)", .nonNegative),
    .float("incremental_weight_decay", \.incrementalWeightDecay, "weight decay of the incremental steps' SGD (IUF: 1e-4)", .nonNegative),
    .bool("compression_loss", \.compressionLoss, "IUF semantic-compression loss in the base step"),
    .float("compression_weight", \.compressionWeight, "weight of the compression loss", .nonNegative),
    .int("compression_buffer", \.compressionBuffer, "rolling buffer of samples for the compression loss", min: 1),
    .float("pull", \.pull, "incremental steps: θ ← (1−pull)·θ + pull·θ_old before each update", .unit),
    .float("incremental_lr", \.incrementalLR, "constrained-SGD learning rate of incremental steps", .positive),
    .float("ce_rgb", \.ceRGB, "λ₁: weight of the RGB Mamba classifier CE", .nonNegative),
    .float("ce_depth", \.ceDepth, "λ₂: weight of the depth Mamba classifier CE", .nonNegative),
    .float("fusion", \.fusion, "λ₃: weight of L_Fusion", .nonNegative),
    .float("ib", \.ib, "λ₄: weight of L_IB", .nonNegative),
    .int("threads", \.threads, "threads per process (0 = cores / ranks on this node)", min: 0),
    .int("checkpoint_every", \.checkpointEvery, "checkpoint every N iterations (0 = only at step ends)", min: 0),
    .int("keep_checkpoints", \.keepCheckpoints, "checkpoints kept: the newest and older ones, in case the newest is damaged", min: 1),
  ]

  public var lossWeights: LossWeights {
    var w = LossWeights()
    w.ceRGB = ceRGB; w.ceDepth = ceDepth; w.fusion = fusion; w.ib = ib
    return w
  }
}

/// `eval.*`: evaluation after every step (SPEC §8).
public struct EvalConfig: ConfigSection, Equatable {
  public var `protocol`: EvaluationProtocol = .uniad
  public var blurSigma: Float = 4
  /// Image-score pooling kernel; 0 = input_size / grid.
  public var pool = 0
  public var heatmapsPerClass = 3
  public var writeMaps = true
  public var everyEpochs = 0
  public var compareMaps = false
  /// The map's blur and pooling as `IBIUMAD.anomalyMaps` takes them: 0 in the config means off.
  public var mapBlurSigma: Float? { blurSigma > 0 ? blurSigma : nil }
  public var mapPoolKernel: Int? { pool > 0 ? pool : nil }
  public init() {}

  public static let sectionName = "eval"
  public static let keys: [ConfigKey<EvalConfig>] = [
    .choice("protocol", \.protocol, "uniad (the paper's) | official (MVTec 3D-AD's code)"),
    .float("blur_sigma", \.blurSigma, "Gaussian blur of the anomaly map (0 = off)", .nonNegative),
    .int("pool", \.pool, "image score = max of the k×k average-pooled map (0 = input_size/grid)", min: 0),
    .int("heatmaps_per_class", \.heatmapsPerClass, "heatmap PNGs written per class and step", min: 0),
    .bool("write_maps", \.writeMaps, "write float32 TIFF maps in the MVTec 3D-AD layout"),
    .int("every_epochs", \.everyEpochs, "learning curves: also evaluate the step's classes every N epochs during training (0 = off)", min: 0),
    .bool("compare_maps", \.compareMaps, "after each step also score every map variant (each residual, their sums, raw and normalised) into map-comparison/"),
  ]
}

/// `perturb.*`: the feature-injection study's perturbations of training inputs (`Perturbation`,
/// docs/study.md). Off by default; never applied to test or validation scoring.
extension Perturbation: ConfigSection {
  public static let sectionName = "perturb"
  public static let keys: [ConfigKey<Perturbation>] = [
    .float("spurious", \.spurious, "spurious features: ⌈spurious·spurious_patches⌉ patches cut from other classes' training images (RGB + the same depth region) pasted into each training image (0 = off)", .nonNegative),
    .int("spurious_patches", \.spuriousPatches, "patches per image at spurious = 1", min: 1),
    .float("spurious_size", \.spuriousSize, "patch side as a fraction of input_size, in (0, 1]", NumberRange(lower: 0, upper: 1, lowerOpen: true)),
    .float("redundant", \.redundant, "redundant features: peak amplitude of Perlin noise added to RGB and, independently, to depth, in [0, 1] image units (0 = off)", .unit),
    .int("octaves", \.octaves, "Perlin noise octaves (each at twice the frequency, half the amplitude)", min: 1),
    .int("noise_cells", \.noiseCells, "Perlin lattice cells across the image in the first octave", min: 1),
  ]
}

/// The whole resolved configuration of a run.
public struct RunConfig: Equatable {
  public var seed: UInt64 = 0
  /// Several seeds of the same schedule (`--seeds N` or `seeds: [..]`); empty = `seed` alone.
  public var seeds: [UInt64] = []
  public var model = ModelConfig.paper
  public var data = DataConfig()
  public var backbone = BackboneConfig()
  public var train = TrainConfig()
  public var eval = EvalConfig()
  public var perturb = Perturbation()
  public init() {}

  /// The seeds a run trains: `seeds`, or `seed` alone.
  public var seedList: [UInt64] { seeds.isEmpty ? [seed] : seeds }

  /// The single-seed configuration of one of `seedList` (what RUN/seed-K/config.yaml holds).
  public func single(seed s: UInt64) -> RunConfig {
    var c = self
    c.seed = s
    c.seeds = []
    return c
  }

  /// The config as YAML, every key with its resolved value (written into the run directory).
  public func yaml() -> String {
    var lines = ["# Resolved IUMAD configuration (every key, defaults included).", "seed: \(seed)",
                 "seeds: [" + seeds.map(String.init).joined(separator: ", ") + "]"]
    for (name, body) in [("model", model.yamlLines()), ("data", data.yamlLines()), ("backbone", backbone.yamlLines()),
                         ("train", train.yamlLines()), ("eval", eval.yamlLines()), ("perturb", perturb.yamlLines())] {
      lines.append("\(name):")
      lines += body
    }
    return lines.joined(separator: "\n") + "\n"
  }
}

extension RunConfig {
  /// docs/configuration.md: every key with its default and meaning, from the key tables
  /// themselves (a test keeps the committed file in step with the code).
  public static func referenceMarkdown() -> String {
    let d = RunConfig()
    var out = """
      # Configuration reference

      A run is configured by one YAML file with the sections below (see `configs/`). Any key can be
      overridden on the command line with `--set SECTION.KEY=VALUE` (lists as `a,b,c`, switches as
      `on`/`off`). Unknown keys, wrong types and impossible settings are all reported together
      before anything runs; the resolved configuration is written to `RUN/config.yaml`.

      This file is generated by `iumad config reference` from the code's key tables.

      ## Top level

      | key | default | meaning |
      |---|---|---|
      | `seed` | `0` | seed of every random choice (initialisation, sampling, dropout, jitter, perturbations) |
      | `seeds` | `[]` | train the schedule once per seed, into RUN/seed-K/, and report mean ± std (`--seeds N`: seed, seed+1, …); empty = `seed` alone |

      ## model

      `preset: tiny | demo | paper` sets all model keys first (SPEC §6.8); other keys then override it.
      Defaults below are the `paper` preset.

      """
    func table<S: ConfigSection>(_ value: S) -> String {
      "| key | default | meaning |\n|---|---|---|\n" + S.keys.map { "| `\($0.key)` | `\($0.render(value))` | \($0.help.replacingOccurrences(of: "|", with: "\\|")) |" }.joined(separator: "\n") + "\n"
        + S.retiredKeys.sorted { $0.key < $1.key }.map { "\nRetired: `\($0.key)` is accepted and ignored (\($0.value)).\n" }.joined()
    }
    out += table(d.model)
    for (name, t) in [("data", table(d.data)), ("backbone", table(d.backbone)), ("train", table(d.train)), ("eval", table(d.eval))] {
      out += "\n## \(name)\n\n" + t
    }
    out += """

      ## perturb

      The feature-injection study (docs/study.md): perturbations of the training images only, fixed
      per (seed, sample) for a run; test and validation images are never perturbed.

      """ + table(d.perturb)
    return out
  }
}
