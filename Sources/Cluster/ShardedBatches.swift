/// Work over `count` items dealt to ranks in whole batches — batch j to rank j mod N — so an
/// item's batch, hence its bits, does not depend on the world size; rank 0 gathers every item's
/// result back in item order (sharded evaluation, SPEC §9).
public struct ShardedBatches {
  public let batches: [[Int]]
  public let worldSize: Int

  public init(count: Int, batchSize: Int, worldSize: Int) {
    batches = stride(from: 0, to: count, by: max(1, batchSize)).map { Array($0..<min($0 + max(1, batchSize), count)) }
    self.worldSize = max(1, worldSize)
  }

  /// The items rank `rank` works on, in item order.
  public func owned(by rank: Int) -> [Int] {
    batches.indices.filter { $0 % worldSize == rank }.flatMap { batches[$0] }
  }

  /// Every item's `width` floats on rank 0, in item order (nil on the other ranks), from each
  /// rank's `values`: `width` floats per item it owns, in the order of `owned(by:)`.
  public func gather(_ values: [Float], width: Int, over comm: Communicator) -> [[Float]]? {
    precondition(values.count == owned(by: comm.rank).count * width, "ShardedBatches.gather: \(values.count) values for \(owned(by: comm.rank).count) items of width \(width)")
    guard let parts = comm.gather(values.withUnsafeBytes { [UInt8]($0) }, root: 0) else { return nil }
    var out = [[Float]](repeating: [], count: batches.reduce(0) { $0 + $1.count })
    for (r, bytes) in parts.enumerated() {
      let floats = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
      for (k, i) in owned(by: r).enumerated() { out[i] = Array(floats[(k * width)..<((k + 1) * width)]) }
    }
    return out
  }
}
