import Tensor

/// Sums every parameter's gradient across ranks, in buckets of `bucketElements` floats, so all
/// replicas take the same optimiser step. Parameters without a gradient on this rank count as
/// zeros, so every rank sends the same layout.
public struct GradientAllReduce {
  public let communicator: Communicator
  public let bucketElements: Int

  public init(communicator: Communicator, bucketElements: Int = 1 << 22) {
    self.communicator = communicator
    self.bucketElements = max(1, bucketElements)
  }

  public func callAsFunction(_ params: ParameterStore) {
    guard communicator.size > 1 else { return }
    var bucket: [Float] = []
    var members: [Tensor] = []
    func flush() {
      guard !members.isEmpty else { return }
      communicator.allReduceSum(&bucket)
      var offset = 0
      for t in members {
        t.grad = Array(bucket[offset..<(offset + t.count)])
        offset += t.count
      }
      bucket.removeAll(keepingCapacity: true)
      members.removeAll(keepingCapacity: true)
    }
    for t in params.tensors {
      bucket += t.grad ?? [Float](repeating: 0, count: t.count)
      members.append(t)
      if bucket.count >= bucketElements { flush() }
    }
    flush()
  }
}
