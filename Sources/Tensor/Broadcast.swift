// MARK: broadcasting binary ops (NumPy rules)

/// The broadcast shape of `a` and `b`, trapping with the op's name and both shapes otherwise.
public func broadcastShape(_ a: [Int], _ b: [Int], op: String) -> [Int] {
  let n = max(a.count, b.count)
  var out = [Int](repeating: 1, count: n)
  for i in 0..<n {
    let da = i < n - a.count ? 1 : a[i - (n - a.count)]
    let db = i < n - b.count ? 1 : b[i - (n - b.count)]
    check(da == db || da == 1 || db == 1, "\(op): shapes \(a) and \(b) cannot be broadcast")
    out[i] = da == 1 ? db : da
  }
  return out
}

/// Strides that read `shape` as if it had `outShape` (0 along broadcast dimensions).
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
  let s = stridesOf(shape)
  let lead = outShape.count - shape.count
  return (0..<outShape.count).map { i in
    i < lead || shape[i - lead] == 1 ? 0 : s[i - lead]
  }
}

/// Visits every position of `outShape` in row-major order with the matching offsets of two
/// inputs read through `sa` and `sb` strides.

func forEachBroadcast(_ outShape: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int) -> Void) {
  let total = outShape.product
  if total == 0 { return }
  let r = outShape.count
  if r == 0 { body(0, 0, 0); return }
  let inner = outShape[r - 1], ia = sa[r - 1], ib = sb[r - 1]
  var idx = [Int](repeating: 0, count: r)
  var oa = 0, ob = 0, o = 0
  while o < total {
    for j in 0..<inner { body(o + j, oa + j * ia, ob + j * ib) }
    o += inner
    // Odometer over the outer dimensions.
    var d = r - 2
    while d >= 0 {
      idx[d] += 1
      oa += sa[d]
      ob += sb[d]
      if idx[d] < outShape[d] { break }
      oa -= sa[d] * outShape[d]
      ob -= sb[d] * outShape[d]
      idx[d] = 0
      d -= 1
    }
  }
}

extension Tensor {
  /// out = f(a, b) with broadcasting; `f.da`, `f.db` give ∂f/∂a and ∂f/∂b at (a, b). Generic
  /// over the function so each op's loops are specialised (no closure call per element).
  static func binary<F: BinaryPointwiseFunction>(_ a: Tensor, _ b: Tensor, op: String, _ f: F) -> Tensor {
    let av = a.data, bv = b.data
    if a.shape == b.shape {
      var y = [Float](repeating: 0, count: av.count)
      av.withUnsafeBufferPointer { pa in
        bv.withUnsafeBufferPointer { pb in
          y.withUnsafeMutableBufferPointer { py in
            // Plain pointers in the loops: through the buffer pointers they do not vectorise.
            let a = pa.baseAddress!, b = pb.baseAddress!, y = py.baseAddress!
            Threading.parallelFor(av.count, grain: 16384) { r in
              for i in r { y[i] = f.value(a[i], b[i]) }
            }
          }
        }
      }
      return record(Tensor(shape: a.shape, data: y), op: op, [a, b]) { g in
        av.withUnsafeBufferPointer { pa in
          bv.withUnsafeBufferPointer { pb in
            g.withUnsafeBufferPointer { pg in
              if a.requiresGrad {
                a.accumulateGrad { ga in
                  let d = ga.baseAddress!, g = pg.baseAddress!, x = pa.baseAddress!, y = pb.baseAddress!
                  Threading.parallelFor(ga.count, grain: 16384) { r in for i in r { d[i] += g[i] * f.da(x[i], y[i]) } }
                }
              }
              if b.requiresGrad {
                b.accumulateGrad { gb in
                  let d = gb.baseAddress!, g = pg.baseAddress!, x = pa.baseAddress!, y = pb.baseAddress!
                  Threading.parallelFor(gb.count, grain: 16384) { r in for i in r { d[i] += g[i] * f.db(x[i], y[i]) } }
                }
              }
            }
          }
        }
      }
    }
    if let y = rowBroadcast(a, b, op: op, f) { return y }
    let outShape = broadcastShape(a.shape, b.shape, op: op)
    let sa = broadcastStrides(a.shape, to: outShape), sb = broadcastStrides(b.shape, to: outShape)
    var y = [Float](repeating: 0, count: outShape.product)
    y.withUnsafeMutableBufferPointer { py in
      forEachBroadcast(outShape, sa, sb) { o, ia, ib in py[o] = f.value(av[ia], bv[ib]) }
    }
    return record(Tensor(shape: outShape, data: y), op: op, [a, b]) { g in
      // Broadcast dimensions sum their gradients back, in a fixed order (deterministic).
      if a.requiresGrad {
        a.accumulateGrad { ga in forEachBroadcast(outShape, sa, sb) { o, ia, ib in ga[ia] += g[o] * f.da(av[ia], bv[ib]) } }
      }
      if b.requiresGrad {
        b.accumulateGrad { gb in forEachBroadcast(outShape, sa, sb) { o, ia, ib in gb[ib] += g[o] * f.db(av[ia], bv[ib]) } }
      }
    }
  }

  /// `binary` when one operand's shape is a suffix of the other's (a positional embedding added
  /// to a batch): the rows of the larger one meet the smaller one with contiguous loops, in
  /// parallel, instead of an index walk per element. The smaller operand's gradient sums the rows
  /// in row order, as the walk does: the same bits. nil for any other broadcast.
  static func rowBroadcast<F: BinaryPointwiseFunction>(_ a: Tensor, _ b: Tensor, op: String, _ f: F) -> Tensor? {
    let bIsRow = b.rank < a.rank && Array(a.shape.suffix(b.rank)) == b.shape
    let aIsRow = a.rank < b.rank && Array(b.shape.suffix(a.rank)) == a.shape
    guard bIsRow || aIsRow else { return nil }
    let big = bIsRow ? a : b, m = (bIsRow ? b : a).count, n = big.count
    guard m > 0 else { return nil }
    let rows = n / m, grain = max(1, 16384 / m)
    // Row r reads a at r·aStep and b at r·bStep (0 for the operand that is one row).
    let aStep = bIsRow ? m : 0, bStep = bIsRow ? 0 : m
    let av = a.data, bv = b.data
    let y = [Float](unsafeUninitializedCapacity: n) { py, written in
      av.withUnsafeBufferPointer { pa in bv.withUnsafeBufferPointer { pb in
        let A = pa.baseAddress!, B = pb.baseAddress!, Y = py.baseAddress!
        Threading.parallelFor(rows, grain: grain) { rs in
          for r in rs {
            let x = A + r * aStep, z = B + r * bStep, out = Y + r * m
            for j in 0..<m { out[j] = f.value(x[j], z[j]) }
          }
        }
      } }
      written = n
    }
    return record(Tensor(shape: big.shape, data: y), op: op, [a, b]) { g in
      av.withUnsafeBufferPointer { pa in bv.withUnsafeBufferPointer { pb in g.withUnsafeBufferPointer { pg in
        let A = pa.baseAddress!, B = pb.baseAddress!, G = pg.baseAddress!
        for (t, isRow, da) in [(a, aIsRow, true), (b, bIsRow, false)] where t.requiresGrad {
          t.accumulateGrad { gt in
            let D = gt.baseAddress!
            @inline(__always) func term(_ r: Int, _ j: Int) -> Float {
              let x = A[r * aStep + j], z = B[r * bStep + j]
              return G[r * m + j] * (da ? f.da(x, z) : f.db(x, z))
            }
            if isRow {
              // Each column sums its rows in order, whichever thread has it.
              Threading.parallelFor(m, grain: 1024) { js in for r in 0..<rows { for j in js { D[j] += term(r, j) } } }
            } else {
              Threading.parallelFor(rows, grain: grain) { rs in for r in rs { for j in 0..<m { D[r * m + j] += term(r, j) } } }
            }
          }
        }
      } } }
    }
  }

  public static func + (a: Tensor, b: Tensor) -> Tensor { binary(a, b, op: "add", Add()) }
  public static func - (a: Tensor, b: Tensor) -> Tensor { binary(a, b, op: "sub", Sub()) }
  public static func * (a: Tensor, b: Tensor) -> Tensor { binary(a, b, op: "mul", Mul()) }
  public static func / (a: Tensor, b: Tensor) -> Tensor { binary(a, b, op: "div", Div()) }
}

/// f(a, b) and its partial derivatives, for `Tensor.binary`.
protocol BinaryPointwiseFunction {
  func value(_ a: Float, _ b: Float) -> Float
  func da(_ a: Float, _ b: Float) -> Float
  func db(_ a: Float, _ b: Float) -> Float
}

struct Add: BinaryPointwiseFunction {
  func value(_ a: Float, _ b: Float) -> Float { a + b }
  func da(_ a: Float, _ b: Float) -> Float { 1 }
  func db(_ a: Float, _ b: Float) -> Float { 1 }
}

struct Sub: BinaryPointwiseFunction {
  func value(_ a: Float, _ b: Float) -> Float { a - b }
  func da(_ a: Float, _ b: Float) -> Float { 1 }
  func db(_ a: Float, _ b: Float) -> Float { -1 }
}

struct Mul: BinaryPointwiseFunction {
  func value(_ a: Float, _ b: Float) -> Float { a * b }
  func da(_ a: Float, _ b: Float) -> Float { b }
  func db(_ a: Float, _ b: Float) -> Float { a }
}

struct Div: BinaryPointwiseFunction {
  func value(_ a: Float, _ b: Float) -> Float { a / b }
  func da(_ a: Float, _ b: Float) -> Float { 1 / b }
  func db(_ a: Float, _ b: Float) -> Float { -a / (b * b) }
}

extension Tensor {
  /// Copies along broadcast dimensions to `target` (NumPy rules); the backward sums them back.
  public func broadcast(to target: [Int]) -> Tensor {
    if shape == target { return self }
    let out = broadcastShape(shape, target, op: "broadcast")
    check(out == target, "broadcast: shape \(shape) cannot be broadcast to \(target)")
    let sa = broadcastStrides(shape, to: target), zero = [Int](repeating: 0, count: target.count)
    let x = data
    var y = [Float](repeating: 0, count: target.product)
    y.withUnsafeMutableBufferPointer { py in forEachBroadcast(target, sa, zero) { o, i, _ in py[o] = x[i] } }
    return Tensor.record(Tensor(shape: target, data: y), op: "broadcast", [self]) { g in
      self.accumulateGrad { gx in forEachBroadcast(target, sa, zero) { o, i, _ in gx[i] += g[o] } }
    }
  }
}
