import Tensor

// MARK: which named tensors an EfficientNet needs, in the canonical (lukemelas) naming
//
// One description serves the weight loader and the random-weight generator, so both agree on
// every name and shape. Only the stem and the blocks up to the last feature block are listed:
// the stride-32 stages, the head convolution and the classifier are never evaluated.

/// A convolution followed by batch norm (conv weight "<conv>.weight", BN "<bn>.{weight,bias,running_mean,running_var}").
struct ConvBNSpec {
  let conv, bn: String
  let shape: [Int]  // [O, C/groups, k, k]
  let stride, groups: Int
}

/// A biased 1×1 convolution without batch norm (the squeeze-excitation layers).
struct BiasedConvSpec {
  let name: String
  let shape: [Int]
}

struct MBConvLayout {
  let spec: MBConvSpec
  let expand: ConvBNSpec?
  let depthwise: ConvBNSpec
  let seReduce, seExpand: BiasedConvSpec?
  let project: ConvBNSpec
}

struct EfficientNetLayout {
  let stem: ConvBNSpec
  let blocks: [MBConvLayout]

  init(_ config: EfficientNetConfig) {
    stem = ConvBNSpec(conv: "_conv_stem", bn: "_bn0", shape: [config.stemChannels, 3, 3, 3], stride: 2, groups: 1)
    let last = config.featureBlocks.last ?? (config.blocks.count - 1)
    blocks = config.blocks.prefix(last + 1).enumerated().map { i, b in
      let p = "_blocks.\(i)."
      let e = b.expandedFilters
      return MBConvLayout(
        spec: b,
        expand: b.expandRatio == 1 ? nil
          : ConvBNSpec(conv: p + "_expand_conv", bn: p + "_bn0", shape: [e, b.inputFilters, 1, 1], stride: 1, groups: 1),
        depthwise: ConvBNSpec(conv: p + "_depthwise_conv", bn: p + "_bn1", shape: [e, 1, b.kernel, b.kernel],
                              stride: b.stride, groups: e),
        seReduce: b.squeezedFilters.map { BiasedConvSpec(name: p + "_se_reduce", shape: [$0, e, 1, 1]) },
        seExpand: b.squeezedFilters.map { BiasedConvSpec(name: p + "_se_expand", shape: [e, $0, 1, 1]) },
        project: ConvBNSpec(conv: p + "_project_conv", bn: p + "_bn2", shape: [b.outputFilters, e, 1, 1], stride: 1, groups: 1))
    }
  }

  var convBNs: [ConvBNSpec] { [stem] + blocks.flatMap { [$0.expand, $0.depthwise, $0.project].compactMap { $0 } } }
  var biasedConvs: [BiasedConvSpec] { blocks.flatMap { [$0.seReduce, $0.seExpand].compactMap { $0 } } }

  /// He-normal convolutions and a mildly perturbed identity batch norm: for shape tests and timing.
  func randomTensors(seed: UInt64) -> [String: Tensor] {
    var rng = RNG(seed: seed)
    var out: [String: Tensor] = [:]
    for c in convBNs {
      let fanIn = Float(c.shape[1] * c.shape[2] * c.shape[3])
      let o = c.shape[0]
      out[c.conv + ".weight"] = Tensor(randn: c.shape, std: (2 / fanIn).squareRoot(), rng: &rng)
      out[c.bn + ".weight"] = Tensor(uniform: [o], 0.5, 1.0, rng: &rng)
      out[c.bn + ".bias"] = Tensor(randn: [o], std: 0.1, rng: &rng)
      out[c.bn + ".running_mean"] = Tensor(randn: [o], std: 0.1, rng: &rng)
      out[c.bn + ".running_var"] = Tensor(uniform: [o], 0.5, 1.5, rng: &rng)
    }
    for c in biasedConvs {
      out[c.name + ".weight"] = Tensor(randn: c.shape, std: (1 / Float(c.shape[1])).squareRoot(), rng: &rng)
      out[c.name + ".bias"] = Tensor(randn: [c.shape[0]], std: 0.1, rng: &rng)
    }
    return out
  }
}
