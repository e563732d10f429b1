import Testing

@testable import ImageIO

@Suite struct ResizeTests {
  @Test func matchesPillowBilinearAndNearest() throws {
    let r = try ImageIOFixtures.load().resize
    let source = Image(width: r.width, height: r.height, channels: 1,
                       data: r.source_bits.map { Float(bitPattern: $0) })
    for c in r.cases {
      let expected = c.bits.map { Float(bitPattern: $0) }
      if c.filter == "nearest" {
        let out = Resize.nearest(source, width: c.width, height: c.height)
        #expect(mismatches(floatBits(out.data), c.bits) == 0, "nearest \(c.width)x\(c.height)")
      } else {
        let out = Resize.bilinear(source, width: c.width, height: c.height)
        // PIL accumulates in double; we accumulate in float.
        let scale = expected.map { abs($0) }.max() ?? 1
        let worst = zip(out.data, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "bilinear \(c.width)x\(c.height): max |diff| \(worst)")
      }
    }
  }

  @Test func downscalingAveragesInsteadOfAliasing() {
    // A 1-pixel checkerboard shrunk 4x must come out as flat grey; point sampling would give 0/1.
    let n = 32
    let data = (0..<(n * n)).map { Float(($0 % n + $0 / n) % 2) }
    let out = Resize.bilinear(Image(width: n, height: n, channels: 1, data: data), width: 8, height: 8)
    for v in out.data { #expect(abs(v - 0.5) < 0.02) }
  }

  @Test func keepsChannelsSeparateAndConstantsConstant() {
    let image = Image(width: 10, height: 6, channels: 3,
                      data: (0..<60).flatMap { _ in [Float(1), 2, 3] })
    for (w, h) in [(4, 3), (25, 13)] {
      let out = Resize.bilinear(image, width: w, height: h)
      #expect(out.width == w && out.height == h && out.channels == 3)
      for i in 0..<(w * h) {
        #expect(abs(out.data[3 * i] - 1) < 1e-6 && abs(out.data[3 * i + 1] - 2) < 1e-6 && abs(out.data[3 * i + 2] - 3) < 1e-6)
      }
    }
  }

  @Test func nearestNeverBlendsMaskValues() {
    let data = (0..<(15 * 11)).map { Float(($0 * 7) % 3 == 0 ? 255 : 0) }
    let out = Resize.nearest(Image(width: 15, height: 11, channels: 1, data: data), width: 7, height: 23)
    #expect(Set(out.data).isSubset(of: [0, 255]))
  }
}
