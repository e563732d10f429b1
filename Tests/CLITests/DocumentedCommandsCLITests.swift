import Foundation
import Testing
import TestSupport

/// Lines the docs print for users to copy must work as written.
@Suite("documented commands")
struct DocumentedCommandsCLITests {
  /// docs/reproducing.md's ablation comment: each comma-separated group of `--set`s (with
  /// `a|b|c` alternatives expanded) must pass `iumad config check` on the paper model.
  @Test func everyAblationLineOfReproducingPassesConfigCheck() throws {
    let text = try String(contentsOf: packageRoot.appendingPathComponent("docs/reproducing.md"), encoding: .utf8)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let start = try #require(lines.firstIndex { $0.hasPrefix("# ablations") })
    var block = String(lines[start].drop { $0 != ":" }.dropFirst())
    for line in lines[(start + 1)...] {
      guard line.hasPrefix("#   ") else { break }
      block += " " + line.dropFirst(4)
    }
    let groups = block.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    #expect(groups.count >= 5, "\(groups)")
    var checked = 0
    for group in groups {
      let words = group.split(separator: " ").map(String.init)
      #expect(words.count % 2 == 0 && stride(from: 0, to: words.count, by: 2).allSatisfy { words[$0] == "--set" }, "\(group)")
      var variants: [[String]] = [[]]
      for assignment in stride(from: 1, to: words.count, by: 2).map({ words[$0] }) {
        let (key, value) = (assignment.prefix { $0 != "=" }, assignment.drop { $0 != "=" }.dropFirst())
        variants = variants.flatMap { v in value.split(separator: "|").map { v + ["--set", "\(key)=\($0)"] } }
      }
      for args in variants {
        let r = try runIUMAD(["config", "check", packageRoot.appendingPathComponent("configs/paper-lite0.yaml").path] + args)
        #expect(r.status == 0, "\(args.joined(separator: " ")): \(r.stderr)")
        checked += 1
      }
    }
    #expect(checked >= 7)
  }

  /// Every shipped config passes `config check` except where the check names what is missing
  /// (paper.yaml's b4 weights, which this machine cannot fetch): then it says how to get them.
  @Test func shippedConfigsCheckOrSayWhatIsMissing() throws {
    let dir = packageRoot.appendingPathComponent("configs")
    for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).filter({ $0.hasSuffix(".yaml") }).sorted() {
      let r = try runIUMAD(["config", "check", dir.appendingPathComponent(name).path])
      if r.status != 0 {
        #expect(r.stderr.contains("backbone.weights") && r.stderr.contains("Scripts/convert_weights.py"), "\(name): \(r.stderr)")
      }
    }
    let lite = try runIUMAD(["config", "check", dir.appendingPathComponent("paper-lite0.yaml").path])
    #expect(lite.status == 0, "\(lite.stderr)")
    let mismatch = try runIUMAD(["config", "check", dir.appendingPathComponent("paper.yaml").path, "--set", "backbone.name=lite0"])
    #expect(mismatch.status == 1 && mismatch.stderr.contains("model.feature_channels: 272 does not match backbone lite0"), "\(mismatch.stderr)")
  }
}

/// Every `iumad …` line of README.md and docs/*.md, run as written with tiny data substituted:
/// placeholders (ROOT, RUN, W, x.png, C, D, R, a user's config file) become a 3-class 64 px
/// synthetic set, a trained tiny run and the shipped files; `a | b` alternatives are each run;
/// training gets one epoch per step and schedule 2-1, benchmarks their smallest sizes (appended
/// flags win). Synopses (with `[…]` or `…`) are not commands and are skipped. Each line runs in a
/// fresh folder holding a copy of the data, so lines cannot disturb each other.
@Suite("documented iumad lines", .serialized)
struct DocumentedLinesCLITests {
  struct Line { let file: String; let number: Int; let text: String }

  static func lines() throws -> [Line] {
    let files = ["README.md"] + (try FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("docs").path))
      .filter { $0.hasSuffix(".md") && $0 != "configuration.md" }.sorted().map { "docs/" + $0 }
    var out: [Line] = []
    for file in files {
      let text = try String(contentsOf: packageRoot.appendingPathComponent(file), encoding: .utf8)
      let rows = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      var i = 0
      while i < rows.count {
        var line = rows[i], number = i + 1
        if line.hasPrefix("iumad ") {
          while line.hasSuffix("\\") && i + 1 < rows.count { i += 1; line = String(line.dropLast()) + " " + rows[i].trimmingCharacters(in: .whitespaces) }
          if let hash = line.range(of: " #") { line = String(line[..<hash.lowerBound]) }
          line = line.trimmingCharacters(in: .whitespaces)
          if !line.contains("[") && !line.contains("…") && !line.contains("...") { out.append(Line(file: file, number: number, text: line)) }
        }
        number = 0
        i += 1
      }
    }
    return out
  }

  /// `iumad bench gemm | backbone` → both; otherwise the line itself.
  static func alternatives(_ text: String) -> [String] {
    guard text.contains(" | ") else { return [text] }
    let words = text.split(separator: " ").map(String.init)
    guard let bar = words.firstIndex(of: "|"), bar >= 1, bar + 1 < words.count else { return [text] }
    let head = words[..<(bar - 1)].joined(separator: " "), tail = words[(bar + 2)...].joined(separator: " ")
    return [words[bar - 1], words[bar + 1]].map { ([head, $0] + (tail.isEmpty ? [] : [tail])).joined(separator: " ") }
  }

  static let quick: [String: [String]] = [
    "gemm": ["--sizes", "64", "--threads", "1", "--seconds", "0.01"],
    "scan": ["--batch", "2", "--length", "16", "--channels", "8", "--repeats", "1"],
    "attention": ["--batch", "1", "--repeats", "1"],
    "backbone": ["--archs", "lite0", "--size", "32", "--batch", "1", "--seconds", "0.01"],
    "infer": ["--preset", "tiny", "--batch", "1", "--repeats", "1"],
    "step": ["--presets", "tiny", "--batches", "1", "--steps", "1"],
  ]

  @Test func everyIumadLineOfTheDocsRunsAsWritten() throws {
    let root = try temporaryDirectory("doc-lines")
    let data = root.appendingPathComponent("tiny-data").path, run = root.appendingPathComponent("tiny-run").path
    #expect(try runIUMAD(["synth", "--out", data, "--classes", "3", "--train", "8", "--test", "4", "--size", "64", "--seed", "7"]).status == 0)
    let trained = try runIUMAD(["train", "--config", packageRoot.appendingPathComponent("configs/tiny.yaml").path, "--data", data, "--out", run,
                                "--set", "train.schedule=2-1", "--set", "train.epochs_base=2", "--set", "train.epochs_incremental=1",
                                "--set", "backbone.cache=\(root.path)/cache"])
    try #require(trained.status == 0, "\(trained.stderr)")
    let cls = try FileManager.default.contentsOfDirectory(atPath: data).filter { !$0.hasPrefix(".") }.sorted()[0]
    let words: [String: String] = [
      "ROOT": "data", "/data/mvtec3d": "data", "RUN": run, "W": Self.defaultWeights, "x.png": "data/\(cls)/test/good/rgb/000.png",
      "x.tiff": "data/\(cls)/test/good/xyz/000.tiff", "C": "configs/tiny.yaml", "D": "data", "R": "out", "FILE": "configs/tiny.yaml",
      // The user's own config (docs/reproducing.md) names its data; tiny.yaml gets it by flag.
      "configs/mvtec3d-6-1x4.yaml": "configs/tiny.yaml --data data", "--seeds 4": "--seeds 2",
    ]
    let lines = try Self.lines()
    #expect(lines.count >= 25, "found \(lines.count) lines")
    for line in lines {
      for command in Self.alternatives(line.text) {
        var text = " " + command + " "
        for (from, to) in words.sorted(by: { $0.key.count > $1.key.count }) {
          text = text.replacingOccurrences(of: " \(from) ", with: " \(to) ").replacingOccurrences(of: " \(from)/", with: " \(to)/")
        }
        text = text.replacingOccurrences(of: "/bagel/test/crack", with: "/\(cls)/test/color").replacingOccurrences(of: "/maps/step-5", with: "/maps/step-2")
        var args = text.split(separator: " ").map(String.init).dropFirst().map { $0 }
        if ["train", "study", "baseline"].contains(args.first ?? "") {
          args += ["--set", "train.schedule=2-1", "--set", "train.epochs_base=1", "--set", "train.epochs_incremental=1",
                   "--set", "backbone.cache=\(root.path)/cache", "--set", "eval.heatmaps_per_class=0"]
        }
        if args.first == "bench", let quick = Self.quick[args.count > 1 ? args[1] : ""] { args += quick }
        let dir = try temporaryDirectory("doc-line")
        try FileManager.default.copyItem(atPath: data, toPath: dir.appendingPathComponent("data").path)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("configs").path,
                                                   withDestinationPath: packageRoot.appendingPathComponent("configs").path)
        let r = try runProcess(try iumadBinary().path, args, directory: dir)
        #expect(r.status == 0, "\(line.file):\(line.number): iumad \(args.joined(separator: " "))\n\(r.stderr.suffix(1500))")
        try? FileManager.default.removeItem(at: dir)
      }
    }
  }

  static var defaultWeights: String {
    (ProcessInfo.processInfo.environment["IUMAD_WEIGHTS_DIR"] ?? NSHomeDirectory() + "/.cache/iumad/weights") + "/efficientnet-lite0.safetensors"
  }
}
