import Cluster
import Foundation
import Incremental
import Metrics

/// The same schedule trained once per seed (`seeds: [..]` or `--seeds N`), one seed after
/// another in the same process group, each a complete run in `DIR/seed-K/` with its own
/// config.yaml, log, checkpoints and report; then the mean ± std report at `DIR`
/// (`ReportFiles.write(runDirectory:seeds:title:)`).
///
/// A seed whose directory holds a `finished.json` for the same configuration is not trained
/// again (so an interrupted multi-seed run, or seeds trained as separate jobs with
/// `--set seed=K --out DIR/seed-K`, only need the missing seeds); an unfinished one continues from
/// its checkpoints under `--resume auto`. `--resume never` trains every seed again.
public struct SeedRuns {
  public let config: RunConfig
  public let directory: URL
  public let launcher: RunLauncher
  /// Progress lines (rank 0 prints them).
  public var note: (String) -> Void = { _ in }

  public init(config: RunConfig, directory: URL, launcher: RunLauncher) throws {
    if case .path(let p) = launcher.resume {
      throw RunSetupError(["--resume \(p): one checkpoint cannot resume several seeds; use --resume auto (each seed continues from its own checkpoints) or never"])
    }
    self.config = config
    self.directory = directory
    self.launcher = launcher
  }

  public static func seedDirectory(_ directory: URL, seed: UInt64) -> URL { directory.appendingPathComponent("seed-\(seed)") }

  /// Trains (or finds finished) every seed and writes the aggregate report; returns the seeds'
  /// metrics and the sum of their run times (from their `finished.json`).
  @discardableResult
  public func run(title: String) throws -> (metrics: MetricsAcrossSeeds, seconds: Double) {
    let comm = launcher.communicator
    let seeds = config.seedList
    // Rank 0 looks at every seed directory before anything is written, and tells every rank:
    // the metrics JSON of each finished seed ("" = train it), or the problem.
    let finished: [String]
    do {
      finished = try comm.coordinated {
        // The top level holds the seeds' summary, never a single run's results.
        if launcher.resume == .never {
          for line in try RunDirectory.removeOutputs(directory) { note(line) }
        } else if (try? RunIdentity.read(in: directory)) != nil {
          throw RunSetupError(["\(directory.path) holds a single run (\(RunIdentity.fileName)), not the seeds of a multi-seed run; choose another --out, or --resume never to replace it"])
        }
        let finished = try seeds.map { try finishedMetrics(config.single(seed: $0), in: Self.seedDirectory(directory, seed: $0)) }
        try RunLauncher.createDirectory(directory, config: config)
        return finished
      }
    } catch { throw RunSetupError(["\(error)"]) }
    var runs: [MetricsMatrix] = [], seconds = 0.0
    for (k, seed) in seeds.enumerated() {
      let dir = Self.seedDirectory(directory, seed: seed)
      if !finished[k].isEmpty {
        note("seed \(seed) (\(k + 1)/\(seeds.count)): finished earlier in \(dir.path), not trained again")
        runs.append(try MetricsMatrix(json: Data(finished[k].utf8)))
      } else {
        note("seed \(seed) (\(k + 1)/\(seeds.count)): training in \(dir.path)")
        runs.append(try launcher.run(config.single(seed: seed), in: dir))
      }
      seconds += RunCompletion.read(in: dir)?.seconds ?? 0
    }
    let stats = try MetricsAcrossSeeds(seeds: seeds, runs: runs)
    if comm.isCoordinator { try ReportFiles.write(runDirectory: directory, seeds: stats, title: title) }
    return (stats, seconds)
  }

  /// metrics.json of a seed run finished with `config`; "" when it still has to be trained.
  func finishedMetrics(_ config: RunConfig, in dir: URL) throws -> String {
    guard launcher.resume != .never, let done = RunCompletion.read(in: dir) else { return "" }
    let identity = RunIdentity(config: config, samples: DataPipeline.scan(config).samples)
    // Another hash with no difference key by key: written by a version with other (retired) keys.
    let differences = done.configHash == identity.hash ? [] : (try? RunIdentity.read(in: dir)).flatMap { $0.map(identity.differences(from:)) }
    guard differences?.isEmpty ?? false else {
      let differences = differences ?? []
      throw RunSetupError(["\(dir.path) holds a run finished with another configuration or data"
        + (differences.isEmpty ? "" : ":\n    " + differences.joined(separator: "\n    "))
        + "\n  choose another output directory, or --resume never to train it again"])
    }
    let path = dir.appendingPathComponent("metrics.json").path
    guard let data = FileManager.default.contents(atPath: path) else {
      throw RunSetupError(["\(path): missing, although \(RunCompletion.fileName) says the run finished; --resume never trains it again"])
    }
    do { _ = try MetricsMatrix(json: data) } catch {
      throw RunSetupError(["\(path): not a readable metrics file (\(error)); --resume never trains the seed again"])
    }
    return String(decoding: data, as: UTF8.self)
  }
}
