import Foundation

// MARK: cross-entropy, MSE, KL divergence (all means over the batch)

extension Tensor {
  /// Mean cross-entropy of `logits` [N, K] against class indices `labels` (N of them).
  public static func crossEntropy(logits: Tensor, labels: [Int]) -> Tensor {
    check(logits.rank == 2, "crossEntropy: logits must be [N, K], got shape \(logits.shape)")
    let n = logits.shape[0], k = logits.shape[1]
    check(labels.count == n, "crossEntropy: \(labels.count) labels for logits of shape \(logits.shape)")
    for l in labels { check(l >= 0 && l < k, "crossEntropy: label \(l) out of range for \(k) classes") }
    var probs = [Float](repeating: 0, count: n * k)
    var loss: Double = 0
    logits.data.withUnsafeBufferPointer { px in
      probs.withUnsafeMutableBufferPointer { pp in
        for i in 0..<n {
          let row = px.baseAddress! + i * k
          loss += Double(logSumExpRow(row, k) - row[labels[i]])
          softmaxRow(row, pp.baseAddress! + i * k, k)
        }
      }
    }
    return record(Tensor(scalar: Float(loss / Double(n))), op: "cross_entropy", [logits]) { g in
      let s = g[0] / Float(n)
      logits.accumulateGrad { gx in
        for i in 0..<n {
          for j in 0..<k { gx[i * k + j] += s * (probs[i * k + j] - (j == labels[i] ? 1 : 0)) }
        }
      }
    }
  }

  /// Mean over all elements of (a − b)².
  public static func mse(_ a: Tensor, _ b: Tensor) -> Tensor {
    check(a.shape == b.shape, "mse: shapes \(a.shape) and \(b.shape) differ")
    let av = a.data, bv = b.data
    var s: Double = 0
    for i in 0..<av.count { let d = Double(av[i] - bv[i]); s += d * d }
    let n = Float(max(av.count, 1))
    return record(Tensor(scalar: Float(s / Double(n))), op: "mse", [a, b]) { g in
      let c = 2 * g[0] / n
      if a.requiresGrad { a.accumulateGrad { ga in for i in 0..<ga.count { ga[i] += c * (av[i] - bv[i]) } } }
      if b.requiresGrad { b.accumulateGrad { gb in for i in 0..<gb.count { gb[i] -= c * (av[i] - bv[i]) } } }
    }
  }

  /// Mean over rows of KL(p ‖ q) = Σ p (log p − log q), with p = softmax(`pLogits`) and
  /// q = softmax(`qLogits`), both [N, K]. Gradients flow into both.
  public static func klDivergence(pLogits: Tensor, qLogits: Tensor) -> Tensor {
    check(pLogits.shape == qLogits.shape && pLogits.rank == 2,
                 "klDivergence: logits must be two [N, K] tensors of one shape, got \(pLogits.shape) and \(qLogits.shape)")
    let n = pLogits.shape[0], k = pLogits.shape[1]
    var logP = [Float](repeating: 0, count: n * k), logQ = logP
    var total: Double = 0
    pLogits.data.withUnsafeBufferPointer { pp in
      qLogits.data.withUnsafeBufferPointer { pq in
        for i in 0..<n {
          let lp = logSumExpRow(pp.baseAddress! + i * k, k), lq = logSumExpRow(pq.baseAddress! + i * k, k)
          for j in 0..<k {
            logP[i * k + j] = pp[i * k + j] - lp
            logQ[i * k + j] = pq[i * k + j] - lq
            total += Double(Foundation.exp(logP[i * k + j]) * (logP[i * k + j] - logQ[i * k + j]))
          }
        }
      }
    }
    return record(Tensor(scalar: Float(total / Double(n))), op: "kl_div", [pLogits, qLogits]) { g in
      let s = g[0] / Float(n)
      if pLogits.requiresGrad {
        // ∂KL/∂a_j = p_j (d_j − Σ_i p_i d_i), d = log p − log q.
        pLogits.accumulateGrad { ga in
          for i in 0..<n {
            var mean: Float = 0
            for j in 0..<k { mean += Foundation.exp(logP[i * k + j]) * (logP[i * k + j] - logQ[i * k + j]) }
            for j in 0..<k {
              let p = Foundation.exp(logP[i * k + j])
              ga[i * k + j] += s * p * (logP[i * k + j] - logQ[i * k + j] - mean)
            }
          }
        }
      }
      if qLogits.requiresGrad {
        // ∂KL/∂b_j = q_j − p_j.
        qLogits.accumulateGrad { gb in
          for i in 0..<(n * k) { gb[i] += s * (Foundation.exp(logQ[i]) - Foundation.exp(logP[i])) }
        }
      }
    }
  }
}
