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
