import Foundation
import Incremental
import Metrics

/// One axis of a study grid, `--grid KEY=v1,v2,…`: any `--set` key (`perturb.spurious`,
/// `model.fusion`, …) or a shorthand that stands for the model keys of the paper's Figure 2
/// frameworks (`modalities`, `ibfm`, `mamba`) or the study's own (`spurious`, `redundant`,
/// `schedule`). Values are separated by commas; a list value is written with `+` (`rgb+depth`).
public struct GridAxis: Equatable, Sendable {
  public let key: String
  public let values: [String]

  /// Shorthand → the assignments one value stands for.
  static let shorthands: [String: (String) -> [String]] = [
    "modalities": { ["model.modalities=\($0)"] },
    // Without IBFM there is no fused map: the map is the per-modality residual (SPEC §6.7).
    "ibfm": { ["off", "false", "no"].contains($0.lowercased()) ? ["model.ibfm=\($0)", "model.anomaly_map=modal"] : ["model.ibfm=\($0)"] },
    "mamba": { ["model.mamba=\($0)"] },
    "spurious": { ["perturb.spurious=\($0)"] },
    "redundant": { ["perturb.redundant=\($0)"] },
    "schedule": { ["train.schedule=\($0)"] },
  ]

  public init(key: String, values: [String]) {
    self.key = key
    self.values = values
  }

  /// Parses `KEY=v1,v2,…`; a problem text on failure.
  public static func parse(_ text: String) -> Result<GridAxis, ConfigError> {
    func fail(_ why: String) -> Result<GridAxis, ConfigError> { .failure(ConfigError(source: "--grid \(text)", problems: [why])) }
    guard let eq = text.firstIndex(of: "=") else { return fail("expected KEY=v1,v2,… (e.g. perturb.spurious=0,0.5,1 or ibfm=on,off)") }
    let key = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
    let values = text[text.index(after: eq)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    if key == "seed" || key == "seeds" { return fail("seeds are not a grid axis; use --seeds N (every cell runs every seed)") }
    guard shorthands[key] != nil || key.contains(".") else {
      return fail("'\(key)' is neither SECTION.KEY nor a shorthand (\(shorthands.keys.sorted().joined(separator: ", ")))")
    }
    guard !values.isEmpty else { return fail("no values after '='") }
    guard Set(values).count == values.count else { return fail("a value is listed twice") }
    return .success(GridAxis(key: key, values: values))
  }

  /// The `--set` assignments of `value` on this axis.
  public func assignments(_ value: String) -> [String] {
    Self.shorthands[key].map { $0(value) } ?? ["\(key)=\(value)"]
  }
}

/// A study's cells: the cartesian product of its axes (the first axis varies slowest), each a
/// configuration built from the base one, or the reason the combination is not a valid one.
public struct StudyGrid {
  public struct Cell {
    public let name: String
    public let settings: [StudySetting]
    /// nil when the combination is invalid (`reason`).
    public let config: RunConfig?
    public let reason: String?
  }

  public let base: RunConfig
  public let axes: [GridAxis]
  public let cells: [Cell]

  /// A value a key cannot take (a typo, a wrong type) stops the study before anything runs;
  /// a combination the model does not support (IBFM with one modality) becomes a cell marked
  /// not applicable. Every problem is listed at once.
  public init(base: RunConfig, axes: [GridAxis], source: String) throws {
    var problems: [String] = []
    let keys = axes.map(\.key)
    for (i, k) in keys.enumerated() where keys[..<i].contains(k) { problems.append("--grid \(k): the axis is given twice") }
    // Each value alone, through the key's own setter: type and name errors.
    for axis in axes {
      for value in axis.values {
        var c = base, p: [String] = []
        for a in axis.assignments(value) { c.override(a, problems: &p) }
        problems += p.map { "--grid \(axis.key)=\(value): \($0)" }
      }
    }
    guard problems.isEmpty else { throw ConfigError(source: source, problems: problems) }

    var combos: [[String]] = [[]]
    for axis in axes { combos = combos.flatMap { prefix in axis.values.map { prefix + [$0] } } }
    let names = Self.shortNames(keys)
    var cells: [Cell] = []
    for values in combos {
      var c = base, ignored: [String] = []
      for (axis, v) in zip(axes, values) { for a in axis.assignments(v) { c.override(a, problems: &ignored) } }
      let invalid = c.staticProblems()
      let name = zip(names, values).map { "\($0)-\(Self.sanitised($1))" }.joined(separator: "_")
      cells.append(Cell(name: name, settings: zip(keys, values).map { StudySetting(key: $0, value: $1) },
                        config: invalid.isEmpty ? c : nil, reason: invalid.isEmpty ? nil : invalid.joined(separator: "; ")))
    }
    let seen = Dictionary(grouping: cells, by: \.name).filter { $0.value.count > 1 }
    for (name, _) in seen.sorted(by: { $0.key < $1.key }) {
      problems.append("--grid: two cells would share the directory cells/\(name); use values that differ in letters or digits")
    }
    if !cells.contains(where: { $0.config != nil }) {
      problems.append("--grid: no cell is a valid configuration:\n  " + cells.map { "\($0.name): \($0.reason ?? "")" }.joined(separator: "\n  "))
    }
    guard problems.isEmpty else { throw ConfigError(source: source, problems: problems) }
    self.base = base
    self.axes = axes
    self.cells = cells
  }

  /// The last part of each key (`perturb.spurious` → `spurious`), or the whole key where two
  /// axes would share that part.
  static func shortNames(_ keys: [String]) -> [String] {
    let last = keys.map { String($0.split(separator: ".").last ?? Substring($0)) }
    return zip(keys, last).map { key, l in last.filter { $0 == l }.count > 1 ? key : l }
  }

  /// A value as a directory-name part: letters, digits, `.`, `+` and `-`; anything else `-`.
  static func sanitised(_ value: String) -> String {
    String(value.map { ($0.isASCII && ($0.isLetter || $0.isNumber)) || ".+-".contains($0) ? $0 : "-" })
  }
}
