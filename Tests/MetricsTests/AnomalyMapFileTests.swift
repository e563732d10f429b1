import Datasets
import Foundation
import ImageIO
import Testing

@testable import Metrics

struct AnomalyMapFileTests {
  static func sample(defect: String = "hole") -> Sample {
    Sample(className: "bagel", split: .test, defectType: defect, label: defect == "good" ? 0 : 1,
           rgbPath: "/data/bagel/test/\(defect)/rgb/007.png", depthPath: "/data/bagel/test/\(defect)/xyz/007.tiff",
           depthKind: .xyzTIFF, maskPath: nil)
  }

  @Test func writesTheMVTecLayoutAtTheOriginalSize() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-maps-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    #expect(AnomalyMapFiles.path(root: root + "/", sample: Self.sample()) == "\(root)/bagel/test/hole/007.tiff")
    let map = Image(width: 4, height: 4, channels: 1, data: (0..<16).map { Float($0) })
    let written = try AnomalyMapFiles.write(map, originalWidth: 8, originalHeight: 6, root: root, sample: Self.sample())
    #expect(written == "\(root)/bagel/test/hole/007.tiff")
    let back = try AnomalyMapFiles.read(root: root, sample: Self.sample())
    #expect(back.width == 8 && back.height == 6 && back.channels == 1)
    #expect(back == Resize.bilinear(map, width: 8, height: 6))

    #expect(throws: MetricsError.missingMap(path: "\(root)/bagel/test/good/007.tiff", sample: Self.sample(defect: "good").rgbPath)) {
      try AnomalyMapFiles.read(root: root, sample: Self.sample(defect: "good"))
    }
    try TIFF.write(Image(width: 2, height: 2, channels: 3), to: AnomalyMapFiles.path(root: root, sample: Self.sample()))
    #expect(throws: MetricsError.self) { try AnomalyMapFiles.read(root: root, sample: Self.sample()) }
  }
}
