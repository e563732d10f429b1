import Tensor

/// PatchCore's coreset subsampling of a memory bank: greedy k-center (`GreedyKCenter`) on a
/// random projection of the tokens (`RandomProjection`), from a seeded random start.
public struct CoresetSampler {
  public let settings: BaselineSettings
  public let seed: UInt64

  public init(settings: BaselineSettings, seed: UInt64) {
    self.settings = settings
    self.seed = seed
  }

  /// Indices (ascending) of the tokens of `tokens` ([count, dim]) that the bank keeps.
  /// `stream` names the set (e.g. class and modality) so each set gets its own random start.
  public func select(_ tokens: [Float], count n: Int, dim: Int, stream: String) -> [Int] {
    let keep = settings.keep(of: n)
    if keep >= n { return Array(0..<n) }
    var projected = tokens, d = dim
    if dim > settings.projection {
      projected = RandomProjection(input: dim, output: settings.projection, seed: seed).apply(tokens, count: n)
      d = settings.projection
    }
    var rng = RNG(seed: seed, name: "baseline.coreset.start." + stream)
    let first = rng.int(below: n)
    return GreedyKCenter.select(projected, count: n, dim: d, keep: keep, first: first).sorted()
  }
}
