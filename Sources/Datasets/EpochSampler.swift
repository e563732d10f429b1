import Tensor

/// Which samples each rank processes, batch by batch, in one epoch.
///
/// The epoch is a permutation of `0..<count` seeded by (seed, epoch), cut into global batches of
/// `globalBatch` (the last may be smaller). Rank r of W takes positions [r·n/W, (r+1)·n/W) of a
/// global batch of n. Hence the union of the ranks' shards is exactly the epoch, no sample repeats,
/// and the global batches do not depend on the world size: 1 rank × batch 8 sees the same batches
/// as 2 ranks × 4. Every rank gets the same number of batches (some possibly empty when a batch
/// has fewer samples than ranks), so collective operations stay in step.
public struct EpochSampler: Sendable {
  public let count: Int
  public let seed: UInt64

  public init(count: Int, seed: UInt64) {
    precondition(count >= 0, "EpochSampler: count must be non-negative, got \(count)")
    self.count = count
    self.seed = seed
  }

  /// The epoch's order of all sample indices.
  public func permutation(epoch: Int) -> [Int] {
    var rng = RNG(seed: seed, stream: UInt64(epoch))
    return rng.permutation(count)
  }

  public func globalBatches(epoch: Int, globalBatch: Int) -> [[Int]] {
    precondition(globalBatch > 0, "EpochSampler: global batch must be positive, got \(globalBatch)")
    let order = permutation(epoch: epoch)
    return stride(from: 0, to: order.count, by: globalBatch).map { Array(order[$0..<min($0 + globalBatch, order.count)]) }
  }

  /// Rank `rank`'s part of every global batch of the epoch.
  public func batches(epoch: Int, globalBatch: Int, rank: Int, worldSize: Int) -> [[Int]] {
    globalBatches(epoch: epoch, globalBatch: globalBatch).map {
      Self.microBatches($0, micro: 0, rank: rank, worldSize: worldSize).first ?? []
    }
  }

  /// Rank `rank`'s micro-batches of one global batch. With `micro` = 0 a rank's micro-batch is
  /// its whole share (positions [r·n/W, (r+1)·n/W)). Otherwise the batch is cut into
  /// micro-batches of `micro` samples, seen as the leaves of a perfect binary tree of
  /// L = nextPow2(count) leaves, and leaf j belongs to rank j·W/L: for power-of-two W each rank
  /// holds an aligned subtree, so summing leaves pairwise (missing leaves count as zeros) and
  /// then ranks pairwise gives the same bits for every such W.
  public static func microBatches(_ batch: [Int], micro: Int, rank: Int, worldSize: Int) -> [[Int]] {
    precondition(worldSize > 0 && (0..<worldSize).contains(rank), "EpochSampler: rank \(rank) outside world of \(worldSize)")
    let n = batch.count
    guard micro > 0 else {
      let share = Array(batch[(rank * n / worldSize)..<((rank + 1) * n / worldSize)])
      return share.isEmpty ? [] : [share]
    }
    let leaves = stride(from: 0, to: n, by: micro).map { Array(batch[$0..<min($0 + micro, n)]) }
    var width = 1
    while width < leaves.count { width <<= 1 }
    return leaves.indices.filter { $0 * worldSize / width == rank }.map { leaves[$0] }
  }
}

