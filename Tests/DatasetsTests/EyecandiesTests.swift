import Foundation
import ImageIO
import Testing

@testable import Datasets

@Suite struct EyecandiesTests {
  static let width = 6, height = 4

  /// Writes one Eyecandies sample: six lighting variants, 16-bit depth with its range, metadata.
  func writeSample(_ dir: String, id: String, anomalous: Bool?, depthRange: (Double, Double) = (0.4, 0.9)) throws {
    let w = Self.width, h = Self.height
    for k in 0..<6 {
      let rgb = PixelImage(width: w, height: h, channels: 3, bitDepth: 8,
                           samples: (0..<(w * h * 3)).map { UInt16((k * 40 + $0) % 256) })
      try PNG.write(rgb, to: "\(dir)/\(id)_image_\(k).png")
    }
    let depth = PixelImage(width: w, height: h, channels: 1, bitDepth: 16, samples: (0..<(w * h)).map { UInt16($0 * 2700) })
    try PNG.write(depth, to: "\(dir)/\(id)_depth.png")
    try "normalization:\n  min: \(depthRange.0)\n  max: \(depthRange.1)\n".write(toFile: "\(dir)/\(id)_info_depth.yaml", atomically: true, encoding: .utf8)
    if let anomalous {
      try "anomalous: \(anomalous ? 1 : 0)\nother_key: [1, 2]\n".write(toFile: "\(dir)/\(id)_metadata.yaml", atomically: true, encoding: .utf8)
      // Masks saved as RGB, as some Eyecandies tools do: any nonzero channel is defect.
      let mask = PixelImage(width: w, height: h, channels: 3, bitDepth: 8,
                            samples: (0..<(w * h * 3)).map { anomalous && $0 / 3 == 5 && $0 % 3 == 1 ? 255 : 0 })
      try PNG.write(mask, to: "\(dir)/\(id)_mask.png")
    }
  }

  func makeDataset(_ root: String) throws {
    let train = "\(root)/CandyCane/train/data", test = "\(root)/CandyCane/test_public/data", val = "\(root)/CandyCane/val/data"
    for d in [train, test, val] { try makeDirectory(d) }
    try writeSample(train, id: "000", anomalous: nil)
    try writeSample(train, id: "001", anomalous: false)
    try writeSample(val, id: "000", anomalous: false)
    // test_public ids have two digits; "10" checks that ids are found, not generated.
    try writeSample(test, id: "00", anomalous: false)
    try writeSample(test, id: "01", anomalous: true)
    try writeSample(test, id: "10", anomalous: true, depthRange: (1, 3))
  }

  @Test func readsLayoutLabelsAndChosenLighting() throws {
    try withTemporaryDirectory { root in
      try makeDataset(root)
      let scan = DatasetReader.scan(format: .eyecandies, root: root)
      #expect(scan.problems.isEmpty, "\(scan.problems)")
      #expect(scan.classes == ["CandyCane"])
      let byPath = Dictionary(uniqueKeysWithValues: scan.samples.map { (($0.rgbPath as NSString).lastPathComponent + "@" + $0.split.rawValue, $0) })
      #expect(byPath.keys.sorted() == ["000_image_4.png@train", "000_image_4.png@validation", "001_image_4.png@train",
                                       "00_image_4.png@test", "01_image_4.png@test", "10_image_4.png@test"])
      #expect(byPath["01_image_4.png@test"]?.label == 1 && byPath["01_image_4.png@test"]?.defectType == "anomalous")
      #expect(byPath["00_image_4.png@test"]?.label == 0 && byPath["00_image_4.png@test"]?.maskPath != nil)
      #expect(byPath["000_image_4.png@train"]?.maskPath == nil)

      let k2 = DatasetReader.scan(format: .eyecandies, root: root, options: DatasetOptions(eyecandiesImageIndex: 2))
      #expect(k2.samples.allSatisfy { $0.rgbPath.hasSuffix("_image_2.png") } && k2.samples.count == 6)
      let validated = try DatasetValidator.validate(scan, skipBadSamples: false)
      #expect(validated.stats.allSatisfy { $0.width == Self.width && $0.height == Self.height && $0.validDepthFraction == 1 })
    }
  }

  @Test func depthIsDenormalisedWithInfoYAMLAndMaskBinarised() throws {
    try withTemporaryDirectory { root in
      try makeDataset(root)
      let scan = DatasetReader.scan(format: .eyecandies, root: root)
      let sample = try #require(scan.samples.first { $0.rgbPath.hasSuffix("/10_image_4.png") })
      let loaded = try SampleLoader.load(sample)
      for i in 0..<(Self.width * Self.height) {
        let expected = Float(1 + Double(i * 2700) / 65535 * 2)
        #expect(abs(loaded.xyz.data[3 * i + 2] - expected) < 1e-6, "pixel \(i)")
      }
      let mask = try #require(loaded.mask)
      #expect(mask.data.enumerated().allSatisfy { $0.element == ($0.offset == 5 ? 1 : 0) })
      let prepared = try Preprocessor(inputSize: 8).prepare(sample)
      #expect(prepared.rgb.count == 192 && prepared.depth.count == 192 && prepared.mask.count == 64)
    }
  }

  @Test func missingSideFilesAreProblems() throws {
    try withTemporaryDirectory { root in
      try makeDataset(root)
      let test = "\(root)/CandyCane/test_public/data"
      try FileManager.default.removeItem(atPath: "\(test)/01_info_depth.yaml")
      try FileManager.default.removeItem(atPath: "\(test)/10_image_4.png")
      try "anomalous: maybe\n".write(toFile: "\(test)/00_metadata.yaml", atomically: true, encoding: .utf8)
      let scan = DatasetReader.scan(format: .eyecandies, root: root)
      #expect(scan.problems == [
        .badYAML(path: "\(test)/00_metadata.yaml", reason: "'anomalous' must be 0/1 or true/false, got 'maybe'"),
        .missingPartner(path: "\(test)/01_depth.png", partner: "\(test)/01_info_depth.yaml"),
        .missingPartner(path: "\(test)/10_depth.png", partner: "\(test)/10_image_4.png"),
      ])
    }
  }
}
