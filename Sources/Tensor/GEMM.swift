import COpenBLAS

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
