// MARK: sum / mean over axes

extension Tensor {
  /// Sums over `axes` (all when nil); reduced axes stay as size 1 when `keepDims`.
  public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    let axesSet = Set((axes ?? Array(0..<rank)).map { normalizeAxis($0, rank: rank, op: "sum") })
    let keptShape = shape.enumerated().map { axesSet.contains($0.offset) ? 1 : $0.element }
    let outShape = keepDims ? keptShape : shape.enumerated().filter { !axesSet.contains($0.offset) }.map(\.element)
    let inShape = shape
    // Reading the output through broadcast strides maps every input position to its bucket.
    let so = broadcastStrides(keptShape, to: inShape)
    let zero = [Int](repeating: 0, count: inShape.count)
    let x = data
    var y = [Float](repeating: 0, count: keptShape.product)
    y.withUnsafeMutableBufferPointer { py in
      x.withUnsafeBufferPointer { px in
        forEachBroadcast(inShape, so, zero) { i, o, _ in py[o] += px[i] }
      }
    }
    return Tensor.record(Tensor(shape: outShape, data: y), op: "sum", [self]) { g in
      self.accumulateGrad { gx in forEachBroadcast(inShape, so, zero) { i, o, _ in gx[i] += g[o] } }
    }
  }

  public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    let ax = (axes ?? Array(0..<rank)).map { normalizeAxis($0, rank: rank, op: "mean") }
    let n = Set(ax).map { shape[$0] }.product
    return sum(axes: ax, keepDims: keepDims) * (1 / Float(max(n, 1)))
  }
}
