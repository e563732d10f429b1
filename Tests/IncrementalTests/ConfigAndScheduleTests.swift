import Foundation
import Testing

@testable import Incremental
@testable import Model

@Suite("Run config and schedules")
struct ConfigAndScheduleTests {
  @Test func paperSchedules() throws {
    let classes = (0..<10).map { "c\($0)" }
    for (text, steps) in [("10-0", [10]), ("9-1", [9, 1]), ("6-4", [6, 4]), ("6-1x4", [6, 1, 1, 1, 1]), ("6-1×4", [6, 1, 1, 1, 1])] {
      let s = try Schedule.parse(text).get()
      #expect(s.totalClasses == 10)
      #expect(s.stepClasses(classes).map(\.count) == steps)
      #expect(s.stepClasses(classes).flatMap { $0 } == classes)
    }
    #expect(try Schedule.parse("6-1x4").get().stepClasses(classes)[2] == ["c7"])
    for bad in ["6", "x-1", "6-1x0", "6--1", "0-1", "6-1x4x2"] {
      #expect(throws: ScheduleError.self) { try Schedule.parse(bad).get() }
    }
  }

  @Test func yamlWithSectionsAndOverrides() throws {
    let c = try RunConfig.parse(yaml: """
      seed: 7
      model: {preset: tiny, mamba: off, ibfm: off, anomaly_map: modal}
      data: {root: /data, classes: [b, a]}
      train: {schedule: 2-1x2, epochs_base: 3, batch_size: 4}
      """, source: "test.yaml", overrides: ["train.epochs_incremental=2", "model.fusion=add", "seed=9"])
    #expect(c.seed == 9 && c.model.inputSize == 64 && !c.model.mamba && c.model.fusion == .add)
    #expect(c.data.classes == ["b", "a"] && c.train.epochsIncremental == 2 && c.train.batchSize == 4)
    // The resolved YAML parses back to the same config.
    #expect(try RunConfig.parse(yaml: c.yaml(), source: "resolved") == c)
  }

  @Test func everyProblemIsListedAtOnce() {
    do {
      _ = try RunConfig.parse(yaml: """
        bogus: 1
        model: {preset: tiny, hidden: many, fusion: sum}
        train: {schedule: six, batch_size: 0, typo: 2}
        data: {format: png}
        """, source: "broken.yaml")
      Issue.record("expected a ConfigError")
    } catch let e as ConfigError {
      let text = e.description
      for needle in ["bogus: unknown top-level key", "model.hidden: expected an integer, got 'many'",
                     "model.fusion: expected one of add, concat_fc, linear_glu, cross_attention, got 'sum'",
                     "train.schedule: schedule 'six' is not of the form", "train.batch_size: must be at least 1, got 0",
                     "train.typo: unknown key", "data.format: expected one of mvtec3d, eyecandies, jsonl, got 'png'"] {
        #expect(text.contains(needle), "missing: \(needle)\n\(text)")
      }
      #expect(text.hasPrefix("broken.yaml: "))
    } catch {
      Issue.record("unexpected \(error)")
    }
  }

  @Test func shippedConfigsParse() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = root.appendingPathComponent("configs")
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
    #expect(files.count >= 3)
    for f in files { _ = try RunConfig.load(path: dir.appendingPathComponent(f).path) }
  }
}

@Suite("docs/configuration.md")
struct ConfigurationDocTests {
  @Test func committedReferenceMatchesTheKeyTables() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let doc = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
    #expect(doc == RunConfig.referenceMarkdown(), "regenerate with: iumad config reference > docs/configuration.md")
  }
}
