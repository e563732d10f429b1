import Foundation
import Testing

@testable import Incremental

/// The `perturb:` section and the `seeds:` list of run configs.
@Suite("perturb and seeds config keys")
struct PerturbAndSeedsConfigTests {
  @Test func perturbAndSeedsParseFromYAMLAndOverrides() throws {
    let c = try RunConfig.parse(yaml: """
      seeds: [3, 1]
      model: {preset: tiny}
      perturb: {spurious: 0.5, spurious_patches: 6, redundant: 0.1, octaves: 2}
      """, source: "p.yaml", overrides: ["perturb.noise_cells=8", "perturb.spurious_size=0.5"])
    #expect(c.seedList == [3, 1] && c.perturb.spurious == 0.5 && c.perturb.spuriousPatches == 6 && c.perturb.redundant == 0.1)
    #expect(c.perturb.octaves == 2 && c.perturb.noiseCells == 8 && c.perturb.spuriousSize == 0.5)
    #expect(try RunConfig.parse(yaml: c.yaml(), source: "resolved") == c)
    // A seed's own config: that seed, no list (what RUN/seed-K/config.yaml holds).
    let one = c.single(seed: 1)
    #expect(one.seed == 1 && one.seeds.isEmpty && one.seedList == [1])
    #expect(try RunConfig.parse(yaml: "seed: 4\nmodel: {preset: tiny}\n", source: "s.yaml", overrides: ["seeds=7,8"]).seedList == [7, 8])
    #expect(RunConfig().seedList == [0] && !RunConfig().perturb.isActive, "one seed and no perturbation by default")
  }

  @Test func badPerturbAndSeedValuesAreListedTogether() {
    do {
      _ = try RunConfig.parse(yaml: """
        seeds: [1, 1]
        perturb: {spurious: -1, redundant: lots, spurious_size: 2, octaves: 0, typo: 1}
        """, source: "bad.yaml", overrides: ["seeds=x"])
      Issue.record("expected a ConfigError")
    } catch let e as ConfigError {
      for needle in ["seeds: seeds must be distinct", "--set seeds: expected a list of non-negative integers, got 'x'",
                     "perturb.spurious: must be at least 0.0, got -1.0", "perturb.redundant: expected a number, got 'lots'",
                     "perturb.spurious_size: must be in (0.0, 1.0], got 2.0", "perturb.octaves: must be at least 1", "perturb.typo: unknown key"] {
        #expect(e.description.contains(needle), "missing: \(needle)\n\(e)")
      }
    } catch {
      Issue.record("unexpected \(error)")
    }
  }
}
