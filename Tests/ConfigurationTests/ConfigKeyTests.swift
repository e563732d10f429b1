import Testing

@testable import Configuration

/// A two-key section in the shape of the real ones (TrainConfig, EvalConfig…).
private struct Toy: ConfigSection {
  enum Mode: String, CaseIterable { case fast, careful }
  var steps = 3
  var rate: Float = 0.5
  var verbose = false
  var name = "x"
  var classes: [String] = []
  var mode = Mode.fast
  static let sectionName = "toy"
  static let keys: [ConfigKey<Toy>] = [
    .int("steps", \.steps, "iterations", min: 1),
    .float("rate", \.rate, "step size", .positive),
    .bool("verbose", \.verbose, "talk"),
    .string("name", \.name, "label"),
    .stringList("classes", \.classes, "names"),
    .choice("mode", \.mode, "how"),
  ]
}

/// One key table parses YAML values and `--set` text alike, names the key and the expected type
/// in every problem, and renders YAML that parses back to the same section.
@Suite("Configuration: keys and bounded YAML")
struct ConfigKeyTests {
  @Test func yamlValuesAndSetTextParseAlike() {
    var fromYAML = Toy(), fromText = Toy(), problems: [String] = []
    fromYAML.apply(["steps": 7, "rate": 0.25, "verbose": true, "name": "a b", "classes": ["p", "q"], "mode": "careful"], problems: &problems)
    fromText.apply(["steps": "7", "rate": "0.25", "verbose": "on", "name": "a b", "classes": "p, q", "mode": "careful"], problems: &problems)
    #expect(problems.isEmpty, "\(problems)")
    #expect(fromYAML.yamlLines() == fromText.yamlLines())
    #expect(fromYAML.steps == 7 && fromYAML.rate == 0.25 && fromYAML.verbose && fromYAML.classes == ["p", "q"] && fromYAML.mode == .careful)
  }

  @Test func everyProblemNamesItsKeyAndWhatWasExpected() {
    var t = Toy(), problems: [String] = []
    t.apply(["steps": 0, "rate": "fast", "verbose": "maybe", "mode": "reckless", "colour": 1], problems: &problems)
    t.set("rate", Double.nan, problems: &problems)
    t.set("rate", -1.0, problems: &problems)
    #expect(problems == [
      "toy.colour: unknown key (known: steps, rate, verbose, name, classes, mode)",
      "toy.mode: expected one of fast, careful, got 'reckless'",
      "toy.rate: expected a number, got 'fast'",
      "toy.steps: must be at least 1, got 0",
      "toy.verbose: expected on/off (or true/false), got 'maybe'",
      "toy.rate: expected a finite number, got 'nan'",
      "toy.rate: must be greater than 0.0, got -1.0",
    ])
    #expect(t.steps == 3 && t.rate == 0.5 && t.mode == .fast, "a rejected value leaves the default")
  }

  @Test func renderedYAMLReadsBackTheSameValues() throws {
    var t = Toy(), problems: [String] = []
    t.apply(["name": "on", "classes": ["1.5", "plain"], "rate": 0.125], problems: &problems)
    let text = "toy:\n" + t.yamlLines().joined(separator: "\n") + "\n"
    let parsed = try #require(try BoundedYAML.load(text) as? [String: Any])
    var back = Toy()
    back.apply(try #require(parsed["toy"] as? [String: Any]), problems: &problems)
    #expect(problems.isEmpty, "\(problems)")
    #expect(back.name == "on" && back.classes == ["1.5", "plain"] && back.yamlLines() == t.yamlLines(), "quoted where YAML would read another type")
  }

  @Test func numberRangesDescribeThemselves() {
    #expect(NumberRange.unitOpen.description == "in [0.0, 1.0)" && !NumberRange.unitOpen.contains(1) && NumberRange.unitOpen.contains(0))
    #expect(NumberRange.positive.description == "greater than 0.0" && !NumberRange.positive.contains(0))
    #expect(NumberRange.nonNegative.contains(0) && NumberRange.any.contains(-1e30))
  }

  @Test func boundedYAMLRefusesBombsDeepNestingAndHugeFiles() throws {
    var lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in 1...8 { lines.append("l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 9).joined(separator: ", ") + "]") }
    #expect(throws: BoundedYAML.LimitError.self) { try BoundedYAML.load(lines.joined(separator: "\n")) }
    #expect(throws: BoundedYAML.LimitError.self) { try BoundedYAML.load(String(repeating: "[", count: 65) + String(repeating: "]", count: 65)) }
    #expect(throws: BoundedYAML.LimitError.self) { try BoundedYAML.load("k: " + String(repeating: "a", count: BoundedYAML.maxBytes)) }
    // A few aliases within the bound are ordinary YAML.
    let ok = try #require(try BoundedYAML.load("a: &a [1, 2]\nb: *a\n") as? [String: Any])
    #expect((ok["b"] as? [Int]) == [1, 2])
  }
}
