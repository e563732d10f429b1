import Tensor

/// IUF's semantic-compression loss (SPEC §7, base step): for each of the decoder features
/// f^{rec 1…L−1}, the token-mean rows of the last `capacity` samples are stacked; the singular
/// values of that matrix, normalised to sum 1, are penalised where they fall below 0.1/d.
/// The current batch's rows carry gradient (through the SVD); older rows are constants.
public struct CompressionLoss {
  public let capacity: Int
  /// One rolling buffer of rows [d] per (modality, layer) key.
  public private(set) var buffers: [String: [[Float]]] = [:]

  public init(capacity: Int) { self.capacity = capacity }

  /// The loss for this batch's token-mean features `current` [B, d] under `key`.
  public func loss(key: String, current: Tensor) throws -> Tensor {
    let d = current.shape[1]
    let old = buffers[key] ?? []
    let stacked = old.isEmpty ? current
      : Tensor.concat([current, Tensor(shape: [old.count, d], data: old.flatMap { $0 })], axis: 0)
    let s = try stacked.singularValues()
    let normalised = s / s.sum()
    // The selection is a constant mask: which normalised values fall below 0.1/d.
    let threshold = 0.1 / Float(d)
    let mask = Tensor(shape: normalised.shape, data: normalised.data.map { $0 < threshold ? 1 : 0 })
    return (normalised * mask).sum()
  }

  /// Appends the batch's rows (as constants), dropping the oldest beyond `capacity`.
  public mutating func remember(key: String, current: Tensor) {
    let d = current.shape[1]
    var rows = buffers[key] ?? []
    for r in 0..<current.shape[0] { rows.append(Array(current.data[(r * d)..<((r + 1) * d)])) }
    if rows.count > capacity { rows.removeFirst(rows.count - capacity) }
    buffers[key] = rows
  }

  /// Restores buffers saved in a checkpoint.
  public mutating func restore(_ saved: [String: [[Float]]]) { buffers = saved }
}
