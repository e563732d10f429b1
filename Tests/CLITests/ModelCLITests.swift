import Foundation
import Testing
import TestSupport

/// `iumad model` reads a config exactly as `iumad train` does (one loader, one set of keys).
@Suite("iumad model: the train loader's config and overrides")
struct ModelCLITests {
  @Test func overridesAreTheTrainCommandsOwn() throws {
    let tiny = TrainCLITests.repo.appendingPathComponent("configs/tiny.yaml").path
    let r = try runIUMAD(["model", "summary", "--config", tiny, "--set", "model.preset=demo", "--set", "train.epochs_base=3"])
    #expect(r.status == 0, "\(r.stderr)")
    let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    #expect(obj?["input_size"] as? Int == 128, "\(r.stdout)")
    let bad = try runIUMAD(["model", "summary", "--config", tiny, "--set", "model.bogus=1"])
    #expect(bad.status == 1 && bad.stderr.contains("model.bogus: unknown key") && !bad.stderr.contains("Usage:"), "\(bad.stderr)")
  }
}
