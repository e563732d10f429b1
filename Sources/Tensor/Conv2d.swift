// MARK: 2-D convolution, NCHW: im2col + GEMM, and a direct kernel for depthwise

/// Zero padding on each side of a 2-D map (asymmetric for TF-"same" padding).
public struct Padding2d: Equatable, Sendable {
  public var top, left, bottom, right: Int
  public init(top: Int, left: Int, bottom: Int, right: Int) {
    self.top = top; self.left = left; self.bottom = bottom; self.right = right
  }
  public init(_ p: Int) { self.init(top: p, left: p, bottom: p, right: p) }
  public static let zero = Padding2d(0)
}

/// Shapes of one convolution call, shared by the kernels.
struct ConvGeometry {
  let n, c, h, w, o, kh, kw, sh, sw, groups: Int
  let pad: Padding2d
  var ho: Int { (h + pad.top + pad.bottom - kh) / sh + 1 }
  var wo: Int { (w + pad.left + pad.right - kw) / sw + 1 }
  var cg: Int { c / groups }
  var og: Int { o / groups }
  var kdim: Int { cg * kh * kw }
  var isPointwise: Bool { kh == 1 && kw == 1 && sh == 1 && sw == 1 && pad == .zero }
  var isDepthwise: Bool { groups == c && o == c && groups > 1 }

  /// Output columns [lo, hi) whose input column ow·sw − pad.left + kj lies in 0..<w.
  func validColumns(_ kj: Int) -> (Int, Int) {
    let first = pad.left - kj  // ow·sw must be ≥ this
    let lo = first <= 0 ? 0 : (first + sw - 1) / sw
    let last = w - 1 + pad.left - kj  // ow·sw must be ≤ this
    let hi = last < 0 ? 0 : min(wo, last / sw + 1)
    return (min(lo, hi), hi)
  }

  /// cols [cg·kh·kw, ho·wo] of sample `ni`, group `g`.
  func im2col(_ x: UnsafePointer<Float>, ni: Int, g: Int, _ cols: UnsafeMutablePointer<Float>) {
    let hw = ho * wo
    for ci in 0..<cg {
      let plane = x + ((ni * c) + g * cg + ci) * h * w
      for ki in 0..<kh {
        for kj in 0..<kw {
          let row = cols + ((ci * kh + ki) * kw + kj) * hw
          for oh in 0..<ho {
            let ih = oh * sh - pad.top + ki
            for ow in 0..<wo {
              let iw = ow * sw - pad.left + kj
              row[oh * wo + ow] = ih >= 0 && ih < h && iw >= 0 && iw < w ? plane[ih * w + iw] : 0
            }
          }
        }
      }
    }
  }

  /// Adds cols back into the input gradient (the transpose of im2col).
  func col2im(_ cols: UnsafePointer<Float>, ni: Int, g: Int, _ gx: UnsafeMutablePointer<Float>) {
    let hw = ho * wo
    for ci in 0..<cg {
      let plane = gx + ((ni * c) + g * cg + ci) * h * w
      for ki in 0..<kh {
        for kj in 0..<kw {
          let row = cols + ((ci * kh + ki) * kw + kj) * hw
          for oh in 0..<ho {
            let ih = oh * sh - pad.top + ki
            if ih < 0 || ih >= h { continue }
            for ow in 0..<wo {
              let iw = ow * sw - pad.left + kj
              if iw >= 0 && iw < w { plane[ih * w + iw] += row[oh * wo + ow] }
            }
          }
        }
      }
    }
  }
}

extension Tensor {
  /// x [N, C, H, W] ⋆ weight [O, C/groups, kh, kw] + bias [O] → [N, O, Ho, Wo].
  public static func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Padding2d = .zero, groups: Int = 1
  ) -> Tensor {
    check(x.rank == 4, "conv2d: input must be [N, C, H, W], got shape \(x.shape)")
    check(weight.rank == 4, "conv2d: weight must be [O, C/groups, kh, kw], got shape \(weight.shape)")
    let geo = ConvGeometry(
      n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3], o: weight.shape[0],
      kh: weight.shape[2], kw: weight.shape[3], sh: stride, sw: stride, groups: groups, pad: padding)
    check(
      groups >= 1 && geo.c % groups == 0 && geo.o % groups == 0 && weight.shape[1] == geo.cg,
      "conv2d: input shape \(x.shape) and weight shape \(weight.shape) do not fit groups = \(groups)")
    check(stride >= 1 && geo.ho >= 1 && geo.wo >= 1,
                 "conv2d: input shape \(x.shape) too small for kernel \(weight.shape) with stride \(stride), padding \(padding)")
    if let bias { check(bias.shape == [geo.o], "conv2d: bias shape \(bias.shape), expected [\(geo.o)]") }
    if geo.isDepthwise { return depthwiseConv2d(x, weight: weight, bias: bias, geo) }
    return im2colConv2d(x, weight: weight, bias: bias, geo)
  }

  /// The general path; also the plain reference the depthwise kernel is tested against.
  public static func conv2dReference(
    _ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Padding2d = .zero, groups: Int = 1
  ) -> Tensor {
    let geo = ConvGeometry(
      n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3], o: weight.shape[0],
      kh: weight.shape[2], kw: weight.shape[3], sh: stride, sw: stride, groups: groups, pad: padding)
    return im2colConv2d(x, weight: weight, bias: bias, geo)
  }

  static func im2colConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ geo: ConvGeometry) -> Tensor {
    let hw = geo.ho * geo.wo, kd = geo.kdim
    var y = [Float](repeating: 0, count: geo.n * geo.o * hw)
    var cols = [Float](repeating: 0, count: geo.isPointwise ? 0 : kd * hw)
    let xv = x.data, wv = weight.data
    xv.withUnsafeBufferPointer { px in
      wv.withUnsafeBufferPointer { pw in
        y.withUnsafeMutableBufferPointer { py in
          cols.withUnsafeMutableBufferPointer { pc in
            for ni in 0..<geo.n {
              for g in 0..<geo.groups {
                let b: UnsafePointer<Float>
                if geo.isPointwise {
                  b = px.baseAddress! + (ni * geo.c + g * geo.cg) * hw
                } else {
                  geo.im2col(px.baseAddress!, ni: ni, g: g, pc.baseAddress!)
                  b = UnsafePointer(pc.baseAddress!)
                }
                sgemm(m: geo.og, n: hw, k: kd, a: pw.baseAddress! + g * geo.og * kd, b: b,
                      c: py.baseAddress! + (ni * geo.o + g * geo.og) * hw)
              }
            }
          }
          if let bias { addChannelBias(py, bias.data, n: geo.n, c: geo.o, hw: hw) }
        }
      }
    }
    let parents = [x, weight] + (bias.map { [$0] } ?? [])
    return record(Tensor(shape: [geo.n, geo.o, geo.ho, geo.wo], data: y), op: "conv2d", parents) { g in
      var cols = [Float](repeating: 0, count: kd * hw)
      g.withUnsafeBufferPointer { pg in
        xv.withUnsafeBufferPointer { px in
          wv.withUnsafeBufferPointer { pw in
            cols.withUnsafeMutableBufferPointer { pc in
              for ni in 0..<geo.n {
                for gi in 0..<geo.groups {
                  let gy = pg.baseAddress! + (ni * geo.o + gi * geo.og) * hw
                  if weight.requiresGrad {
                    let b: UnsafePointer<Float>
                    if geo.isPointwise {
                      b = px.baseAddress! + (ni * geo.c + gi * geo.cg) * hw
                    } else {
                      geo.im2col(px.baseAddress!, ni: ni, g: gi, pc.baseAddress!)
                      b = UnsafePointer(pc.baseAddress!)
                    }
                    weight.accumulateGrad { gw in
                      sgemm(transB: true, m: geo.og, n: kd, k: hw, a: gy, b: b, beta: 1,
                            c: gw.baseAddress! + gi * geo.og * kd)
                    }
                  }
                  if x.requiresGrad {
                    x.accumulateGrad { gx in
                      if geo.isPointwise {
                        sgemm(transA: true, m: kd, n: hw, k: geo.og, a: pw.baseAddress! + gi * geo.og * kd, b: gy, beta: 1,
                              c: gx.baseAddress! + (ni * geo.c + gi * geo.cg) * hw)
                      } else {
                        sgemm(transA: true, m: kd, n: hw, k: geo.og, a: pw.baseAddress! + gi * geo.og * kd, b: gy,
                              c: pc.baseAddress!)
                        geo.col2im(pc.baseAddress!, ni: ni, g: gi, gx.baseAddress!)
                      }
                    }
                  }
                }
              }
            }
          }
        }
        if let bias, bias.requiresGrad { accumulateChannelBiasGrad(bias, pg, n: geo.n, c: geo.o, hw: hw) }
      }
    }
  }

  /// One filter per channel, computed directly (im2col would copy 9× the input for 9 MACs each).
  static func depthwiseConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ geo: ConvGeometry) -> Tensor {
    let hw = geo.ho * geo.wo, kk = geo.kh * geo.kw
    FLOPCounter.add(2 * geo.n * geo.c * hw * kk)
    var y = [Float](repeating: 0, count: geo.n * geo.o * hw)
    let xv = x.data, wv = weight.data
    xv.withUnsafeBufferPointer { px in
      wv.withUnsafeBufferPointer { pw in
        y.withUnsafeMutableBufferPointer { py in
          Threading.parallelFor(geo.n * geo.c, grain: 4) { range in
            for plane in range {
              let ci = plane % geo.c
              let src = px.baseAddress! + plane * geo.h * geo.w, dst = py.baseAddress! + plane * hw
              let k = pw.baseAddress! + ci * kk
              for oh in 0..<geo.ho {
                for ki in 0..<geo.kh {
                  let ih = oh * geo.sh - geo.pad.top + ki
                  if ih < 0 || ih >= geo.h { continue }
                  let row = dst + oh * geo.wo, srow = src + ih * geo.w
                  for kj in 0..<geo.kw {
                    let wgt = k[ki * geo.kw + kj]
                    // Only the columns whose tap lands inside the input: no test in the inner
                    // loop, which then vectorises (the kernel's hot spot in EfficientNet).
                    let (lo, hi) = geo.validColumns(kj)
                    let tap = srow + (kj - geo.pad.left)  // tap[ow·sw] is the input under output ow
                    if geo.sw == 1 {
                      for ow in lo..<hi { row[ow] += wgt * tap[ow] }
                    } else {
                      let sw = geo.sw
                      for ow in lo..<hi { row[ow] += wgt * tap[ow &* sw] }
                    }
                  }
                }
              }
            }
          }
          if let bias { addChannelBias(py, bias.data, n: geo.n, c: geo.o, hw: hw) }
        }
      }
    }
    let parents = [x, weight] + (bias.map { [$0] } ?? [])
    return record(Tensor(shape: [geo.n, geo.o, geo.ho, geo.wo], data: y), op: "depthwise_conv2d", parents) { g in
      FLOPCounter.add(4 * geo.n * geo.c * hw * kk)
      g.withUnsafeBufferPointer { pg in
        xv.withUnsafeBufferPointer { px in
          wv.withUnsafeBufferPointer { pw in
            let needX = x.requiresGrad, needW = weight.requiresGrad
            if needX { x.accumulateGrad { _ in } }
            if needW { weight.accumulateGrad { _ in } }
            x.grad.withUnsafeMutableBufferPointerIfPresent { gx in
              weight.grad.withUnsafeMutableBufferPointerIfPresent { gw in
                // Parallel over channels: each writes only its own planes of gx and its own filter.
                Threading.parallelFor(geo.c, grain: 1) { range in
                  for ci in range {
                    let k = pw.baseAddress! + ci * kk
                    for ni in 0..<geo.n {
                      let plane = ni * geo.c + ci
                      let src = px.baseAddress! + plane * geo.h * geo.w, gy = pg.baseAddress! + plane * hw
                      for oh in 0..<geo.ho {
                        for ki in 0..<geo.kh {
                          let ih = oh * geo.sh - geo.pad.top + ki
                          if ih < 0 || ih >= geo.h { continue }
                          let grow = gy + oh * geo.wo, srow = src + ih * geo.w
                          for kj in 0..<geo.kw {
                            let wgt = k[ki * geo.kw + kj]
                            // As in the forward: only the columns whose tap lands inside the input.
                            let (lo, hi) = geo.validColumns(kj)
                            if lo >= hi { continue }
                            let shift = kj - geo.pad.left  // input column of output ow: ow·sw + shift
                            if needX {
                              let gtap = gx!.baseAddress! + plane * geo.h * geo.w + ih * geo.w + shift
                              if geo.sw == 1 {
                                for ow in lo..<hi { gtap[ow] += wgt * grow[ow] }
                              } else {
                                let sw = geo.sw
                                for ow in lo..<hi { gtap[ow &* sw] += wgt * grow[ow] }
                              }
                            }
                            if needW {
                              var acc: Float
                              if geo.sw == 1 {
                                acc = laneDot(grow + lo, srow + shift + lo, hi - lo)
                              } else {
                                acc = 0
                                for ow in lo..<hi { acc += grow[ow] * srow[ow &* geo.sw + shift] }
                              }
                              gw![ci * kk + ki * geo.kw + kj] += acc
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
        }
        if let bias, bias.requiresGrad { accumulateChannelBiasGrad(bias, pg, n: geo.n, c: geo.o, hw: hw) }
      }
    }
  }

  static func addChannelBias(_ y: UnsafeMutableBufferPointer<Float>, _ b: [Float], n: Int, c: Int, hw: Int) {
    for ni in 0..<n { for ci in 0..<c { let base = (ni * c + ci) * hw; for j in 0..<hw { y[base + j] += b[ci] } } }
  }

  static func accumulateChannelBiasGrad(_ bias: Tensor, _ g: UnsafeBufferPointer<Float>, n: Int, c: Int, hw: Int) {
    bias.accumulateGrad { gb in
      for ni in 0..<n { for ci in 0..<c { let base = (ni * c + ci) * hw; var s: Float = 0; for j in 0..<hw { s += g[base + j] }; gb[ci] += s } }
    }
  }
}

extension Optional where Wrapped == [Float] {
  /// Runs `body` with a mutable pointer to the array, or nil when there is none.
  mutating func withUnsafeMutableBufferPointerIfPresent<R>(_ body: (UnsafeMutableBufferPointer<Float>?) -> R) -> R {
    if self == nil { return body(nil) }
    return self!.withUnsafeMutableBufferPointer { body($0) }
  }
}
