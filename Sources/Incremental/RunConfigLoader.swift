import Backbone
import Cluster
import Configuration
import Foundation
import Model

/// Every problem found in a configuration, listed in one error before any work starts.
public struct ConfigError: Error, CustomStringConvertible {
  public let source: String
  public let problems: [String]

  public init(source: String, problems: [String]) {
    self.source = source
    self.problems = problems
  }

  public var description: String {
    "\(source): \(problems.count) configuration problem(s):\n  " + problems.joined(separator: "\n  ")
  }
}

extension RunConfig {
  static let topLevelKeys: Set<String> = ["seed", "seeds", "model", "data", "backbone", "train", "eval", "perturb"]

  /// Reads a YAML config, applies `overrides` (`section.key=value`), and checks it.
  /// Rank 0 reads and resolves the config and broadcasts it as resolved YAML (or its error):
  /// every rank runs exactly the configuration rank 0 saw, config file present there or not.
  /// Errors are `ConfigError`s (rank 0's own) or `CoordinatedFailure`s carrying rank 0's message.
  public static func load(path: String, overrides: [String] = [], over communicator: Communicator) throws -> RunConfig {
    let text = try communicator.coordinated {
      do { return try load(path: path, overrides: overrides).yaml() } catch let e as ConfigError { throw e } catch {
        throw ConfigError(source: path, problems: ["\(error)"])
      }
    }
    return try parse(yaml: text, source: "\(path) (from rank 0)")
  }

  public static func load(path: String, overrides: [String] = []) throws -> RunConfig {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw ConfigError(source: path, problems: ["cannot read the file: \(error.localizedDescription)"])
    }
    return try parse(yaml: text, source: path, overrides: overrides)
  }

  public static func parse(yaml text: String, source: String, overrides: [String] = []) throws -> RunConfig {
    let parsed: Any?
    do { parsed = try BoundedYAML.load(text) } catch {
      throw ConfigError(source: source, problems: [(error is BoundedYAML.LimitError ? "refused: " : "not valid YAML: ") + "\(error)"])
    }
    guard let root = (parsed ?? [String: Any]()) as? [String: Any] else {
      throw ConfigError(source: source, problems: ["the top level must be a mapping of sections"])
    }
    var problems: [String] = []
    var c = RunConfig()
    for key in root.keys.sorted() where !topLevelKeys.contains(key) {
      problems.append("\(key): unknown top-level key (known: \(topLevelKeys.sorted().joined(separator: ", ")))")
    }
    if let s = root["seed"] {
      if let v = s as? Int, v >= 0 { c.seed = UInt64(v) } else { problems.append("seed: expected a non-negative integer, got '\(s)'") }
    }
    if let s = root["seeds"] { c.setSeeds(s, problems: &problems, key: "seeds") }
    func section(_ name: String) -> [String: Any]? {
      guard let v = root[name] else { return nil }
      if let d = v as? [String: Any] { return d }
      problems.append("\(name): expected a mapping of keys, got '\(v)'")
      return nil
    }
    if let m = section("model") { c.model = ModelConfig.from(m, problems: &problems) }
    if let d = section("data") { c.data.apply(d, problems: &problems) }
    if let b = section("backbone") { c.backbone.apply(b, problems: &problems) }
    if let t = section("train") { c.train.apply(t, problems: &problems) }
    if let e = section("eval") { c.eval.apply(e, problems: &problems) }
    if let p = section("perturb") { c.perturb.apply(p, problems: &problems) }
    for o in overrides { c.override(o, problems: &problems) }
    problems += c.staticProblems()
    if !problems.isEmpty { throw ConfigError(source: source, problems: problems) }
    return c
  }

  /// Applies one `section.key=value` override.
  public mutating func override(_ assignment: String, problems: inout [String]) {
    guard let eq = assignment.firstIndex(of: "=") else {
      problems.append("--set \(assignment): expected SECTION.KEY=VALUE"); return
    }
    let path = assignment[..<eq], value = String(assignment[assignment.index(after: eq)...])
    if path == "seed" {
      if let v = UInt64(value) { seed = v } else { problems.append("--set seed: expected a non-negative integer, got '\(value)'") }
      return
    }
    if path == "seeds" { setSeeds(value, problems: &problems, key: "--set seeds"); return }
    let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
    guard parts.count == 2 else { problems.append("--set \(assignment): expected SECTION.KEY=VALUE"); return }
    switch parts[0] {
    case "model":
      if parts[1] == "preset" {
        if let p = ModelConfig.preset(value) { model = p } else { problems.append("--set model.preset: unknown preset '\(value)'") }
      } else { model.set(parts[1], value, problems: &problems) }
    case "data": data.set(parts[1], value, problems: &problems)
    case "backbone": backbone.set(parts[1], value, problems: &problems)
    case "train": train.set(parts[1], value, problems: &problems)
    case "eval": eval.set(parts[1], value, problems: &problems)
    case "perturb": perturb.set(parts[1], value, problems: &problems)
    default: problems.append("--set \(assignment): unknown section '\(parts[0])' (model, data, backbone, train, eval, perturb)")
    }
  }

  /// `seeds: [0, 1, 2]` from YAML, or `0,1,2` from `--set seeds=`: distinct non-negative integers.
  mutating func setSeeds(_ value: Any, problems: inout [String], key: String) {
    let items: [Any] = value as? [Any] ?? (value as? String).map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? [value]
    var out: [UInt64] = []
    for item in items {
      guard let v = (item as? Int).flatMap({ $0 >= 0 ? UInt64($0) : nil }) ?? (item as? String).flatMap({ UInt64($0) }) else {
        problems.append("\(key): expected a list of non-negative integers, got '\(item)'"); return
      }
      out.append(v)
    }
    if Set(out).count != out.count { problems.append("\(key): seeds must be distinct, got \(out)"); return }
    seeds = out
  }

  /// Checks that need no filesystem: value ranges and the model's own consistency.
  public func staticProblems() -> [String] {
    var p: [String] = []
    p += model.problems()
    // The backbone fixes the feature width: a mismatch is known without loading anything.
    if let net = try? EfficientNetConfig.named(backbone.name) {
      if net.neckChannels != model.featureChannels {
        p.append("model.feature_channels: \(model.featureChannels) does not match backbone \(backbone.name), which gives \(net.neckChannels) (set model.feature_channels: \(net.neckChannels), or backbone.name to the network the preset expects)")
      }
    } else {
      p.append("backbone.name: unknown network '\(backbone.name)' (\(EfficientNetConfig.names.joined(separator: ", ")))")
    }
    let repeated = Dictionary(grouping: data.classes, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
    if !repeated.isEmpty { p.append("data.classes: \(repeated.joined(separator: ", ")) listed more than once") }
    for s in data.trainSplits where !["train", "validation"].contains(s) {
      p.append("data.train_splits: '\(s)' is not a training split (train, validation)")
    }
    return p
  }
}
