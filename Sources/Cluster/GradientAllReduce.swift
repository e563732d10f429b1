/// Sums a flat gradient buffer across ranks in buckets of `bucketElements` floats (bounded
/// message size and scratch memory), so every replica takes the same optimiser step.
public struct GradientAllReduce {
  public let communicator: Communicator
  public let bucketElements: Int

  public init(communicator: Communicator, bucketElements: Int = 1 << 22) {
    self.communicator = communicator
    self.bucketElements = max(1, bucketElements)
  }

  public func callAsFunction(_ flat: inout [Float]) {
    guard communicator.size > 1 else { return }
    flat.withUnsafeMutableBufferPointer { all in
      for start in stride(from: 0, to: all.count, by: bucketElements) {
        communicator.allReduceSum(UnsafeMutableBufferPointer(rebasing: all[start..<min(start + bucketElements, all.count)]))
      }
    }
  }
}
