import Testing

@testable import Incremental
@testable import Runs
@testable import Model

@Suite("eval.compare_maps: the map variants compared")
struct MapComparisonTests {
  @Test func variantsCoverEverySubsetOnce() {
    let sources: [MapSource] = [.fused, .rgb, .depth]
    let variants = MapComparison.variants(sources)
    #expect(Set(variants).count == variants.count, "distinct variants vs all variants: \(variants.map(\.description))")
    let subsets: Set<Set<MapSource>> = [[.fused], [.rgb], [.depth], [.fused, .rgb], [.fused, .depth], [.rgb, .depth], [.fused, .rgb, .depth]]
    #expect(Set(variants.map { Set($0.sources) }) == subsets, "source sets of the variants vs every non-empty subset")
    for v in variants {
      #expect(v.sources == v.sources.sorted(), "sources of \(v) in canonical order")
      #expect(Set(v.sources).count == v.sources.count, "sources of \(v) each once")
    }
    for subset in subsets {
      let normalizations = Set(variants.filter { Set($0.sources) == subset }.map(\.normalization))
      let expected: Set<MapNormalization> = subset.count == 1 ? [.none, .channel] : Set(MapNormalization.allCases)
      #expect(normalizations == expected, "normalisations of \(subset.sorted()) vs \(expected): \(normalizations)")
    }
    #expect(variants.count == 3 * 2 + 4 * 3, "variants of three sources vs 3 singles × 2 + 4 sums × 3")
  }

  @Test func variantsDoNotDependOnTheOrderOfTheSources() {
    let a = Set(MapComparison.variants([.fused, .rgb, .depth])), b = Set(MapComparison.variants([.depth, .fused, .rgb]))
    #expect(a == b, "variants of fused, rgb, depth vs of depth, fused, rgb")
    #expect(MapComparison.variants([.rgb]) == [MapVariant(sources: [.rgb], normalization: .none), MapVariant(sources: [.rgb], normalization: .channel)],
            "variants of rgb alone vs rgb (none), rgb (channel)")
  }
}
