import Baseline
import Tensor
import Testing
import TestSupport

@Suite struct MemoryTests {
  @Test func distanceStatisticsAccumulateOverClasses() {
    var s = DistanceStatistics()
    s.add([1, 2, 3])
    s.add([4, 5])
    #expect(s.count == 5 && abs(s.mean - 3) < 1e-12 && abs(s.std - 2.0.squareRoot()) < 1e-12)
    #expect(s.standardise([3, 3 + Float(2.0.squareRoot())]).map { ($0 * 1e5).rounded() / 1e5 } == [0, 1])
    var constant = DistanceStatistics()
    constant.add([2, 2])
    #expect(constant.std == 1, "a zero spread must not divide by zero")
  }

  @Test func bankGrowsAndKeepsNorms() {
    var bank = MemoryBank(dim: 2)
    bank.append([3, 4, 0, 1], of: "a")
    bank.append([1, 1], of: "b")
    #expect(bank.count == 3 && bank.norms == [25, 1, 2])
    #expect(bank.classTokens.map(\.className) == ["a", "b"] && bank.classTokens.map(\.count) == [2, 1])
  }

  /// Ten images of 4 tokens: one held out (10 %), its tokens measured against a bank of the
  /// other nine; with a validation set, those images are measured against the class's bank.
  @Test func calibrationComesFromImagesOutsideTheBank() throws {
    let d = 8, t = 4
    let images = (0..<10).map { randn([t, d], seed: UInt64($0)).data }
    let builder = ClassMemoryBuilder(settings: BaselineSettings(coreset: 1), seed: 0, dim: d)
    let held = try builder.build(className: "c", training: images, validation: nil, stream: "c.rgb")
    #expect(held.bankTokens == images.flatMap { $0 } && held.calibration.count == t)
    #expect(held.calibration.allSatisfy { $0 > 0 }, "a held-out token is not in its calibration bank")
    let validation = [randn([t, d], seed: 99).data, images[0]]
    let viaValidation = try builder.build(className: "c", training: images, validation: validation, stream: "c.rgb")
    #expect(viaValidation.calibration.count == 2 * t && viaValidation.calibrationSource == "validation")
    #expect(viaValidation.calibration.suffix(t).allSatisfy { $0 < 1e-2 }, "an image in the bank is at distance 0")
    #expect(throws: BaselineError.tooFewCalibrationImages(className: "c", trainingImages: 1)) {
      try builder.build(className: "c", training: [images[0]], validation: nil, stream: "c.rgb")
    }
  }
}
