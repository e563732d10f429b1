import Testing

@testable import Model

@Suite("Parameter modules (train.clip_scope: module)")
struct ModuleGroupTests {
  @Test func everyParameterBelongsToOneModule() {
    let c = ModelConfig.tiny
    let model = IBIUMAD(config: c, classes: 3, seed: 1)
    let modules = Set(model.parameters.names.map(IBIUMAD.module(of:)))
    #expect(modules == ["mrn.rgb", "mrn.depth", "mamba.rgb", "mamba.depth", "ibfm", "heads.fused", "heads.bottleneck"])
    #expect(IBIUMAD.module(of: "mrn.rgb.encoder.0.linear2.weight") == "mrn.rgb")
    #expect(IBIUMAD.module(of: "ibfm.fusion.attn.q_proj.weight") == "ibfm")
  }
}
