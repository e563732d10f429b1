import ImageIO
import Testing

@testable import Metrics

/// Image scores and the two protocols' resolutions.
struct ProtocolTests {
  @Test func averagePooledMaximumIgnoresSinglePixelPeaks() throws {
    // 8×8 zeros with one spike of 16 and a flat 4×4 block of 2: the spike's best 4×4 window
    // averages 1, the block's 2.
    var map = [Float](repeating: 0, count: 64)
    map[9] = 16
    for y in 4..<8 { for x in 4..<8 { map[y * 8 + x] = 2 } }
    #expect(try ImageScore.maxOfAveragePooled(map, width: 8, height: 8, kernel: 4) == 2)
    #expect(try ImageScore.maxOfAveragePooled(map, width: 8, height: 8, kernel: 1) == 16)
    #expect(ImageScore.maximum(map) == 16)
    // The window slides with stride 1: a 2×2 block at an odd offset is found whole.
    var odd = [Float](repeating: 0, count: 25)
    for p in [6, 7, 11, 12] { odd[p] = 1 }
    #expect(try ImageScore.maxOfAveragePooled(odd, width: 5, height: 5, kernel: 2) == 1)
    #expect(throws: MetricsError.self) { try ImageScore.maxOfAveragePooled(odd, width: 5, height: 5, kernel: 6) }
  }

  @Test func officialKeepsTheOriginalSizeUniadResizes() throws {
    let mask = Image(width: 40, height: 20, channels: 1, data: (0..<800).map { $0 % 40 >= 30 ? 1 : 0 })
    let map = Image(width: 10, height: 10, channels: 1, data: (0..<100).map { Float($0 % 10) / 10 })
    let official = try ProtocolSettings(.official).prepare(map: map, mask: mask)
    #expect(official.width == 40 && official.height == 20 && official.map.count == 800)
    #expect(official.mask.filter { $0 == 1 }.count == 200)
    #expect(official.score == ImageScore.maximum(official.map))

    // The default pool is 16 whatever the input size (UniAD's and training's); 2 here by choice.
    #expect(try ProtocolSettings(.uniad, inputSize: 28).pool == 16)
    let settings = try ProtocolSettings(.uniad, inputSize: 28, pool: 2)
    #expect(settings.pool == 2)
    let uniad = try settings.prepare(map: map, mask: mask)
    #expect(uniad.width == 28 && uniad.height == 28 && uniad.mask.count == 784)
    #expect(Set(uniad.mask) == [0, 1])
    #expect(uniad.score == (try ImageScore.maxOfAveragePooled(uniad.map, width: 28, height: 28, kernel: 2)))
    #expect(try ProtocolSettings(.uniad).pool == 16)
    #expect(throws: MetricsError.self) { try ProtocolSettings(.uniad, inputSize: 8, pool: 9) }
  }

  @Test func classScoresFromPreparedImagesRequireOneSize() throws {
    let a = PreparedImage(map: [0, 1], mask: [0, 1], width: 2, height: 1, score: 1)
    let b = PreparedImage(map: [0], mask: [0], width: 1, height: 1, score: 0)
    #expect(throws: MetricsError.self) { try ClassScores(className: "x", images: [a, b], labels: [1, 0]) }
    let ok = try ClassScores(className: "x", images: [a, a], labels: [1, 0])
    #expect(ok.width == 2 && ok.maps.count == 2 && ok.imageScores == [1, 1])
  }
}
