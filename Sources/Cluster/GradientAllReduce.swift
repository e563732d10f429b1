import Tensor

/// The flat gradient of one iteration, summed across ranks bucket by bucket: a bucket (whole
/// tensors, at least `bucketElements` floats) starts its all-reduce as soon as all its tensors
/// are marked ready, so communication overlaps the rest of the backward. `extra` trailing
/// slots (loss values) are summed at the end. The buffer is fixed in memory for in-flight MPI.
public final class GradientAllReduce {
  public let communicator: Communicator
  /// Start of each tensor's slice in `buffer`; the extra slots follow the last one.
  public let offsets: [Int]
  public let buffer: UnsafeMutableBufferPointer<Float>
  let counts: [Int]
  let bucketOf: [Int]
  let bucketRanges: [Range<Int>]
  var waiting: [Int]
  public private(set) var isReady: [Bool]
  var inFlight: [PendingReduction] = []
  var nextBucket: Int

  public init(communicator: Communicator, counts: [Int], extra: Int, bucketElements: Int) {
    self.communicator = communicator
    self.counts = counts
    var offsets: [Int] = [], bucketOf: [Int] = [], ranges: [Range<Int>] = []
    var offset = 0, bucketStart = 0
    for c in counts {
      offsets.append(offset)
      bucketOf.append(ranges.count)
      offset += c
      if offset - bucketStart >= max(1, bucketElements) {
        ranges.append(bucketStart..<offset)
        bucketStart = offset
      }
    }
    if bucketStart < offset { ranges.append(bucketStart..<offset) }
    check(ranges.count <= 1023, "GradientAllReduce: \(ranges.count) buckets; raise train.bucket_mb")
    self.offsets = offsets
    self.bucketOf = bucketOf
    bucketRanges = ranges
    waiting = [Int](repeating: 0, count: ranges.count)
    for b in bucketOf { waiting[b] += 1 }
    isReady = [Bool](repeating: false, count: counts.count)
    nextBucket = ranges.count - 1
    buffer = .allocate(capacity: offset + extra)
    buffer.initialize(repeating: 0)
  }

  deinit {
    drain()
    buffer.deallocate()
  }

  public var extraRange: Range<Int> { (offsets.last.map { $0 + counts.last! } ?? 0)..<buffer.count }

  /// Tensor `i`'s slice holds this rank's final value: may start its bucket's all-reduce.
  public func ready(_ i: Int) {
    guard !isReady[i] else { return }
    isReady[i] = true
    waiting[bucketOf[i]] -= 1
    // Every rank starts the buckets in the same order (MPI's non-blocking collectives require
    // it): last bucket first, as the backward finishes the last-registered parameters first.
    while nextBucket >= 0 && waiting[nextBucket] == 0 {
      inFlight.append(communicator.startAllReduceSum(UnsafeMutableBufferPointer(rebasing: buffer[bucketRanges[nextBucket]]), tag: nextBucket))
      nextBucket -= 1
    }
    progress()
  }

  /// Advances every reduction until all are done. Each must be driven, not waited on one by
  /// one: a partner may be blocked on another bucket whose next exchange this rank must post.
  func drain() {
    while !inFlight.isEmpty { inFlight = inFlight.filter { !$0.test() } }
  }

  /// Lets reductions in flight advance (call it now and then during compute).
  public func progress() {
    for r in inFlight { _ = r.test() }
  }

  /// Marks every remaining tensor ready, finishes every bucket and sums the extra slots.
  public func finish() {
    for i in isReady.indices where !isReady[i] { ready(i) }
    drain()
    communicator.allReduceSum(UnsafeMutableBufferPointer(rebasing: buffer[extraRange]))
  }
}
