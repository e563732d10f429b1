import Datasets
import Foundation
import Incremental
import Model
import Storage

/// What makes two invocations the same run: the resolved configuration and the data it reads.
/// A run directory holds one run (`RUN/run.json`); checkpoints carry the identity they were
/// written under. Continuing, reporting or resuming under another identity would mix runs, so it
/// is refused with the differences spelled out.
///
/// Left out, because they change where things are or how often they are saved, not what is
/// computed: `data.root` (the data is identified by its files instead, so a moved dataset still
/// resumes), `backbone.cache`, `train.threads`, `train.checkpoint_every`, `train.keep_checkpoints`.
public struct RunIdentity: Codable, Equatable, Sendable {
  public static let fileName = "run.json"

  /// The resolved YAML with the keys above reset to their defaults.
  public var config: String
  /// Where the data was read (informative; not compared).
  public var dataRoot: String
  /// Per class: its files (images, depth, masks) by path below the root, size and modification time.
  public var data: [String: ClassFiles]

  public struct ClassFiles: Codable, Equatable, Sendable {
    public var files: Int
    public var bytes: UInt64
    public var fingerprint: String
  }

  public init(config: RunConfig, samples: [Sample]) {
    var c = config
    let d = RunConfig()
    c.data.root = d.data.root
    c.backbone.cache = d.backbone.cache
    c.train.threads = d.train.threads
    c.train.checkpointEvery = d.train.checkpointEvery
    c.train.keepCheckpoints = d.train.keepCheckpoints
    self.config = c.yaml()
    dataRoot = config.data.root
    data = Self.fingerprint(samples, root: config.data.root)
  }

  /// One hash of everything compared (hex), as recorded in checkpoint headers and finished.json.
  public var hash: String {
    var h = FNV1a64()
    h.combine(config)
    for name in data.keys.sorted() { let f = data[name]!; h.combine("\(name)\t\(f.files)\t\(f.bytes)\t\(f.fingerprint)\n") }
    return hex(h.value)
  }

  static func fingerprint(_ samples: [Sample], root: String) -> [String: ClassFiles] {
    let prefix = root.hasSuffix("/") ? root : root + "/"
    var byClass: [String: Set<String>] = [:]
    for s in samples {
      var paths = [s.rgbPath, s.depthPath] + (s.maskPath.map { [$0] } ?? [])
      if case .depthPNG(let info) = s.depthKind { paths.append(info) }
      byClass[s.className, default: []].formUnion(paths)
    }
    return byClass.mapValues { paths in
      var h = FNV1a64(), bytes: UInt64 = 0
      for p in paths.sorted() {
        var st = stat()
        let found = stat(p, &st) == 0
        let size = found ? UInt64(max(0, st.st_size)) : 0
        bytes += size
        let relative = p.hasPrefix(prefix) ? String(p.dropFirst(prefix.count)) : p
        h.combine(found ? "\(relative)\t\(size)\t\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)\n" : "\(relative)\tmissing\n")
      }
      return ClassFiles(files: paths.count, bytes: bytes, fingerprint: hex(h.value))
    }
  }

  // MARK: comparing

  /// What differs from `old`, one line each (empty when the identities are the same).
  public func differences(from old: RunIdentity) -> [String] {
    var out = Self.configDifferences(from: old.config, to: config)
    let added = Set(data.keys).subtracting(old.data.keys).sorted(), removed = Set(old.data.keys).subtracting(data.keys).sorted()
    if !added.isEmpty { out.append("data: class(es) \(added.joined(separator: ", ")) not in the earlier run") }
    if !removed.isEmpty { out.append("data: class(es) \(removed.joined(separator: ", ")) of the earlier run missing") }
    for name in Set(data.keys).intersection(old.data.keys).sorted() {
      let (o, n) = (old.data[name]!, data[name]!)
      if o.files != n.files || o.bytes != n.bytes {
        out.append("data: class '\(name)' had \(o.files) files, \(o.bytes) bytes; now \(n.files) files, \(n.bytes) bytes")
      } else if o.fingerprint != n.fingerprint {
        out.append("data: class '\(name)': same file count and size, but other names or modification times")
      }
    }
    if !out.isEmpty && old.dataRoot != dataRoot { out.append("(data read from \(old.dataRoot) then, \(dataRoot) now)") }
    return out
  }

  /// "train.epochs_base: 40 → 10" for every key whose value differs between two resolved YAMLs.
  static func configDifferences(from old: String, to new: String) -> [String] {
    let (a, b) = (flatten(old), flatten(new))
    // A key that the version which wrote `old` did not have yet behaved as its default there,
    // unless the default has changed since (`behaviourBeforeKey`).
    let defaults = flatten(RunConfig().yaml())
    func before(_ key: String) -> String? { a[key] ?? behaviourBeforeKey[key] ?? defaults[key] }
    return Set(a.keys).union(b.keys).subtracting(retiredKeys).sorted().filter { before($0) != b[$0] }.map { key in
      let was = a[key] ?? behaviourBeforeKey[key].map { "\($0) (before the key existed)" } ?? "(absent)"
      return "\(key): \(was) → \(b[key] ?? "(absent)")"
    }
  }

  /// Keys added with a default that differs from what earlier versions did.
  static let behaviourBeforeKey = ["train.clip_scope": "global"]

  /// Keys earlier versions wrote that no longer mean anything: never a difference.
  static let retiredKeys = Set(ModelConfig.retiredKeys.keys.map { "\(ModelConfig.sectionName).\($0)" })

  /// `section.key` → value lines of a resolved YAML (`RunConfig.yaml()` writes one key per line).
  static func flatten(_ yaml: String) -> [String: String] {
    var out: [String: String] = [:], section = ""
    for line in yaml.split(separator: "\n") where !line.hasPrefix("#") {
      guard let colon = line.firstIndex(of: ":") else { continue }
      let key = line[..<colon].trimmingCharacters(in: .whitespaces)
      let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      if line.hasPrefix(" ") { out[section + "." + key] = value } else if value.isEmpty { section = key } else { out[key] = value; section = "" }
    }
    return out
  }

  // MARK: files

  public static func read(in directory: URL) throws -> RunIdentity? {
    let url = directory.appendingPathComponent(fileName)
    guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
    do { return try JSONDecoder().decode(RunIdentity.self, from: data) } catch {
      throw RunSetupError(["\(url.path): not a readable run identity (\(error)); --resume never starts the run over"])
    }
  }

  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(self)
  }

  enum CodingKeys: String, CodingKey { case config, dataRoot = "data_root", data }
}
