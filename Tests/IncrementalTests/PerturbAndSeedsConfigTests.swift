import Foundation
import Testing

@testable import Incremental

/// The `perturb:` section of run configs.
@Suite("perturb config keys")
struct PerturbAndSeedsConfigTests {
  @Test func perturbParsesFromYAMLAndOverrides() throws {
    let c = try RunConfig.parse(yaml: """
      perturb: {spurious: 0.5, spurious_patches: 6, redundant: 0.1, octaves: 2}
      """, source: "p.yaml", overrides: ["perturb.noise_cells=8", "perturb.spurious_size=0.5"])
    #expect(c.perturb.spurious == 0.5 && c.perturb.spuriousPatches == 6 && c.perturb.redundant == 0.1)
    #expect(c.perturb.octaves == 2 && c.perturb.noiseCells == 8 && c.perturb.spuriousSize == 0.5)
    #expect(try RunConfig.parse(yaml: c.yaml(), source: "resolved") == c)
    #expect(!RunConfig().perturb.isActive, "no perturbation by default")
  }

  @Test func badPerturbValuesAreListedTogether() {
    do {
      _ = try RunConfig.parse(yaml: """
        perturb: {spurious: -1, redundant: lots, spurious_size: 2, octaves: 0, typo: 1}
        """, source: "bad.yaml")
      Issue.record("expected a ConfigError")
    } catch let e as ConfigError {
      for needle in ["perturb.spurious: -1.0 is negative", "perturb.redundant: expected a number, got 'lots'",
                     "perturb.spurious_size: 2.0 is not in (0, 1]", "perturb.octaves: must be at least 1", "perturb.typo: unknown key"] {
        #expect(e.description.contains(needle), "missing: \(needle)\n\(e)")
      }
    } catch {
      Issue.record("unexpected \(error)")
    }
  }
}
