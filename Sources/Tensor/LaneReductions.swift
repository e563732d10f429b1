// MARK: reductions over a row in 16 lanes
//
// A float sum in index order is one long dependency chain (an add's latency per element) and
// cannot vectorise, since reordering changes the result. These sum in 16 interleaved lanes, then
// fold the lanes in halves, then add the tail in order: a fixed order, so the result is the same
// on every run and thread count, just not the index-order sum.

@inlinable @inline(__always)
func loadLanes(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
  UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inlinable @inline(__always)
func foldLanes(_ v: SIMD16<Float>) -> Float {
  let v8 = v.lowHalf + v.highHalf
  let v4 = v8.lowHalf + v8.highHalf
  let v2 = v4.lowHalf + v4.highHalf
  return v2[0] + v2[1]
}

/// Σ x[j] for j in 0..<n, in lanes.
@inlinable
public func laneSum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
  var acc = SIMD16<Float>(repeating: 0)
  var j = 0
  while j + 16 <= n { acc += loadLanes(x + j); j += 16 }
  var s = foldLanes(acc)
  while j < n { s += x[j]; j += 1 }
  return s
}

/// Σ a[j]·b[j] for j in 0..<n, in lanes.
@inlinable
public func laneDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
  var acc = SIMD16<Float>(repeating: 0)
  var j = 0
  while j + 16 <= n { acc += loadLanes(a + j) * loadLanes(b + j); j += 16 }
  var s = foldLanes(acc)
  while j < n { s += a[j] * b[j]; j += 1 }
  return s
}

/// max x[j] for j in 0..<n (−∞ for n = 0); the maximum does not depend on the order.
@inlinable
public func laneMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
  var acc = SIMD16<Float>(repeating: -.infinity)
  var j = 0
  while j + 16 <= n {
    // Compare and select: pointwiseMax's NaN rules keep it from vectorising.
    let v = loadLanes(x + j)
    acc.replace(with: v, where: v .> acc)
    j += 16
  }
  var m = -Float.infinity
  for l in 0..<16 where acc[l] > m { m = acc[l] }
  while j < n { m = max(m, x[j]); j += 1 }
  return m
}
