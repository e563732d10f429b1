import COpenBLAS
import Foundation

/// Row-major single-precision GEMM: C = alpha·op(A)·op(B) + beta·C, op = optional transpose.
/// A is M×K (or K×M when `transA`), B is K×N (or N×K when `transB`), C is M×N.
/// Transposes are folded into the BLAS call instead of being materialised. A product recomputed
/// for a backward pass passes `countsFLOPs: false`: achieved GFLOP/s count the model's work once.
@inlinable
public func sgemm(
  transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
  b: UnsafePointer<Float>, ldb: Int? = nil,
  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil, countsFLOPs: Bool = true
) {
  if m == 0 || n == 0 { return }
  if countsFLOPs { FLOPCounter.add(2 * m * n * k) }
  if k == 0 {
    if beta == 0 { c.update(repeating: 0, count: m * n) } else if beta != 1 {
      for i in 0..<(m * n) { c[i] *= beta }
    }
    return
  }
  let lda = lda ?? (transA ? m : k), ldb = ldb ?? (transB ? k : n), ldc = ldc ?? n
  let parts = GEMMPartition.parts(m: m, n: n, k: k, threads: Threading.threads)
  if parts <= 1 {
    cblasSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    return
  }
  // Blocks of C's rows (or columns), one per thread, OpenBLAS single-threaded in each: the
  // same kernels produce the same bits as one call, and OpenBLAS's own pool never spins.
  let alongRows = m >= n
  let extent = alongRows ? m : n
  Threading.parallelFor(parts) { range in
    for p in range {
      let lo = GEMMPartition.boundary(p, of: parts, extent: extent)
      let hi = GEMMPartition.boundary(p + 1, of: parts, extent: extent)
      if lo == hi { continue }
      if alongRows {
        cblasSgemm(transA, transB, hi - lo, n, k, alpha, transA ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc, ldc)
      } else {
        cblasSgemm(transA, transB, m, hi - lo, k, alpha, a, lda, transB ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc)
      }
    }
  }
}

@usableFromInline
func cblasSgemm(
  _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
  _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
  _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// How a GEMM is split among our threads. OpenBLAS always runs single-threaded (see
/// `Threading.setThreads`): its idle workers spin in sched_yield between calls, stealing the
/// cores from the element-wise kernels that run in between.
@usableFromInline
enum GEMMPartition {
  /// Block boundaries are multiples of this, so every row (column) of C is computed by the same
  /// OpenBLAS micro-kernel at the same position in its tile as in an unsplit call.
  @usableFromInline static let align = 64
  /// OpenBLAS (0.3.21, single-threaded) sends products with m·n·k below 28·512² to its "direct"
  /// and small-matrix kernels, which sum in another order than the packed one. A product that
  /// large is split only into blocks that are each that large too, so the whole and every block
  /// take the packed path, and a smaller one is not split: the bits never depend on the split.
  @usableFromInline static let minWorkPerPart = 28 * 512 * 512

  @usableFromInline
  static func parts(m: Int, n: Int, k: Int, threads: Int) -> Int {
    let extent = max(m, n), across = min(m, n)
    var p = min(threads, extent / align)
    while p > 1 {
      let smallest = (0..<p).map { boundary($0 + 1, of: p, extent: extent) - boundary($0, of: p, extent: extent) }.min()!
      if smallest * across * k >= minWorkPerPart { return p }
      p -= 1
    }
    return 1
  }

  @usableFromInline
  static func boundary(_ p: Int, of parts: Int, extent: Int) -> Int {
    if p >= parts { return extent }
    let blocks = (extent + align - 1) / align
    return min(extent, blocks * p / parts * align)
  }
}

/// Floating-point operations issued by the kernels that count them (GEMM, convolution,
/// selective scan), for `iumad model summary` and the benchmarks' achieved GFLOP/s.
/// Counting is off unless a measurement is in progress, so the hot path pays one branch.
public enum FLOPCounter {
  nonisolated(unsafe) public static var isCounting = false
  nonisolated(unsafe) public private(set) static var total: Int = 0

  @inlinable public static func add(_ n: Int) { if isCounting { addSlow(n) } }
  /// Kernels may count from several threads at once (e.g. attention's per-head GEMMs).
  static let lock = NSLock()
  @usableFromInline static func addSlow(_ n: Int) {
    lock.lock()
    total += n
    lock.unlock()
  }

  /// FLOPs issued while `body` runs (single-threaded callers only: the count is not synchronised).
  public static func measure(_ body: () throws -> Void) rethrows -> Int {
    total = 0
    isCounting = true
    defer { isCounting = false }
    try body()
    return total
  }
}
