/// The forgetting measure FM of the paper's Eq. 1, for one metric.
///
/// With steps 1…T and a_{l,j} the score of class j after step l:
///
///     FM = 1/|C| · Σ_{j ∈ C} max_{l < T} (a_{l,j} − a_{T,j})
///
/// where C holds the classes scored at some step before the last one and at the last step T, and
/// the max runs over the earlier steps at which j was scored (from the step it was learned on).
/// The drop is not clamped at zero, as in Eq. 1: a class that only improved contributes a
/// negative value. Undefined (nil) with fewer than two steps or when C is empty.
public enum Forgetting {
  /// `scores[step][class]`; steps are ordered by their number, the largest is the last step.
  public static func measure(_ scores: [Int: [String: Double]]) -> Double? {
    guard let last = scores.keys.max(), let final = scores[last] else { return nil }
    var drops: [Double] = []
    for (className, now) in final.sorted(by: { $0.key < $1.key }) {
      let earlier = scores.filter { $0.key < last }.compactMap { $0.value[className] }
      guard let best = earlier.max() else { continue }  // learned at the last step
      drops.append(best - now)
    }
    return drops.isEmpty ? nil : drops.reduce(0, +) / Double(drops.count)
  }
}
