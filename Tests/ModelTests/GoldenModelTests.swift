import Foundation
import Testing

import Backbone

@testable import Model
@testable import Tensor
import TestSupport

/// The whole tiny model against an independent JAX implementation (float64):
/// Scripts/make_fixtures_model.py → Tests/Fixtures/model/golden_tiny.safetensors.
/// Tolerance: |swift − ref| ≤ 1e-4 · max|ref| per tensor (relative to the tensor's scale).
@Suite("Golden: tiny model vs JAX")
struct GoldenModelTests {
  /// The fixture's tensors by name.
  let fixture: [String: Tensor]
  let model: IBIUMAD
  let input: ModelInput

  init() throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/model/golden_tiny.safetensors")
    let file = try SafeTensorsFile(path: url.path)
    fixture = try Dictionary(uniqueKeysWithValues: file.names.map { ($0, try file.tensor($0, shape: file.shape(of: $0)!)) })
    var c = ModelConfig.tiny
    // The fixture's map is the paper's fused residual, unnormalised.
    c.anomalyMap = .fused
    c.mapNormalization = .none
    model = IBIUMAD(config: c, classes: 3, seed: 5)
    try model.parameters.load(fixture, prefix: "param/")
    let t = fixture
    input = ModelInput(
      features: [.rgb: t["input/features.rgb"]!, .depth: t["input/features.depth"]!],
      images: [.rgb: t["input/images.rgb"]!, .depth: t["input/images.depth"]!],
      labels: t["input/labels"]!.data.map { Int($0) })
  }

  func expectMatches(_ swift: [Float], _ key: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let ref = fixture[key]!.data
    let scale = ref.map(abs).max() ?? 1
    let failure = closenessFailure(swift, ref, atol: 1e-4 * scale, rtol: 0, key)
    #expect(failure == nil, "\(failure ?? "")", sourceLocation: sourceLocation)
  }

  @Test func forwardOutputsLossesGradientsAndMap() throws {
    var ctx = ForwardContext(training: true, dropout: 0, jitter: false, rng: RNG(seed: 0))
    let out = model.forward(input, &ctx)
    for m in Modality.allCases {
      expectMatches(out.reconstructions[m]!.reconstruction.data, "out/reconstruction.\(m.rawValue)")
      expectMatches(out.mamba[m]!.logits.data, "out/logits.mamba.\(m.rawValue)")
    }
    expectMatches(out.fusion!.fused.data, "out/fused")
    expectMatches(out.fusion!.bottleneck.data, "out/bottleneck")
    expectMatches(out.fusion!.fusedLogits.data, "out/logits.fused")
    expectMatches(out.fusion!.bottleneckLogits.data, "out/logits.bottleneck")

    let terms = model.loss(out, input)
    for (name, value) in terms.values { expectMatches([value], "loss/\(name)") }
    expectMatches([terms.total.item], "loss/total")

    terms.total.backward()
    for key in fixture.keys.sorted() where key.hasPrefix("grad/") {
      expectMatches(model.parameters[String(key.dropFirst(5))]!.grad!, key)
    }

    var evalCtx = ForwardContext.eval
    let maps = model.anomalyMaps(model.forward(input, &evalCtx))
    expectMatches(maps.tokenMaps.data, "out/token_map")
    expectMatches(maps.maps.data, "out/map")
    expectMatches(maps.scores, "out/scores")
  }

  @Test func loadingRefusesMismatchedTensors() {
    var wrong = fixture
    wrong["param/mrn.rgb.pos_embed"] = Tensor(zeros: [3, 3])
    wrong["param/heads.fused.bias"] = nil
    do {
      try model.parameters.load(wrong, prefix: "param/")
      Issue.record("expected a ParameterLoadError")
    } catch let e as ParameterLoadError {
      let text = e.description
      #expect(text.contains("tensor 'param/mrn.rgb.pos_embed': file has shape [3, 3], model expects [16, 32]"))
      #expect(text.contains("missing tensor 'param/heads.fused.bias'"))
    } catch {
      Issue.record("unexpected error \(error)")
    }
  }
}
