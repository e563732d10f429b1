import Datasets
import Foundation
import Tensor

/// What a perturbed training sample adds to its feature-cache key: the plan as text and the
/// donor samples whose files (of the same modality) the perturbed image depends on.
struct PerturbedInput {
  let key: String
  let donors: [Sample]
}

/// Applies `perturb.*` (`Perturbation`) to a step's preprocessed training samples. Donors
/// of spurious patches are the training images of every class of the run other than the
/// sample's own (not only the step's: an incremental step of one class has no other class).
/// Test-split samples are never touched, whatever the caller passes.
struct TrainingPerturber {
  let perturbation: Perturbation
  let seed: UInt64
  /// Dataset root: sample identities are paths relative to it, so a perturbation does not
  /// depend on where the dataset is mounted.
  let root: String
  /// Every sample patches may be cut from (training splits of the run's classes).
  let pool: [Sample]
  /// Preprocesses a donor (the same preprocessing as the samples themselves).
  let load: (Sample) throws -> PreparedSample

  init(perturbation: Perturbation, seed: UInt64, root: String, pool: [Sample], load: @escaping (Sample) throws -> PreparedSample) {
    self.perturbation = perturbation
    self.seed = seed
    self.root = root.hasSuffix("/") ? String(root.dropLast()) : root
    self.load = load
    // A stable order (by identity), so donor indices mean the same on every machine.
    self.pool = pool.filter { $0.split != .test }.sorted { $0.rgbPath < $1.rgbPath }
  }

  func sampleID(_ s: Sample) -> String {
    s.rgbPath.hasPrefix(root + "/") ? String(s.rgbPath.dropFirst(root.count + 1)) : s.rgbPath
  }

  /// The donors a sample of `className` may take patches from.
  func donors(for className: String) -> [Sample] { pool.filter { $0.className != className } }

  /// Perturbs the training samples of `prepared` in place; returns, by index, what each
  /// perturbed sample adds to its cache key. Donors are preprocessed once each, in parallel, and
  /// only their patches are kept.
  func perturb(_ prepared: inout [PreparedSample]) throws -> [Int: PerturbedInput] {
    guard perturbation.isActive else { return [:] }
    var plans: [Int: (plan: PerturbationPlan, donors: [Sample])] = [:]
    for (i, p) in prepared.enumerated() where p.sample.split != .test {
      let candidates = donors(for: p.sample.className)
      let plan = perturbation.plan(seed: seed, sampleID: sampleID(p.sample), inputSize: p.size, donors: candidates.count)
      if !plan.isEmpty { plans[i] = (plan, plan.patches.map { candidates[$0.donor] }) }
    }
    // Every (sample, patch) cut, grouped by donor.
    var requests: [Sample: [(index: Int, patch: Int)]] = [:]
    for (i, entry) in plans {
      for (k, donor) in entry.donors.enumerated() { requests[donor, default: []].append((i, k)) }
    }
    let donorList = requests.keys.sorted { $0.rgbPath < $1.rgbPath }
    let cuts = try Threading.parallelMap(donorList.count) { d -> [(Int, Int, PatchPixels)] in
      let image = try load(donorList[d])
      return requests[donorList[d]]!.map { ($0.index, $0.patch, PerturbationPlan.cut(plans[$0.index]!.plan.patches[$0.patch], from: image)) }
    }
    var pixels: [Int: [PatchPixels?]] = plans.mapValues { [PatchPixels?](repeating: nil, count: $0.plan.patches.count) }
    for (i, k, cut) in cuts.joined() { pixels[i]![k] = cut }
    let indices = plans.keys.sorted()
    let perturbed = try Threading.parallelMap(indices.count) { j -> PreparedSample in
      var sample = prepared[indices[j]]
      plans[indices[j]]!.plan.apply(to: &sample, pixels: pixels[indices[j]]!.map { $0! })
      return sample
    }
    for (j, i) in indices.enumerated() { prepared[i] = perturbed[j] }
    return plans.mapValues { PerturbedInput(key: $0.plan.key, donors: $0.donors) }
  }
}
