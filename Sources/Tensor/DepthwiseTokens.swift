import Foundation

// MARK: depthwise convolution on tokens (channels last)

extension Tensor {
  /// A depthwise (one filter per channel) stride-1 convolution of tokens x [B, H·W, C] laid out
  /// row-major on an H×W grid, weight [C, 1, kh, kw], bias [C] → tokens [B, Ho·Wo, C] with
  /// Ho = H + top + bottom − kh + 1 (Wo likewise). The same result as
  /// `conv2d(x.tokensToGrid(…), groups: C).gridToTokens()`, without the two transposes: each
  /// token's C channels are contiguous, so every loop runs over them in vector lanes.
  /// Sums run in a fixed order (bias, then the taps row-major; the weight gradient over the
  /// batch in batch order), so results do not depend on the thread count.
  public static func depthwiseConv2dTokens(_ x: Tensor, height h: Int, width w: Int, weight: Tensor, bias: Tensor?,
                                           padding pad: Padding2d) -> Tensor {
    check(x.rank == 3 && x.shape[1] == h * w, "depthwiseConv2dTokens: input \(x.shape) is not [B, \(h)·\(w), C]")
    let bs = x.shape[0], c = x.shape[2]
    check(weight.rank == 4 && weight.shape[0] == c && weight.shape[1] == 1,
          "depthwiseConv2dTokens: weight \(weight.shape) is not [\(c), 1, kh, kw]")
    if let bias { check(bias.shape == [c], "depthwiseConv2dTokens: bias \(bias.shape) is not [\(c)]") }
    let geo = DepthwiseTokenGeometry(h: h, w: w, c: c, kh: weight.shape[2], kw: weight.shape[3], pad: pad)
    check(geo.ho > 0 && geo.wo > 0, "depthwiseConv2dTokens: a \(geo.kh)×\(geo.kw) kernel does not fit \(h)×\(w) padded by \(pad)")
    FLOPCounter.add(2 * bs * geo.ho * geo.wo * c * geo.kh * geo.kw)
    // Weight as [kh·kw, C]: one tap's filter values for all channels are contiguous.
    let taps = geo.tapsFirst(weight.data)
    let xv = x.data, bv = bias?.data ?? [Float](repeating: 0, count: c)
    let y = [Float](unsafeUninitializedCapacity: bs * geo.ho * geo.wo * c) { out, written in
      xv.withUnsafeBufferPointer { px in
        taps.withUnsafeBufferPointer { pt in
          bv.withUnsafeBufferPointer { pb in
          let xs = px.baseAddress!, ys = out.baseAddress!, t = pt.baseAddress!, b0 = pb.baseAddress!
          Threading.parallelFor(bs * geo.ho) { rows in
            for row in rows {
              let b = row / geo.ho, oy = row % geo.ho
              for ox in 0..<geo.wo {
                let o = ys + ((b * geo.ho + oy) * geo.wo + ox) * c
                o.update(from: b0, count: c)
                geo.forEachTap(oy, ox) { tap, iy, ix in
                  let i = xs + ((b * h + iy) * w + ix) * c, f = t + tap * c
                  for ch in 0..<c { o[ch] += f[ch] * i[ch] }
                }
              }
            }
          }
          }
        }
      }
      written = bs * geo.ho * geo.wo * c
    }
    let parents = [x, weight] + (bias.map { [$0] } ?? [])
    return record(Tensor(shape: [bs, geo.ho * geo.wo, c], data: y), op: "depthwise_conv2d_tokens", parents) { g in
      g.withUnsafeBufferPointer { pg in
        xv.withUnsafeBufferPointer { px in
          taps.withUnsafeBufferPointer { pt in
            let gs = pg.baseAddress!, xs = px.baseAddress!, t = pt.baseAddress!
            if x.requiresGrad {
              // dx at each input token: the output tokens whose taps read it, in tap order.
              x.accumulateGrad { gx in
                let d = gx.baseAddress!
                Threading.parallelFor(bs * h) { rows in
                  for row in rows {
                    let b = row / h, iy = row % h
                    for ix in 0..<w {
                      let dx = d + ((b * h + iy) * w + ix) * c
                      geo.forEachReader(iy, ix) { tap, oy, ox in
                        let go = gs + ((b * geo.ho + oy) * geo.wo + ox) * c, f = t + tap * c
                        for ch in 0..<c { dx[ch] += f[ch] * go[ch] }
                      }
                    }
                  }
                }
              }
            }
            guard weight.requiresGrad || bias?.requiresGrad == true else { return }
            // Per-sample partials of the weight [kh·kw, C] and bias [C] gradients, summed in batch order.
            let perSample = (geo.kh * geo.kw + 1) * c
            var parts = [Float](repeating: 0, count: bs * perSample)
            parts.withUnsafeMutableBufferPointer { pp in
              let ps = pp.baseAddress!
              Threading.parallelFor(bs) { samples in
                for b in samples {
                  let gw = ps + b * perSample, gb = gw + geo.kh * geo.kw * c
                  for oy in 0..<geo.ho {
                    for ox in 0..<geo.wo {
                      let go = gs + ((b * geo.ho + oy) * geo.wo + ox) * c
                      for ch in 0..<c { gb[ch] += go[ch] }
                      geo.forEachTap(oy, ox) { tap, iy, ix in
                        let i = xs + ((b * h + iy) * w + ix) * c, acc = gw + tap * c
                        for ch in 0..<c { acc[ch] += go[ch] * i[ch] }
                      }
                    }
                  }
                }
              }
            }
            if weight.requiresGrad {
              weight.accumulateGrad { gw in
                for b in 0..<bs {
                  for tap in 0..<(geo.kh * geo.kw) {
                    for ch in 0..<c { gw[ch * geo.kh * geo.kw + tap] += parts[b * perSample + tap * c + ch] }
                  }
                }
              }
            }
            if let bias, bias.requiresGrad {
              bias.accumulateGrad { gb in
                for b in 0..<bs { for ch in 0..<c { gb[ch] += parts[b * perSample + geo.kh * geo.kw * c + ch] } }
              }
            }
          }
        }
      }
    }
  }
}

/// Sizes of one token-layout depthwise convolution and which taps touch which tokens.
struct DepthwiseTokenGeometry {
  let h, w, c, kh, kw, ho, wo: Int
  let pad: Padding2d

  init(h: Int, w: Int, c: Int, kh: Int, kw: Int, pad: Padding2d) {
    (self.h, self.w, self.c, self.kh, self.kw, self.pad) = (h, w, c, kh, kw, pad)
    ho = h + pad.top + pad.bottom - kh + 1
    wo = w + pad.left + pad.right - kw + 1
  }

  /// [C, 1, kh, kw] → [kh·kw, C].
  func tapsFirst(_ weight: [Float]) -> [Float] {
    let kk = kh * kw
    var out = [Float](repeating: 0, count: kk * c)
    for ch in 0..<c { for tap in 0..<kk { out[tap * c + ch] = weight[ch * kk + tap] } }
    return out
  }

  /// `body(tap, iy, ix)` for the taps of output (oy, ox) that fall inside the input, row-major.
  @inline(__always)
  func forEachTap(_ oy: Int, _ ox: Int, _ body: (Int, Int, Int) -> Void) {
    for ky in 0..<kh {
      let iy = oy + ky - pad.top
      if iy < 0 || iy >= h { continue }
      for kx in 0..<kw {
        let ix = ox + kx - pad.left
        if ix < 0 || ix >= w { continue }
        body(ky * kw + kx, iy, ix)
      }
    }
  }

  /// `body(tap, oy, ox)` for the outputs whose tap reads input (iy, ix), in tap order.
  @inline(__always)
  func forEachReader(_ iy: Int, _ ix: Int, _ body: (Int, Int, Int) -> Void) {
    for ky in 0..<kh {
      let oy = iy - ky + pad.top
      if oy < 0 || oy >= ho { continue }
      for kx in 0..<kw {
        let ox = ix - kx + pad.left
        if ox < 0 || ox >= wo { continue }
        body(ky * kw + kx, oy, ox)
      }
    }
  }
}
