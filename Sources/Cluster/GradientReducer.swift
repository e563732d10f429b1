import Tensor

/// One iteration's gradient across micro-batches and ranks, shaped like PyTorch DDP's `Reducer`:
/// the caller runs each micro-batch's backward through `backward(isLast:losses:_:)` and then
/// `finish()`. Micro-batch gradients are summed in a pairwise tree (`PairwiseSum`), then across
/// ranks in the same tree shape (`GradientAllReduce`), so N ranks match one rank bit for bit.
/// The last micro-batch's backward hands each finished gradient to the all-reduce through the
/// tape's gradient-ready hook, and its bucket goes out while the rest of the backward runs.
/// Loss values ride along as extra slots of the same buffer.
public final class GradientReducer {
  let params: [Tensor]
  let allReduce: GradientAllReduce
  let index: [ObjectIdentifier: Int]
  let lossCount: Int
  var sum = PairwiseSum()

  public init(communicator: Communicator, parameters: [Tensor], lossCount: Int, bucketElements: Int) {
    params = parameters
    self.lossCount = lossCount
    allReduce = GradientAllReduce(communicator: communicator, counts: parameters.map(\.count), extra: lossCount,
                                  bucketElements: bucketElements)
    index = Dictionary(uniqueKeysWithValues: parameters.enumerated().map { (ObjectIdentifier($1), $0) })
  }

  /// Runs one micro-batch's backward (`run(hook)` must call the tape's backward with `hook` as
  /// its gradient-ready callback, or ignore it) on zeroed gradients and adds its gradients and
  /// `losses` (already scaled to the global batch) to the iteration's sum.
  public func backward(isLast: Bool, losses: [Float], _ run: (_ leafReady: ((Tensor) -> Void)?) -> Void) {
    precondition(losses.count == lossCount, "GradientReducer: \(losses.count) loss values, expected \(lossCount)")
    for p in params { p.grad = nil }
    guard isLast else {
      run(nil)
      sum.add(params.flatMap { $0.grad ?? [Float](repeating: 0, count: $0.count) } + losses)
      return
    }
    run { [self] leaf in if let i = index[ObjectIdentifier(leaf)] { settle(i) } }
    for i in params.indices where !allReduce.isReady[i] { settle(i) }
    let extra = allReduce.extraRange
    for (k, x) in sum.total(range: extra, last: losses).enumerated() { allReduce.buffer[extra.lowerBound + k] = x }
  }

  /// Tensor i's local total (earlier micro-batches plus the last one's gradient) into the
  /// all-reduce buffer; its bucket may then start.
  func settle(_ i: Int) {
    let r = allReduce.offsets[i]..<(allReduce.offsets[i] + params[i].count)
    let last = params[i].grad ?? [Float](repeating: 0, count: params[i].count)
    for (k, x) in sum.total(range: r, last: last).enumerated() { allReduce.buffer[r.lowerBound + k] = x }
    allReduce.ready(i)
  }

  /// Completes every bucket, leaves each parameter's summed gradient in its `grad`, and returns
  /// the summed loss values. A rank without samples in this batch still joins (with zeros).
  public func finish() -> [Float] {
    allReduce.finish()
    for (i, p) in params.enumerated() { p.grad = Array(allReduce.buffer[allReduce.offsets[i]..<(allReduce.offsets[i] + p.count)]) }
    return Array(allReduce.buffer[allReduce.extraRange])
  }
}
