// MARK: reshape, permute, slice, concat, gather

extension Tensor {
  /// Same data, new shape; one dimension may be -1 (inferred).
  public func reshaped(_ newShape: [Int]) -> Tensor {
    var s = newShape
    if let i = s.firstIndex(of: -1) {
      let known = s.enumerated().filter { $0.offset != i }.map(\.element).product
      check(known > 0 && count % known == 0, "reshape: cannot infer -1 in \(newShape) from shape \(shape)")
      s[i] = count / known
    }
    check(s.product == count, "reshape: shape \(shape) (\(count) elements) cannot become \(newShape)")
    return Tensor.record(Tensor(shape: s, data: data), op: "reshape", [self]) { g in
      self.accumulateGrad { gx in for i in 0..<gx.count { gx[i] += g[i] } }
    }
  }

  /// Reorders dimensions: output dimension i is input dimension `dims[i]`.
  public func permuted(_ dims: [Int]) -> Tensor {
    check(
      dims.count == rank && Set(dims) == Set(0..<rank),
      "permute: \(dims) is not a permutation of the \(rank) dimensions of shape \(shape)")
    let outShape = dims.map { shape[$0] }
    let inStrides = stridesOf(shape)
    let readStrides = dims.map { inStrides[$0] }
    let zero = [Int](repeating: 0, count: rank)
    let x = data
    var y = [Float](repeating: 0, count: count)
    y.withUnsafeMutableBufferPointer { py in
      forEachBroadcast(outShape, readStrides, zero) { o, i, _ in py[o] = x[i] }
    }
    return Tensor.record(Tensor(shape: outShape, data: y), op: "permute", [self]) { g in
      self.accumulateGrad { gx in forEachBroadcast(outShape, readStrides, zero) { o, i, _ in gx[i] += g[o] } }
    }
  }

  /// Swaps two dimensions.
  public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
    var dims = Array(0..<rank)
    dims.swapAt(normalizeAxis(a, rank: rank, op: "transpose"), normalizeAxis(b, rank: rank, op: "transpose"))
    return permuted(dims)
  }

  /// Elements `range` along `axis`.
  public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
    let ax = normalizeAxis(axis, rank: rank, op: "slice")
    check(
      range.lowerBound >= 0 && range.upperBound <= shape[ax],
      "slice: range \(range) out of bounds for axis \(ax) of shape \(shape)")
    let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *)
    let n = shape[ax], m = range.count
    var outShape = shape
    outShape[ax] = m
    let x = data
    var y = [Float](repeating: 0, count: outer * m * inner)
    for o in 0..<outer {
      let src = (o * n + range.lowerBound) * inner, dst = o * m * inner
      for j in 0..<(m * inner) { y[dst + j] = x[src + j] }
    }
    return Tensor.record(Tensor(shape: outShape, data: y), op: "slice", [self]) { g in
      self.accumulateGrad { gx in
        for o in 0..<outer {
          let src = (o * n + range.lowerBound) * inner, dst = o * m * inner
          for j in 0..<(m * inner) { gx[src + j] += g[dst + j] }
        }
      }
    }
  }

  /// Joins tensors along `axis`; all other dimensions must agree.
  public static func concat(_ xs: [Tensor], axis: Int) -> Tensor {
    check(!xs.isEmpty, "concat: no tensors")
    let r = xs[0].rank
    let ax = normalizeAxis(axis, rank: r, op: "concat")
    for t in xs {
      var a = t.shape, b = xs[0].shape
      check(a.count == r, "concat: shapes \(xs[0].shape) and \(t.shape) differ in rank")
      a[ax] = 0
      b[ax] = 0
      check(a == b, "concat: shapes \(xs[0].shape) and \(t.shape) differ outside axis \(ax)")
    }
    let outer = xs[0].shape[..<ax].reduce(1, *), inner = xs[0].shape[(ax + 1)...].reduce(1, *)
    let sizes = xs.map { $0.shape[ax] }
    let total = sizes.reduce(0, +)
    var outShape = xs[0].shape
    outShape[ax] = total
    var y = [Float](repeating: 0, count: outer * total * inner)
    var offset = 0
    for (t, n) in zip(xs, sizes) {
      let x = t.data
      for o in 0..<outer {
        let src = o * n * inner, dst = (o * total + offset) * inner
        for j in 0..<(n * inner) { y[dst + j] = x[src + j] }
      }
      offset += n
    }
    return record(Tensor(shape: outShape, data: y), op: "concat", xs) { g in
      var offset = 0
      for (t, n) in zip(xs, sizes) {
        if t.requiresGrad {
          t.accumulateGrad { gx in
            for o in 0..<outer {
              let src = o * n * inner, dst = (o * total + offset) * inner
              for j in 0..<(n * inner) { gx[src + j] += g[dst + j] }
            }
          }
        }
        offset += n
      }
    }
  }

  /// Entries `indices` along `axis`, in that order (repeats allowed): a gather whose backward
  /// scatter-adds. Token permutations (ES2D) and embedding lookups both use it.
  public func select(axis: Int, _ indices: [Int]) -> Tensor {
    let ax = normalizeAxis(axis, rank: rank, op: "select")
    let n = shape[ax]
    for i in indices { check(i >= 0 && i < n, "select: index \(i) out of range for axis \(ax) of shape \(shape)") }
    let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *), m = indices.count
    var outShape = shape
    outShape[ax] = m
    let x = data
    var y = [Float](repeating: 0, count: outer * m * inner)
    y.withUnsafeMutableBufferPointer { py in
      x.withUnsafeBufferPointer { px in
        for o in 0..<outer {
          for (r, i) in indices.enumerated() {
            let src = (o * n + i) * inner, dst = (o * m + r) * inner
            for j in 0..<inner { py[dst + j] = px[src + j] }
          }
        }
      }
    }
    return Tensor.record(Tensor(shape: outShape, data: y), op: "select", [self]) { g in
      self.accumulateGrad { gx in
        for o in 0..<outer {
          for (r, i) in indices.enumerated() {
            let src = (o * n + i) * inner, dst = (o * m + r) * inner
            for j in 0..<inner { gx[src + j] += g[dst + j] }
          }
        }
      }
    }
  }

  /// Rows `indices` of a 2-D table [N, D] → [indices.count, D] (embedding lookup).
  public func gatherRows(_ indices: [Int]) -> Tensor {
    check(rank == 2, "gatherRows: table must be 2-D, got shape \(shape)")
    return select(axis: 0, indices)
  }
}
