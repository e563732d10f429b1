import Testing

@testable import ImageIO

@Suite struct ColorMapTests {
  @Test func jetEndpointsAndMiddle() {
    #expect(ColorMap.jet(0) == (r: 0, g: 0, b: 0.5))
    #expect(ColorMap.jet(0.5) == (r: 0.5, g: 1, b: 0.5))
    #expect(ColorMap.jet(1) == (r: 0.5, g: 0, b: 0))
    #expect(ColorMap.jet(-3) == ColorMap.jet(0) && ColorMap.jet(7) == ColorMap.jet(1))
  }

  @Test func renderScalesToRangeAsRGB8() {
    let map = Image(width: 3, height: 1, channels: 1, data: [2, 4, 6])
    let rgb = ColorMap.render(map)
    #expect(rgb.channels == 3 && rgb.bitDepth == 8)
    #expect(Array(rgb.samples[0..<3]) == [0, 0, 128])    // min → dark blue
    #expect(Array(rgb.samples[3..<6]) == [128, 255, 128]) // middle
    #expect(Array(rgb.samples[6..<9]) == [128, 0, 0])    // max → dark red
    let fixed = ColorMap.render(map, range: 0...12)
    #expect(Array(fixed.samples[6..<9]) == [128, 255, 128])
  }
}
