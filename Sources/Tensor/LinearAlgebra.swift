import COpenBLAS

/// LAPACK failures (bad input or non-convergence) carry the routine and its INFO code.
public struct LinearAlgebraError: Error, CustomStringConvertible {
  public let routine: String
  public let info: Int32
  public var description: String {
    info < 0 ? "\(routine): argument \(-info) had an illegal value"
      : "\(routine): did not converge (INFO = \(info))"
  }
}

/// Dense decompositions on LAPACK (row-major in, row-major out).
public enum LinearAlgebra {
  /// Thin SVD of a row-major m×n matrix: A = U·diag(S)·Vᵀ with U m×k, S k (descending), Vᵀ k×n,
  /// k = min(m, n).
  public static func svd(_ a: [Float], rows m: Int, cols n: Int) throws -> (u: [Float], s: [Float], vt: [Float]) {
    check(a.count == m * n, "svd: \(a.count) values for a \(m)×\(n) matrix")
    let k = min(m, n)
    if k == 0 { return ([], [], []) }
    // Row-major A is column-major Aᵀ (n×m): SVD(Aᵀ) = U'·S·V'ᵀ gives U = V', Vᵀ = U'ᵀ.
    var at = a
    var s = [Float](repeating: 0, count: k)
    var u1 = [Float](repeating: 0, count: n * k)  // U' column-major n×k
    var vt1 = [Float](repeating: 0, count: k * m)  // V'ᵀ column-major k×m
    var info: Int32 = 0
    var mm = Int32(n), nn = Int32(m), lda = Int32(n), ldu = Int32(n), ldvt = Int32(k)
    var iwork = [Int32](repeating: 0, count: 8 * k)
    var query: Float = 0, lwork: Int32 = -1
    "S".withCString { jobz in
      sgesdd_(jobz, &mm, &nn, &at, &lda, &s, &u1, &ldu, &vt1, &ldvt, &query, &lwork, &iwork, &info)
    }
    if info != 0 { throw LinearAlgebraError(routine: "sgesdd", info: info) }
    lwork = Int32(query)
    var work = [Float](repeating: 0, count: Int(lwork))
    "S".withCString { jobz in
      sgesdd_(jobz, &mm, &nn, &at, &lda, &s, &u1, &ldu, &vt1, &ldvt, &work, &lwork, &iwork, &info)
    }
    if info != 0 { throw LinearAlgebraError(routine: "sgesdd", info: info) }
    // U (m×k row-major): U[r][i] = V'ᵀ[i][r] = vt1[i + r·k].  Vᵀ (k×n row-major): Vᵀ[i][c] = U'[c][i] = u1[c + i·n].
    var u = [Float](repeating: 0, count: m * k), vt = [Float](repeating: 0, count: k * n)
    for r in 0..<m { for i in 0..<k { u[r * k + i] = vt1[i + r * k] } }
    for i in 0..<k { for c in 0..<n { vt[i * n + c] = u1[c + i * n] } }
    return (u, s, vt)
  }

  /// Eigendecomposition of a symmetric n×n matrix: eigenvalues ascending, eigenvectors as rows.
  public static func symmetricEigen(_ a: [Float], n: Int) throws -> (values: [Float], vectors: [Float]) {
    check(a.count == n * n, "symmetricEigen: \(a.count) values for a \(n)×\(n) matrix")
    if n == 0 { return ([], []) }
    // Symmetric: row-major equals column-major; LAPACK's column eigenvectors are our rows.
    var m = a
    var w = [Float](repeating: 0, count: n)
    var nn = Int32(n), lda = Int32(n), info: Int32 = 0
    var qwork: Float = 0, qiwork: Int32 = 0, lwork: Int32 = -1, liwork: Int32 = -1
    "V".withCString { jobz in
      "U".withCString { uplo in
        ssyevd_(jobz, uplo, &nn, &m, &lda, &w, &qwork, &lwork, &qiwork, &liwork, &info)
      }
    }
    if info != 0 { throw LinearAlgebraError(routine: "ssyevd", info: info) }
    lwork = Int32(qwork)
    liwork = qiwork
    var work = [Float](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
    "V".withCString { jobz in
      "U".withCString { uplo in
        ssyevd_(jobz, uplo, &nn, &m, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
      }
    }
    if info != 0 { throw LinearAlgebraError(routine: "ssyevd", info: info) }
    return (w, m)
  }
}

extension Tensor {
  /// Singular values (descending) of a 2-D tensor, differentiable: ∂σᵢ/∂A = uᵢ vᵢᵀ
  /// (valid where the singular values are distinct, as they are almost surely for real data).
  public func singularValues() throws -> Tensor {
    check(rank == 2, "singularValues: needs a 2-D tensor, got shape \(shape)")
    let m = shape[0], n = shape[1]
    let (u, s, vt) = try LinearAlgebra.svd(data, rows: m, cols: n)
    let k = s.count
    return Tensor.record(Tensor(shape: [k], data: s), op: "singular_values", [self]) { g in
      // dA = U·diag(g)·Vᵀ.
      var ug = u
      for r in 0..<m { for i in 0..<k { ug[r * k + i] *= g[i] } }
      self.accumulateGrad { ga in
        ug.withUnsafeBufferPointer { pu in
          vt.withUnsafeBufferPointer { pv in
            sgemm(m: m, n: n, k: k, a: pu.baseAddress!, b: pv.baseAddress!, beta: 1, c: ga.baseAddress!)
          }
        }
      }
    }
  }
}
