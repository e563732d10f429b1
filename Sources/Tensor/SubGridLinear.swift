import Foundation

// MARK: A linear layer over one stride-2 sub-grid of a token grid, read where it lies

/// One of the four stride-2 sub-grids of a G×G grid of tokens (ES2D's directions read one each):
/// the tokens at grid (2i + rowOffset, 2j + columnOffset), i, j < G/2. Its own order is row-major
/// in (i, j); `linear(_:weight:on:)` writes its rows in that order.
public struct SubGrid: Sendable, Equatable {
  public let grid, rowOffset, columnOffset: Int

  public init(grid: Int, rowOffset: Int, columnOffset: Int) {
    check(grid > 0 && grid % 2 == 0, "SubGrid: the grid side \(grid) must be even and positive")
    check((0...1).contains(rowOffset) && (0...1).contains(columnOffset),
          "SubGrid: offsets (\(rowOffset), \(columnOffset)) must each be 0 or 1")
    (self.grid, self.rowOffset, self.columnOffset) = (grid, rowOffset, columnOffset)
  }

  /// Tokens per side of the sub-grid.
  public var side: Int { grid / 2 }
  public var count: Int { side * side }

  /// Grid token (row-major index) of the sub-grid's (i, j).
  public func token(_ i: Int, _ j: Int) -> Int { (2 * i + rowOffset) * grid + 2 * j + columnOffset }

  /// Where grid token `p` (one of this sub-grid's) sits in the sub-grid's own order.
  public func position(ofToken p: Int) -> Int {
    let (r, c) = (p / grid - rowOffset, p % grid - columnOffset)
    check(r >= 0 && c >= 0 && r % 2 == 0 && c % 2 == 0, "SubGrid: token \(p) is not on sub-grid (\(rowOffset), \(columnOffset)) of a \(grid)×\(grid) grid")
    return (r / 2) * side + c / 2
  }
}

extension Tensor {
  /// x·Wᵀ for the tokens of one sub-grid: x [B, G², in], weight [out, in] → [B, (G/2)², out] in
  /// the sub-grid's own order. Each sub-grid row (G/2 tokens, every other row of x) is one GEMM
  /// that reads x in place (`lda` = 2·in): no gathered copy of the tokens, forward or backward.
  /// Every GEMM has a fixed shape and ∂W sums them in a fixed order, in column blocks that do
  /// not depend on the thread count, so the bits do not either.
  public static func linear(_ x: Tensor, weight: Tensor, on sub: SubGrid) -> Tensor {
    check(weight.rank == 2, "linear on a sub-grid: weight must be [out, in], got shape \(weight.shape)")
    let inF = weight.shape[1], outF = weight.shape[0]
    check(x.rank == 3 && x.shape[1] == sub.grid * sub.grid && x.shape[2] == inF,
          "linear on a sub-grid: input shape \(x.shape) is not [B, \(sub.grid * sub.grid), \(inF)] (grid \(sub.grid), weight \(weight.shape))")
    let bs = x.shape[0], side = sub.side, cells = sub.grid * sub.grid
    let xv = x.data, wv = weight.data
    // Sub-grid row (bi, i): its first token's offset in x, its first row's in the output.
    @inline(__always) func xRow(_ job: Int) -> Int { (job / side * cells + sub.token(job % side, 0)) * inF }
    @inline(__always) func yRow(_ job: Int) -> Int { job * side * outF }
    FLOPCounter.add(2 * bs * sub.count * outF * inF)
    let y = [Float](unsafeUninitializedCapacity: bs * sub.count * outF) { py, written in
      let c = py.baseAddress!
      xv.withUnsafeBufferPointer { px in wv.withUnsafeBufferPointer { pw in
        let a = px.baseAddress!, w = pw.baseAddress!
        Threading.parallelFor(bs * side, grain: 1) { jobs in
          for job in jobs {
            cblasSgemm(false, true, side, outF, inF, 1, a + xRow(job), 2 * inF, w, inF, 0, c + yRow(job), outF)
          }
        }
      } }
      written = bs * sub.count * outF
    }
    return record(Tensor(shape: [bs, sub.count, outF], data: y), op: "linear_subgrid", [x, weight]) { g in
      FLOPCounter.add(4 * bs * sub.count * outF * inF)
      g.withUnsafeBufferPointer { pg in
        let gy = pg.baseAddress!
        if x.requiresGrad {
          // ∂x rows = g·W, straight into every other row of x's gradient (no other sub-grid writes them).
          wv.withUnsafeBufferPointer { pw in
            x.accumulateGrad { gx in
              let gxp = gx.baseAddress!
              Threading.parallelFor(bs * side, grain: 1) { jobs in
                for job in jobs {
                  cblasSgemm(false, false, side, inF, outF, 1, gy + yRow(job), outF, pw.baseAddress!, inF, 1, gxp + xRow(job), 2 * inF)
                }
              }
            }
          }
        }
        if weight.requiresGrad {
          // ∂W = Σ gᵀ·x over the sub-grid rows in order, one block of ∂W's columns per task.
          let block = 64, blocks = (inF + block - 1) / block
          xv.withUnsafeBufferPointer { px in
            weight.accumulateGrad { gw in
              let gwp = gw.baseAddress!, a = px.baseAddress!
              Threading.parallelFor(blocks, grain: 1) { range in
                for blk in range {
                  let c0 = blk * block, width = min(block, inF - c0)
                  for job in 0..<(bs * side) {
                    cblasSgemm(true, false, outF, width, side, 1, gy + yRow(job), outF, a + xRow(job) + c0, 2 * inF, 1, gwp + c0, inF)
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
