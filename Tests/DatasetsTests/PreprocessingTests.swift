import ImageIO
import Testing

@testable import Datasets

@Suite struct PreprocessingTests {
  @Test func holesTakeTheNearestValidValue() throws {
    // 7x3: valid 1.0 in column 0, valid 9.0 in column 6, holes (0 / NaN) between.
    let w = 7, h = 3
    var z = [Float](repeating: 0, count: w * h)
    for y in 0..<h {
      z[y * w] = 1
      z[y * w + 6] = 9
      z[y * w + 3] = .nan
    }
    let valid = z.map(DepthProcessing.isValid)
    let source = try #require(DepthProcessing.nearestValidSource(valid: valid, width: w, height: h))
    let filled = DepthProcessing.fillInvalid(z, source: source)
    for y in 0..<h {
      #expect(Array(filled[(y * w)..<(y * w + 3)]) == [1, 1, 1], "row \(y) left")
      #expect(Array(filled[(y * w + 4)..<(y * w + 7)]) == [9, 9, 9], "row \(y) right")
      // Column 3 is 3 from both sides: the tie goes to the first valid pixel in raster order.
      #expect(filled[y * w + 3] == 1)
    }
    #expect(DepthProcessing.nearestValidSource(valid: [false, false], width: 2, height: 1) == nil)
  }

  @Test func singleValidPixelFillsEverything() throws {
    var z = [Float](repeating: 0, count: 25)
    z[12] = 4
    let source = try #require(DepthProcessing.nearestValidSource(valid: z.map(DepthProcessing.isValid), width: 5, height: 5))
    #expect(DepthProcessing.fillInvalid(z, source: source) == [Float](repeating: 4, count: 25))
  }

  @Test func percentileMatchesNumpyLinear() {
    let sorted = (0...100).map(Float.init)  // np.percentile(range(101), q) == q
    #expect(DepthProcessing.percentile(sorted: sorted, 1) == 1)
    #expect(DepthProcessing.percentile(sorted: sorted, 99) == 99)
    // np.percentile([1, 2, 3, 4], 1) == 1.03
    #expect(abs(DepthProcessing.percentile(sorted: [1, 2, 3, 4], 1) - 1.03) < 1e-6)
  }

  @Test func normalisationUsesPercentilesOfValidPixelsOnly() {
    // Valid values 0...100 plus huge invalid-marked values that must not widen the range.
    var values = (0...100).map(Float.init)
    var valid = [Bool](repeating: true, count: values.count)
    values += [1000, -1000]
    valid += [false, false]
    let out = DepthProcessing.normalize(values, valid: valid)
    #expect(out[1] == 0)                        // 1st percentile → 0
    #expect(out[99] == 1)                       // 99th percentile → 1
    #expect(abs(out[50] - 49 / 98) < 1e-6)
    #expect(out[0] == 0 && out[100] == 1)       // outliers beyond the percentiles clamp
    #expect(out[101] == 1 && out[102] == 0)
  }

  @Test func depthInputIsFilledNormalisedReplicatedAndStandardised() throws {
    // z: left half 1.0, right half 2.0, one hole in each half.
    let w = 8, h = 4
    var xyz = Image(width: w, height: h, channels: 3)
    for y in 0..<h { for x in 0..<w { xyz[x: x, y: y, c: 2] = x < 4 ? 1 : 2 } }
    xyz[x: 1, y: 1, c: 2] = 0
    xyz[x: 6, y: 2, c: 2] = .nan
    let p = Preprocessor(inputSize: 8)
    let out = try p.depth(xyz, path: "z.tiff")
    #expect(out.count == 3 * 64)
    for c in 0..<3 {
      let mean = Preprocessor.imagenetMean[c], std = Preprocessor.imagenetStd[c]
      for y in 0..<h {
        for x in 0..<w {
          let expected = ((x < 4 ? 0 : 1) - mean) / std  // holes filled from their side
          #expect(abs(out[c * 64 + y * 8 + x] - expected) < 1e-5, "c\(c) (\(x),\(y))")
        }
      }
    }
    #expect(throws: DatasetError.allInvalidDepth(path: "z.tiff")) {
      try p.depth(Image(width: 4, height: 4, channels: 3), path: "z.tiff")
    }
  }

  @Test func xyzModeNormalisesEachChannel() throws {
    let w = 4, h = 4
    var xyz = Image(width: w, height: h, channels: 3)
    for y in 0..<h { for x in 0..<w { xyz[x: x, y: y, c: 0] = Float(x); xyz[x: x, y: y, c: 1] = 5; xyz[x: x, y: y, c: 2] = 0.7 + Float(y) } }
    let out = try Preprocessor(inputSize: 4, depthMode: .xyz).depth(xyz, path: "p")
    let unstd = { (c: Int, i: Int) in out[c * 16 + i] * Preprocessor.imagenetStd[c] + Preprocessor.imagenetMean[c] }
    #expect(abs(unstd(0, 0)) < 1e-5 && abs(unstd(0, 3) - 1) < 1e-5)  // x spans its own range
    #expect(abs(unstd(1, 5)) < 1e-5)                                   // constant y → 0
    #expect(abs(unstd(2, 0)) < 1e-5 && abs(unstd(2, 12) - 1) < 1e-5)  // z by rows
  }

  @Test func rgbIsResizedAndStandardised() {
    let image = Image(width: 10, height: 6, channels: 3, data: (0..<60).flatMap { _ in [Float(0.5), 0.25, 1] })
    let out = Preprocessor(inputSize: 4).rgb(image)
    #expect(out.count == 48)
    for (c, v) in [Float(0.5), 0.25, 1].enumerated() {
      let expected = (v - Preprocessor.imagenetMean[c]) / Preprocessor.imagenetStd[c]
      for i in 0..<16 { #expect(abs(out[c * 16 + i] - expected) < 1e-5) }
    }
  }

  @Test func masksAreBinarisedAndNearestResized() throws {
    try withTemporaryDirectory { dir in
      // Defect ids 255/254/253 as in MVTec 3D-AD's combined masks, 0 elsewhere.
      let samples: [UInt16] = [0, 255, 254, 0, 253, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0]
      try PNG.write(PixelImage(width: 4, height: 4, channels: 1, bitDepth: 8, samples: samples), to: "\(dir)/m.png")
      let mask = try SampleLoader.readMask("\(dir)/m.png")
      #expect(mask.data == samples.map { $0 == 0 ? 0 : 1 })
      let up = Preprocessor(inputSize: 8).mask(mask)
      // Doubling: output (x, y) takes source (x/2, y/2), unblended.
      for y in 0..<8 { for x in 0..<8 { #expect(up[y * 8 + x] == mask.data[(y / 2) * 4 + x / 2]) } }
      #expect(Preprocessor(inputSize: 3).mask(nil) == [Float](repeating: 0, count: 9))
    }
  }
}
