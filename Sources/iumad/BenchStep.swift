import ArgumentParser
import Foundation
import Model
import Tensor

struct BenchStep: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "step",
    abstract: "Training step of the trainable model (forward + backward + AdamW) per preset and batch.",
    discussion: """
      Random features and images stand in for a batch from the feature cache (the backbone is \
      not part of a step). Reports s/step, samples/s, achieved GFLOP/s (FLOPs counted by the \
      kernels: GEMMs, convolutions, selective scan) and its ratio to sgemm's on this machine, \
      and the process's peak RSS.
      """
  )

  @Option(help: "Comma-separated presets: tiny, demo, paper.")
  var presets: String = "tiny,demo,paper"

  @Option(help: "Comma-separated batch sizes.")
  var batches: String = "8"

  @Option(help: "Timed steps per case (after one warm-up step).")
  var steps: Int = 3

  @OptionGroup var bench: BenchOptions

  @Flag(help: "Print where one step's time goes, per op (forward and backward), after the table.")
  var profile = false

  func run() throws {
    let names = presets.split(separator: ",").map(String.init)
    for n in names where ModelConfig.preset(n) == nil { throw ValidationError("--presets: unknown preset '\(n)' (tiny, demo, paper)") }
    let sizes = try parseIntList(batches, option: "--batches")
    guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
    bench.applyThreads()
    let ceiling = GEMMBenchmark.ceiling(size: 1024, minSeconds: 0.3)
    print(String(format: "sgemm 1024² on %d threads (best engine): %.1f GFLOP/s", Threading.threads, ceiling))
    print(tableRow([("preset", 8), ("batch", 6), ("s/step", 10), ("samples/s", 10), ("GFLOP/s", 10), ("ratio", 8), ("RSS MiB", 10)]))
    var rows: [[String: Any]] = []
    for name in names {
      for b in sizes {
        let probe = StepProbe(preset: name, batch: b)
        let flops = FLOPCounter.measure { probe.step() }
        let perStep = probe.secondsPerStep(steps)
        let gflops = Double(flops) / perStep / 1e9
        let rss = peakRSSMiB()
        print(tableRow([(name, 8), ("\(b)", 6), (String(format: "%.3f", perStep), 10), (String(format: "%.1f", Double(b) / perStep), 10),
                        (String(format: "%.1f", gflops), 10), (String(format: "%.2f", gflops / ceiling), 8), (String(format: "%.0f", rss), 10)]))
        if profile { printProfile(probe) }
        rows.append(["preset": name, "batch": b, "seconds_per_step": perStep, "samples_per_second": Double(b) / perStep,
                     "gflops": gflops, "ratio_to_sgemm": gflops / ceiling, "flops_per_step": flops, "peak_rss_mib": rss])
      }
    }
    try bench.write(["bench": "step", "threads": Threading.threads, "sgemm_gflops": ceiling, "results": rows])
  }

  /// One profiled step: the ops taking the most time, with their share of the step.
  func printProfile(_ probe: StepProbe) {
    var optimizer = 0.0
    let entries = OpProfiler.measure {
      let start = DispatchTime.now().uptimeNanoseconds
      probe.step()
      optimizer = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
    let total = optimizer
    optimizer -= entries.reduce(0) { $0 + $1.entry.total }
    print("  profile of one step (\(String(format: "%.3f", total)) s): op, forward s, backward s, share, GFLOP, GFLOP/s")
    for (op, e) in entries.prefix(18) {
      print("  " + tableRow([(op, 24), (String(format: "%.3f", e.forward), 9), (String(format: "%.3f", e.backward), 9),
                             (String(format: "%.1f%%", 100 * e.total / total), 7), ("\(e.calls) calls", 11),
                             (e.flops > 0 ? String(format: "%.1f", Double(e.flops) / 1e9) : "", 8),
                             (e.flops > 0 ? String(format: "%.1f", e.gflops) : "", 8)]))
    }
    print("  " + tableRow([("other (optimiser, loss)", 24), (String(format: "%.3f", optimizer), 9), ("", 9),
                           (String(format: "%.1f%%", 100 * optimizer / total), 7)]))
  }

  /// VmHWM of /proc/self/status (peak resident set), in MiB.
  func peakRSSMiB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
      let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
      let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kb / 1024
  }
}

/// One training step of a preset on a random batch (random features and images stand in for
/// the feature cache): forward + backward + AdamW.
final class StepProbe {
  let model: IBIUMAD
  let input: ModelInput
  let optimizer: AdamW

  init(preset: String, batch: Int) {
    let c = ModelConfig.preset(preset)!, classes = 10  // MVTec 3D-AD's
    model = IBIUMAD(config: c, classes: classes, seed: 0)
    var rng = RNG(seed: 7)
    var f: [Modality: Tensor] = [:], im: [Modality: Tensor] = [:]
    for m in c.modalities {
      f[m] = Tensor(randn: [batch, c.tokens, c.featureChannels], rng: &rng)
      im[m] = Tensor(randn: [batch, 3, c.inputSize, c.inputSize], rng: &rng)
    }
    input = ModelInput(features: f, images: im, labels: (0..<batch).map { $0 % classes })
    optimizer = AdamW(params: model.parameters, learningRate: 1e-4, weightDecay: 1e-4)
  }

  var parameterCount: Int { model.parameters.tensors.reduce(0) { $0 + $1.count } }

  func step() {
    var ctx = ForwardContext(training: true, dropout: model.config.dropout, jitter: true, rng: RNG(seed: 1))
    let loss = model.loss(model.forward(input, &ctx), input).total
    model.parameters.zeroGrad()
    loss.backward()
    optimizer.step()
  }

  /// Mean seconds of `steps` steps after one warm-up step.
  func secondsPerStep(_ steps: Int) -> Double {
    step()
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<steps { step() }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(steps)
  }
}

