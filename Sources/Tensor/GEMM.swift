import COpenBLAS
import Foundation

/// Row-major single-precision GEMM: C = alpha·op(A)·op(B) + beta·C, op = optional transpose.
/// A is M×K (or K×M when `transA`), B is K×N (or N×K when `transB`), C is M×N.
/// Transposes are folded into the BLAS call instead of being materialised.
@inlinable
public func sgemm(
  transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
  b: UnsafePointer<Float>, ldb: Int? = nil,
  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil
) {
  if m == 0 || n == 0 { return }
  FLOPCounter.add(2 * m * n * k)
  if k == 0 {
    if beta == 0 { c.update(repeating: 0, count: m * n) } else if beta != 1 {
      for i in 0..<(m * n) { c[i] *= beta }
    }
    return
  }
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    Int32(m), Int32(n), Int32(k), alpha,
    a, Int32(lda ?? (transA ? m : k)),
    b, Int32(ldb ?? (transB ? k : n)),
    beta, c, Int32(ldc ?? n))
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
