// MARK: bilinear resize, NCHW (PyTorch's interpolate semantics)

/// For each output index along one axis: the two input taps and the weight of the second.
struct LinearTaps {
  let i0: [Int], i1: [Int], frac: [Float]

  init(input: Int, output: Int, alignCorners: Bool) {
    var i0 = [Int](), i1 = [Int](), frac = [Float]()
    for o in 0..<output {
      var src: Float
      if alignCorners {
        src = output > 1 ? Float(o) * Float(input - 1) / Float(output - 1) : 0
      } else {
        src = max((Float(o) + 0.5) * Float(input) / Float(output) - 0.5, 0)
      }
      let lo = min(Int(src), input - 1)
      i0.append(lo)
      i1.append(min(lo + 1, input - 1))
      frac.append(src - Float(lo))
    }
    self.i0 = i0; self.i1 = i1; self.frac = frac
  }
}

extension Tensor {
  /// [N, C, H, W] → [N, C, height, width] by bilinear interpolation.
  public func resizeBilinear(height: Int, width: Int, alignCorners: Bool = false) -> Tensor {
    check(rank == 4, "resizeBilinear: input must be [N, C, H, W], got shape \(shape)")
    check(height >= 1 && width >= 1, "resizeBilinear: output size \(height)×\(width) must be positive")
    let planes = shape[0] * shape[1], h = shape[2], w = shape[3]
    let ty = LinearTaps(input: h, output: height, alignCorners: alignCorners)
    let tx = LinearTaps(input: w, output: width, alignCorners: alignCorners)
    let x = data
    var y = [Float](repeating: 0, count: planes * height * width)
    y.withUnsafeMutableBufferPointer { py in
      x.withUnsafeBufferPointer { px in
        Threading.parallelFor(planes, grain: 4) { range in
          for p in range {
            let src = px.baseAddress! + p * h * w
            for i in 0..<height {
              let fy = ty.frac[i], r0 = src + ty.i0[i] * w, r1 = src + ty.i1[i] * w
              for j in 0..<width {
                let fx = tx.frac[j], a = tx.i0[j], b = tx.i1[j]
                let top = r0[a] + (r0[b] - r0[a]) * fx
                let bot = r1[a] + (r1[b] - r1[a]) * fx
                py[(p * height + i) * width + j] = top + (bot - top) * fy
              }
            }
          }
        }
      }
    }
    return Tensor.record(Tensor(shape: [shape[0], shape[1], height, width], data: y), op: "resize_bilinear", [self]) { g in
      self.accumulateGrad { gx in
        Threading.parallelFor(planes, grain: 4) { range in
          for p in range {
            let base = p * h * w
            for i in 0..<height {
              let fy = ty.frac[i], r0 = base + ty.i0[i] * w, r1 = base + ty.i1[i] * w
              for j in 0..<width {
                let v = g[(p * height + i) * width + j]
                let fx = tx.frac[j], a = tx.i0[j], b = tx.i1[j]
                gx[r0 + a] += v * (1 - fy) * (1 - fx)
                gx[r0 + b] += v * (1 - fy) * fx
                gx[r1 + a] += v * fy * (1 - fx)
                gx[r1 + b] += v * fy * fx
              }
            }
          }
        }
      }
    }
  }
}
