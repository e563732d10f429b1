// MARK: average pooling and adaptive average pooling, NCHW

/// Half-open input window [start, end) of every output index along one axis.
struct PoolWindows {
  let starts: [Int], ends: [Int]

  static func fixed(input: Int, kernel: Int, stride: Int) -> PoolWindows {
    let out = (input - kernel) / stride + 1
    return PoolWindows(starts: (0..<out).map { $0 * stride }, ends: (0..<out).map { $0 * stride + kernel })
  }

  /// PyTorch's adaptive windows: floor(i·in/out) ..< ceil((i+1)·in/out).
  static func adaptive(input: Int, output: Int) -> PoolWindows {
    PoolWindows(
      starts: (0..<output).map { $0 * input / output },
      ends: (0..<output).map { (($0 + 1) * input + output - 1) / output })
  }
}

extension Tensor {
  public func avgPool2d(kernel: Int, stride: Int? = nil) -> Tensor {
    check(rank == 4, "avgPool2d: input must be [N, C, H, W], got shape \(shape)")
    let s = stride ?? kernel
    check(kernel >= 1 && s >= 1 && shape[2] >= kernel && shape[3] >= kernel,
                 "avgPool2d: kernel \(kernel), stride \(s) do not fit input shape \(shape)")
    return windowAverage(
      rows: .fixed(input: shape[2], kernel: kernel, stride: s),
      cols: .fixed(input: shape[3], kernel: kernel, stride: s), op: "avg_pool2d")
  }

  public func adaptiveAvgPool2d(outputHeight: Int, outputWidth: Int) -> Tensor {
    check(rank == 4, "adaptiveAvgPool2d: input must be [N, C, H, W], got shape \(shape)")
    check(outputHeight >= 1 && outputWidth >= 1, "adaptiveAvgPool2d: output size must be positive")
    return windowAverage(
      rows: .adaptive(input: shape[2], output: outputHeight),
      cols: .adaptive(input: shape[3], output: outputWidth), op: "adaptive_avg_pool2d")
  }

  private func windowAverage(rows: PoolWindows, cols: PoolWindows, op: String) -> Tensor {
    let planes = shape[0] * shape[1], h = shape[2], w = shape[3]
    let oh = rows.starts.count, ow = cols.starts.count
    let x = data
    var y = [Float](repeating: 0, count: planes * oh * ow)
    y.withUnsafeMutableBufferPointer { py in
      x.withUnsafeBufferPointer { px in
        Threading.parallelFor(planes, grain: 8) { range in
          for p in range {
            for i in 0..<oh {
              for j in 0..<ow {
                var s: Float = 0
                for r in rows.starts[i]..<rows.ends[i] { for c in cols.starts[j]..<cols.ends[j] { s += px[(p * h + r) * w + c] } }
                let area = (rows.ends[i] - rows.starts[i]) * (cols.ends[j] - cols.starts[j])
                py[(p * oh + i) * ow + j] = s / Float(area)
              }
            }
          }
        }
      }
    }
    return Tensor.record(Tensor(shape: [shape[0], shape[1], oh, ow], data: y), op: op, [self]) { g in
      self.accumulateGrad { gx in
        for p in 0..<planes {
          for i in 0..<oh {
            for j in 0..<ow {
              let area = (rows.ends[i] - rows.starts[i]) * (cols.ends[j] - cols.starts[j])
              let v = g[(p * oh + i) * ow + j] / Float(area)
              for r in rows.starts[i]..<rows.ends[i] { for c in cols.starts[j]..<cols.ends[j] { gx[(p * h + r) * w + c] += v } }
            }
          }
        }
      }
    }
  }
}
