import Foundation
import Testing

@testable import Model
@testable import Tensor
import TestSupport

@Suite("Anomaly map variants: map specs, sources, normalisations, map statistics, standardised targets")
struct AnomalyMapVariantTests {
  // MARK: model.anomaly_map

  @Test func parseAcceptsSourcesJoinedByPlusIgnoringCaseAndSpaces() throws {
    let cases: [(String, [String])] = [
      ("fused", ["fused"]), ("rgb+depth", ["rgb", "depth"]), ("fused+modal", ["fused", "modal"]),
      (" RGB + Depth ", ["rgb", "depth"]), ("MODAL", ["modal"]),
    ]
    for (text, names) in cases {
      let (spec, problem) = AnomalyMapSpec.parse(text)
      #expect(problem == nil, "problem parsing '\(text)': \(problem ?? "")")
      #expect(spec?.names == names, "names parsed from '\(text)' vs \(names): \(String(describing: spec?.names))")
    }
    #expect(AnomalyMapSpec.parse("rgb+depth").spec?.description == "rgb+depth", "description of a parsed spec vs its text")
  }

  @Test func parseRejectsUnknownPartsNamingThem() {
    for (text, part) in [("foo", "'foo'"), ("rgb+foo", "'foo'"), ("fused + Colour", "'colour'"), ("", "''")] {
      let (spec, problem) = AnomalyMapSpec.parse(text)
      #expect(spec == nil, "spec parsed from the bad text '\(text)'")
      #expect(problem?.contains(part) == true, "problem for '\(text)' names \(part): \(problem ?? "nil")")
    }
  }

  @Test func sourcesExpandModalInCanonicalOrderOnce() {
    let cases: [([String], [Modality], [MapSource])] = [
      (["fused"], [.rgb, .depth], [.fused]),
      (["modal"], [.depth, .rgb], [.rgb, .depth]),
      (["modal"], [.rgb], [.rgb]),
      (["modal"], [.depth], [.depth]),
      (["depth", "modal", "fused"], [.depth, .rgb], [.fused, .rgb, .depth]),
      (["depth", "rgb", "rgb", "modal"], [.rgb, .depth], [.rgb, .depth]),
      (["depth", "fused"], [.rgb], [.fused, .depth]),
    ]
    for (names, modalities, expected) in cases {
      let got = AnomalyMapSpec(names: names).sources(modalities: modalities)
      #expect(got == expected, "sources of \(names) with modalities \(modalities) vs \(expected): \(got)")
    }
  }

  @Test func problemsReportMapSourcesTheModelCannotMake() {
    #expect(ModelConfig.tiny.problems().isEmpty, "problems of the tiny preset: \(ModelConfig.tiny.problems())")
    func mapProblems(_ c: ModelConfig) -> [String] { c.problems().filter { $0.hasPrefix("model.anomaly_map") } }

    var noIBFM = ModelConfig.tiny
    noIBFM.ibfm = false
    noIBFM.anomalyMap = .fused
    #expect(mapProblems(noIBFM).contains { $0.contains("fused") }, "fused map with ibfm off: \(noIBFM.problems())")
    noIBFM.anomalyMap = AnomalyMapSpec(names: ["fused", "depth"])
    #expect(mapProblems(noIBFM).count == 1, "fused+depth with ibfm off: one anomaly_map problem: \(noIBFM.problems())")
    noIBFM.anomalyMap = .modal
    #expect(mapProblems(noIBFM).isEmpty, "modal map with ibfm off: \(noIBFM.problems())")

    var rgbOnly = ModelConfig.tiny
    rgbOnly.ibfm = false
    rgbOnly.modalities = [.rgb]
    rgbOnly.anomalyMap = AnomalyMapSpec(names: ["depth"])
    #expect(mapProblems(rgbOnly).contains { $0.contains("depth") }, "depth map with modalities [rgb]: \(rgbOnly.problems())")
    rgbOnly.anomalyMap = AnomalyMapSpec(names: ["rgb", "depth"])
    #expect(mapProblems(rgbOnly).contains { $0.contains("depth") }, "rgb+depth map with modalities [rgb]: \(rgbOnly.problems())")
    for ok in [AnomalyMapSpec(names: ["rgb"]), .modal] {
      rgbOnly.anomalyMap = ok
      #expect(rgbOnly.problems().isEmpty, "'\(ok)' with modalities [rgb], ibfm off: \(rgbOnly.problems())")
    }
  }

  // MARK: token scores

  /// A tiny model, a batch of two and its eval forward output.
  static func forward(seed: UInt64 = 3, inputSeed: UInt64 = 8) -> (model: IBIUMAD, input: ModelInput, out: ModelOutput) {
    let model = IBIUMAD(config: .tiny, classes: 10, seed: seed)
    let input = makeInput(.tiny, batch: 2, seed: inputSeed)
    var ctx = ForwardContext.eval
    return (model, input, model.forward(input, &ctx))
  }

  /// ‖a − b‖ of each `c`-wide row, in Double.
  static func rowDistances(_ a: [Float], _ b: [Float], channels c: Int) -> [Float] {
    (0..<(a.count / c)).map { t in
      var s = 0.0
      for j in 0..<c { let d = Double(a[t * c + j]) - Double(b[t * c + j]); s += d * d }
      return Float(s.squareRoot())
    }
  }

  @Test func rgbScoresWithoutNormalizationAreResidualNorms() {
    let (model, _, out) = Self.forward()
    let c = model.config.featureChannels
    let expected = Self.rowDistances(out.reconstructions[.rgb]!.reconstruction.data, out.targets[.rgb]!.data, channels: c)
    let variant = MapVariant(sources: [.rgb], normalization: .none)
    let got = model.tokenScores(model.residuals(out, sources: [.rgb]), variant, statistics: nil)
    #expect(got.count == 2 * model.config.tokens, "token scores vs batch × tokens")
    let failure = closenessFailure(got, expected, atol: 1e-5, rtol: 1e-5, "rgb (none) token scores vs ‖R_R − F_R‖ by hand")
    #expect(failure == nil, "\(failure ?? "")")
    // Statistics do not change a `none` map.
    var stats = MapStatistics()
    stats.score[.rgb] = statistics([1, 2, 3, 4], channels: 1)
    let ignored = model.tokenScores(model.residuals(out, sources: [.rgb]), variant, statistics: stats)
    #expect(ignored == got, "rgb (none) token scores with statistics vs without")
    // The fused residual is F_g − F_R.
    let fused = model.residuals(out, sources: [.fused])[.fused]!
    let byHand = zip(out.fusion!.bottleneck.data, out.targets[.rgb]!.data).map { $0 - $1 }
    #expect(fused == byHand, "fused residual vs bottleneck − rgb target")
  }

  @Test func sourceNormalizationZScoresTheNorm() {
    let (model, _, out) = Self.forward()
    let c = model.config.featureChannels
    let norms = Self.rowDistances(out.reconstructions[.rgb]!.reconstruction.data, out.targets[.rgb]!.data, channels: c)
    var stats = MapStatistics()
    stats.score[.rgb] = statistics([1, 2, 3, 4], channels: 1)  // mean 2.5, population variance 1.25
    let expected = norms.map { ($0 - 2.5) / Float(1.25.squareRoot()) }
    let got = model.tokenScores(model.residuals(out, sources: [.rgb]), MapVariant(sources: [.rgb], normalization: .source), statistics: stats)
    let failure = closenessFailure(got, expected, atol: 1e-5, rtol: 1e-5, "rgb (source) token scores vs (‖r‖ − 2.5)/√1.25")
    #expect(failure == nil, "\(failure ?? "")")
  }

  @Test func twoSourcesSumTheirSingleSourceScores() {
    let (model, _, out) = Self.forward()
    var stats = MapStatistics()
    stats.score[.fused] = statistics([0.5, 3, 9], channels: 1)
    stats.score[.rgb] = statistics([10, 12, 17], channels: 1)
    stats.score[.depth] = statistics([-1, 4], channels: 1)
    let r = model.residuals(out, sources: [.fused, .rgb, .depth])
    func single(_ s: MapSource) -> [Float] { model.tokenScores(r, MapVariant(sources: [s], normalization: .source), statistics: stats) }
    let pairs: [[MapSource]] = [[.rgb, .depth], [.depth, .rgb], [.fused, .depth], [.fused, .rgb]]
    for pair in pairs {
      let got = model.tokenScores(r, MapVariant(sources: pair, normalization: .source), statistics: stats)
      let expected = zip(single(pair[0]), single(pair[1])).map { $0 + $1 }
      let failure = closenessFailure(got, expected, atol: 1e-5, rtol: 1e-5, "\(pair) (source) token scores vs the sum of the single-source scores")
      #expect(failure == nil, "\(failure ?? "")")
    }
    let three = model.tokenScores(r, MapVariant(sources: [.depth, .fused, .rgb], normalization: .source), statistics: stats)
    let expected3 = (0..<three.count).map { single(.fused)[$0] + single(.rgb)[$0] + single(.depth)[$0] }
    let failure3 = closenessFailure(three, expected3, atol: 1e-5, rtol: 1e-5, "fused+rgb+depth (source) vs the sum of three")
    #expect(failure3 == nil, "\(failure3 ?? "")")
  }

  @Test func channelNormalizationIsRMSOfStandardisedResidualThenZScored() {
    let (model, _, out) = Self.forward()
    let c = model.config.featureChannels
    let good = channelData(rows: 50, channels: c, seed: 31, shift: 0.2)
    let ref = twoPass(good, channels: c)
    var stats = MapStatistics()
    stats.channel[.rgb] = statistics(good, channels: c)
    stats.score[.rgb] = statistics([0.8, 1.1, 1.7, 2.0], channels: 1)
    let scoreRef = twoPass([0.8, 1.1, 1.7, 2.0], channels: 1)
    let r = model.residuals(out, sources: [.rgb])
    let got = model.tokenScores(r, MapVariant(sources: [.rgb], normalization: .channel), statistics: stats)
    let rec = out.reconstructions[.rgb]!.reconstruction.data, target = out.targets[.rgb]!.data
    for t in [0, 5, 2 * model.config.tokens - 1] {
      var sum = 0.0
      for j in 0..<c {
        let residual = Double(rec[t * c + j]) - Double(target[t * c + j])
        let z = (residual - ref.mean[j]) / ref.variance[j].squareRoot()
        sum += z * z
      }
      let rms = (sum / Double(c)).squareRoot()
      let expected = (rms - scoreRef.mean[0]) / scoreRef.variance[0].squareRoot()
      #expect(abs(Double(got[t]) - expected) <= 1e-4 * max(1, abs(expected)),
              "rgb (channel) token \(t): \(got[t]) vs (RMS_c((r − μ_c)/σ_c) − m)/s by hand = \(expected)")
    }
  }

  // MARK: measuring map statistics

  @Test func measureMapStatisticsOverTwoBatchesEqualsHandStatistics() {
    let model = IBIUMAD(config: .tiny, classes: 10, seed: 4)
    let c = model.config.featureChannels
    let sources: [MapSource] = [.fused, .rgb, .depth]
    let residuals = [makeInput(.tiny, batch: 2, seed: 20), makeInput(.tiny, batch: 3, seed: 30)].map { input -> SourceResiduals in
      var ctx = ForwardContext.eval
      return model.residuals(model.forward(input, &ctx), sources: sources)
    }
    var passes = 0
    let stats = model.measureMapStatistics(sources: sources, normalization: .source) { body in
      passes += 1
      for r in residuals { body(r) }
    }
    #expect(passes == 1, "passes over the batches for source statistics")
    #expect(stats.channel.isEmpty, "channel statistics measured for source normalisation: \(stats.channel.keys)")
    for s in sources {
      let rows = residuals.flatMap { $0[s]! }
      let norms = Self.rowDistances(rows, [Float](repeating: 0, count: rows.count), channels: c)
      let ref = twoPass(norms, channels: 1)
      guard let got = stats.score[s] else { Issue.record("no score statistics for \(s)"); continue }
      #expect(got.count == Double(5 * model.config.tokens), "\(s) score count vs tokens of both batches")
      let meanFailure = doubleMismatch(got.mean, ref.mean, rtol: 1e-5, "\(s) score mean vs mean of ‖r‖ over both batches")
      #expect(meanFailure == nil, "\(meanFailure ?? "")")
      let varFailure = doubleMismatch(got.m2.map { $0 / got.count }, ref.variance, rtol: 1e-4, "\(s) score variance vs variance of ‖r‖")
      #expect(varFailure == nil, "\(varFailure ?? "")")
    }

    // `channel` reads the batches twice: channel statistics first, then the scores they normalise.
    passes = 0
    let channel = model.measureMapStatistics(sources: [.rgb], normalization: .channel) { body in
      passes += 1
      for r in residuals { body(r) }
    }
    #expect(passes == 2, "passes over the batches for channel statistics")
    let rows = residuals.flatMap { $0[.rgb]! }
    let ref = twoPass(rows, channels: c)
    guard let ch = channel.channel[.rgb] else { Issue.record("no rgb channel statistics"); return }
    let meanFailure = doubleMismatch(ch.mean, ref.mean, rtol: 1e-9, "rgb channel means vs two-pass over both batches")
    #expect(meanFailure == nil, "\(meanFailure ?? "")")
    let varFailure = doubleMismatch(ch.m2.map { $0 / ch.count }, ref.variance, rtol: 1e-9, "rgb channel variances vs two-pass")
    #expect(varFailure == nil, "\(varFailure ?? "")")
    #expect(channel.score[.rgb]?.count == Double(5 * model.config.tokens), "rgb channel-score count vs tokens of both batches")
  }

  // MARK: standardised targets

  @Test func targetsAreStandardisedFeaturesWhenStatisticsAreSet() {
    let c = ModelConfig.tiny.featureChannels
    let input = makeInput(.tiny, batch: 2, seed: 9)
    let rgbGood = channelData(rows: 40, channels: c, seed: 41, shift: 3)
    let depthGood = channelData(rows: 40, channels: c, seed: 42, shift: -2)
    let features: [Modality: ChannelStatistics] = [.rgb: statistics(rgbGood, channels: c), .depth: statistics(depthGood, channels: c)]
    let refs: [Modality: (mean: [Double], variance: [Double])] = [.rgb: twoPass(rgbGood, channels: c), .depth: twoPass(depthGood, channels: c)]

    let model = IBIUMAD(config: .tiny, classes: 10, seed: 5)
    var ctx = ForwardContext.eval
    let raw = model.forward(input, &ctx)
    for m in Modality.allCases {
      #expect(raw.targets[m]!.data == input.features[m]!.data, "\(m) targets without feature statistics vs the raw features")
    }

    model.featureStatistics = features
    var ctx2 = ForwardContext.eval
    let out = model.forward(input, &ctx2)
    for m in Modality.allCases {
      let x = input.features[m]!.data, ref = refs[m]!
      let expected = x.indices.map { i in Float((Double(x[i]) - ref.mean[i % c]) / ref.variance[i % c].squareRoot()) }
      #expect(out.targets[m]!.shape == input.features[m]!.shape, "\(m) target shape vs feature shape")
      let failure = closenessFailure(out.targets[m]!.data, expected, atol: 1e-5, rtol: 1e-5, "\(m) targets vs (F − μ)/σ by hand")
      #expect(failure == nil, "\(failure ?? "")")
    }
    // The MSE terms compare with the targets (and would differ from the raw features').
    let terms = Dictionary(uniqueKeysWithValues: model.loss(out, input).values.map { ($0.name, $0.value) })
    func mse(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / Double(a.count) }
    for m in Modality.allCases {
      let rec = out.reconstructions[m]!.reconstruction.data
      let expected = mse(rec, out.targets[m]!.data), againstRaw = mse(rec, input.features[m]!.data)
      let got = Double(terms["mse_\(m.rawValue)"] ?? .nan)
      #expect(abs(got - expected) <= 1e-4 * expected, "mse_\(m.rawValue) \(got) vs MSE(R, standardised target) = \(expected)")
      #expect(abs(againstRaw - expected) > 1e-2 * expected, "MSE against raw \(againstRaw) vs against targets \(expected): the test must tell them apart")
    }
    let fusion = mse(out.targets[.rgb]!.data, out.fusion!.bottleneck.data)
    let gotFusion = Double(terms["fusion"] ?? .nan)
    #expect(abs(gotFusion - fusion) <= 1e-4 * fusion, "fusion term \(gotFusion) vs MSE(standardised rgb target, F_g) = \(fusion)")

    // standardize_features off: statistics are kept but the targets and losses stay raw.
    var off = ModelConfig.tiny
    off.standardizeFeatures = false
    let plain = IBIUMAD(config: off, classes: 10, seed: 5)
    plain.featureStatistics = features
    var ctx3 = ForwardContext.eval
    let plainOut = plain.forward(input, &ctx3)
    for m in Modality.allCases {
      #expect(plainOut.targets[m]!.data == input.features[m]!.data, "\(m) targets with standardize_features off vs the raw features")
    }
    let plainTerms = Dictionary(uniqueKeysWithValues: plain.loss(plainOut, input).values.map { ($0.name, $0.value) })
    let plainExpected = mse(plainOut.reconstructions[.rgb]!.reconstruction.data, input.features[.rgb]!.data)
    let plainGot = Double(plainTerms["mse_rgb"] ?? .nan)
    #expect(abs(plainGot - plainExpected) <= 1e-4 * plainExpected, "mse_rgb \(plainGot) with standardize_features off vs MSE(R, F) = \(plainExpected)")
  }
}
