import ArgumentParser
import Foundation
import Model
import Configuration

/// A YAML configuration file parsed into plain values, with errors that name the file.
struct ConfigFile {
  let path: String
  let root: [String: Any]

  init(path: String) throws {
    self.path = path
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw ValidationError("\(path): cannot read config file: \(error.localizedDescription)")
    }
    let parsed: Any?
    do { parsed = try BoundedYAML.load(text) } catch {
      throw ValidationError("\(path): not valid YAML: \(error)")
    }
    guard let dict = parsed as? [String: Any] else { throw ValidationError("\(path): the top level must be a mapping of keys") }
    root = dict
  }

  /// The `model:` section as a validated ModelConfig; every problem listed in one error.
  func modelConfig(overrides: [String] = []) throws -> ModelConfig {
    var problems: [String] = []
    guard let section = root["model"] as? [String: Any] else {
      throw ValidationError("\(path): missing 'model:' section (see configs/tiny.yaml)")
    }
    var c = ModelConfig.from(section, problems: &problems)
    for o in overrides {
      guard let eq = o.firstIndex(of: "="), o.hasPrefix("model.") else {
        problems.append("--set \(o): expected model.KEY=VALUE")
        continue
      }
      c.set(String(o[o.index(o.startIndex, offsetBy: 6)..<eq]), String(o[o.index(after: eq)...]), problems: &problems)
    }
    problems += c.problems()
    if !problems.isEmpty {
      throw ValidationError("\(path): \(problems.count) problem(s):\n  " + problems.joined(separator: "\n  "))
    }
    return c
  }
}
