// MARK: matrix products on cblas_sgemm

extension Tensor {
  /// a [M,K] × b [K,N] (or their transposes) → [M,N]; also batched: a [B,M,K] × b [B,K,N].
  /// A 3-D `a` times a 2-D `b` multiplies every batch by the same `b`.
  public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    check(
      (a.rank == 2 || a.rank == 3) && (b.rank == 2 || b.rank == 3) && !(a.rank == 2 && b.rank == 3),
      "matmul: unsupported ranks, shapes \(a.shape) and \(b.shape)")
    let batch = a.rank == 3 ? a.shape[0] : 1
    if b.rank == 3 {
      check(b.shape[0] == batch, "matmul: batch sizes differ, shapes \(a.shape) and \(b.shape)")
    }
    let ar = a.shape.suffix(2), br = b.shape.suffix(2)
    let m = transposeA ? ar.last! : ar.first!, k = transposeA ? ar.first! : ar.last!
    let kb = transposeB ? br.last! : br.first!, n = transposeB ? br.first! : br.last!
    check(k == kb, "matmul: inner dimensions differ, shapes \(a.shape) and \(b.shape) (transposeA \(transposeA), transposeB \(transposeB))")
    // A 3-D a with a shared 2-D b and no transpose on a is one tall GEMM.
    let fold = a.rank == 3 && b.rank == 2 && !transposeA
    let bStride = b.rank == 3 ? k * n : 0
    var y = [Float](repeating: 0, count: batch * m * n)
    a.data.withUnsafeBufferPointer { pa in
      b.data.withUnsafeBufferPointer { pb in
        y.withUnsafeMutableBufferPointer { py in
          if fold {
            sgemm(transA: false, transB: transposeB, m: batch * m, n: n, k: k, a: pa.baseAddress!, b: pb.baseAddress!, c: py.baseAddress!)
          } else {
            for i in 0..<batch {
              sgemm(
                transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                a: pa.baseAddress! + i * m * k, b: pb.baseAddress! + i * bStride, c: py.baseAddress! + i * m * n)
            }
          }
        }
      }
    }
    let outShape = a.rank == 3 ? [batch, m, n] : [m, n]
    let av = a.data, bv = b.data
    return record(Tensor(shape: outShape, data: y), op: "matmul", [a, b]) { g in
      g.withUnsafeBufferPointer { pg in
        if a.requiresGrad {
          // dA = dY·Bᵀ (or its transpose when A was used transposed).
          bv.withUnsafeBufferPointer { pb in
            a.accumulateGrad { ga in
              if fold {
                sgemm(transA: false, transB: !transposeB, m: batch * m, n: k, k: n, a: pg.baseAddress!, b: pb.baseAddress!, beta: 1, c: ga.baseAddress!)
                return
              }
              for i in 0..<batch {
                let gy = pg.baseAddress! + i * m * n, bb = pb.baseAddress! + i * bStride, gai = ga.baseAddress! + i * m * k
                if transposeA {
                  sgemm(transA: transposeB, transB: true, m: k, n: m, k: n, a: bb, b: gy, beta: 1, c: gai)
                } else {
                  sgemm(transA: false, transB: !transposeB, m: m, n: k, k: n, a: gy, b: bb, beta: 1, c: gai)
                }
              }
            }
          }
        }
        if b.requiresGrad {
          // dB = Aᵀ·dY (summed over the batch when B is shared).
          av.withUnsafeBufferPointer { pa in
            b.accumulateGrad { gb in
              if fold {
                if transposeB {
                  sgemm(transA: true, transB: false, m: n, n: k, k: batch * m, a: pg.baseAddress!, b: pa.baseAddress!, beta: 1, c: gb.baseAddress!)
                } else {
                  sgemm(transA: true, transB: false, m: k, n: n, k: batch * m, a: pa.baseAddress!, b: pg.baseAddress!, beta: 1, c: gb.baseAddress!)
                }
                return
              }
              for i in 0..<batch {
                let gy = pg.baseAddress! + i * m * n, aa = pa.baseAddress! + i * m * k, gbi = gb.baseAddress! + i * bStride
                if transposeB {
                  sgemm(transA: true, transB: transposeA, m: n, n: k, k: m, a: gy, b: aa, beta: 1, c: gbi)
                } else {
                  sgemm(transA: !transposeA, transB: false, m: k, n: n, k: m, a: aa, b: gy, beta: 1, c: gbi)
                }
              }
            }
          }
        }
      }
    }
  }

  /// Fully connected layer: x [..., in] · weightᵀ [out, in] + bias [out] → [..., out].
  public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let (y, rows, inF, outF) = affine(x, weight: weight, bias: bias, op: "linear")
    let xv = x.data, wv = weight.data
    let parents = [x, weight] + (bias.map { [$0] } ?? [])
    return record(Tensor(shape: Array(x.shape.dropLast()) + [outF], data: y), op: "linear", parents) { g in
      linearBackward(g, x: x, xv: xv, weight: weight, wv: wv, bias: bias, rows: rows, inF: inF, outF: outF)
    }
  }

  /// x·Wᵀ + b as [rows, outF] (the bias is the GEMM's C, beta = 1), after checking the shapes.
  static func affine(_ x: Tensor, weight: Tensor, bias: Tensor?, op: String) -> (y: [Float], rows: Int, inF: Int, outF: Int) {
    check(weight.rank == 2, "\(op): weight must be [out, in], got shape \(weight.shape)")
    let inF = weight.shape[1], outF = weight.shape[0]
    check(x.rank >= 1 && x.shape.last! == inF, "\(op): input shape \(x.shape) does not end in \(inF) (weight \(weight.shape))")
    if let bias { check(bias.shape == [outF], "\(op): bias shape \(bias.shape), expected [\(outF)]") }
    let rows = x.count / max(inF, 1)
    // No zero-fill: the bias rows are C (beta 1), or beta 0 writes C whole.
    let y = [Float](unsafeUninitializedCapacity: rows * outF) { py, written in
      let c = py.baseAddress!
      if let bias {
        bias.data.withUnsafeBufferPointer { pb in
          for r in 0..<rows { (c + r * outF).update(from: pb.baseAddress!, count: outF) }
        }
      }
      x.data.withUnsafeBufferPointer { px in
        weight.data.withUnsafeBufferPointer { pw in
          sgemm(transB: true, m: rows, n: outF, k: inF, a: px.baseAddress!, b: pw.baseAddress!, beta: bias == nil ? 0 : 1, c: c)
        }
      }
      written = rows * outF
    }
    return (y, rows, inF, outF)
  }

  /// The backward of y = x·Wᵀ + b for an output gradient `g` [rows, outF]: ∂x = g·W, ∂W = gᵀ·x,
  /// ∂b = Σ_rows g (shared by `linear` and the fused `linearReluDropout`).
  static func linearBackward(_ g: [Float], x: Tensor, xv: [Float], weight: Tensor, wv: [Float], bias: Tensor?,
                             rows: Int, inF: Int, outF: Int) {
    g.withUnsafeBufferPointer { pg in
      if x.requiresGrad {
        wv.withUnsafeBufferPointer { pw in
          x.accumulateGrad { gx in
            sgemm(m: rows, n: inF, k: outF, a: pg.baseAddress!, b: pw.baseAddress!, beta: 1, c: gx.baseAddress!)
          }
        }
      }
      if weight.requiresGrad {
        xv.withUnsafeBufferPointer { px in
          weight.accumulateGrad { gw in
            sgemm(transA: true, m: outF, n: inF, k: rows, a: pg.baseAddress!, b: px.baseAddress!, beta: 1, c: gw.baseAddress!)
          }
        }
      }
      if let bias, bias.requiresGrad {
        bias.accumulateGrad { gb in
          for r in 0..<rows { for j in 0..<outF { gb[j] += pg[r * outF + j] } }
        }
      }
    }
  }
}
