import Foundation
import Tensor

/// SPEC §7's gradient projection for incremental steps. For each FFN output layer (linear2) of
/// every encoder and decoder layer, the Gram matrix MᵀM of its token-mean outputs M [samples × d]
/// over all earlier steps' training data is accumulated; its eigenvectors are M's right singular
/// vectors V (rows, by decreasing singular value), and the layer's gradient is projected on its
/// output side: g ← Vᵀ·diag(w)·V·g with w_k = log(k+1)/log(d) (the top direction k = 0 gets 0).
/// Keeping MᵀM (d×d) instead of M makes the state independent of how many samples were seen.
public struct GradientProjection {
  /// Layer prefix (e.g. "mrn.rgb.encoder.0.linear2") → accumulated Gram [d·d].
  public private(set) var grams: [String: [Float]] = [:]
  /// Layer prefix → P = Vᵀ·diag(w)·V [d·d], recomputed by `refresh()`.
  public private(set) var projections: [String: [Float]] = [:]

  public init() {}

  /// Adds rows [n, d] (token-mean outputs of one layer) to that layer's Gram matrix.
  public mutating func accumulate(layer: String, rows: [Float], d: Int) {
    let n = rows.count / d
    var g = grams[layer] ?? [Float](repeating: 0, count: d * d)
    rows.withUnsafeBufferPointer { pr in
      g.withUnsafeMutableBufferPointer { pg in
        sgemm(transA: true, m: d, n: d, k: n, a: pr.baseAddress!, b: pr.baseAddress!, beta: 1, c: pg.baseAddress!)
      }
    }
    grams[layer] = g
  }

  /// Recomputes every projection from the current Gram matrices.
  public mutating func refresh() throws {
    for (layer, g) in grams {
      let d = Int(Double(g.count).squareRoot())
      let (_, vectors) = try LinearAlgebra.symmetricEigen(g, n: d)
      // Eigenvalues ascend: row d−1−k is the k-th right singular vector by decreasing value.
      var p = [Float](repeating: 0, count: d * d)
      for k in 0..<d {
        let w = Float(Foundation.log(Double(k + 1)) / Foundation.log(Double(d)))
        if w == 0 { continue }
        let v = Array(vectors[((d - 1 - k) * d)..<((d - k) * d)])
        for i in 0..<d { for j in 0..<d { p[i * d + j] += w * v[i] * v[j] } }
      }
      projections[layer] = p
    }
  }

  /// Replaces `grad` of a linear2 weight [d, F] or bias [d] by P·grad, in place.
  public func project(layer: String, grad: inout [Float], rows d: Int) {
    guard let p = projections[layer] else { return }
    let cols = grad.count / d
    var out = [Float](repeating: 0, count: grad.count)
    p.withUnsafeBufferPointer { pp in
      grad.withUnsafeBufferPointer { pg in
        out.withUnsafeMutableBufferPointer { po in
          sgemm(m: d, n: cols, k: d, a: pp.baseAddress!, b: pg.baseAddress!, c: po.baseAddress!)
        }
      }
    }
    grad = out
  }

  /// Projects the gradients of every linear2 weight and bias in `params` that has a projection.
  public func projectGradients(_ params: ParameterStore) {
    for (layer, _) in projections {
      for suffix in [".weight", ".bias"] {
        guard let t = params[layer + suffix], var g = t.grad else { continue }
        project(layer: layer, grad: &g, rows: t.shape[0])
        t.grad = g
      }
    }
  }

  /// Restores the Gram matrices saved in a checkpoint and rebuilds the projections.
  public mutating func restore(grams saved: [String: [Float]]) throws {
    grams = saved
    projections = [:]
    try refresh()
  }
}
