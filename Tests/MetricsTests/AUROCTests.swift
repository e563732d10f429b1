import Testing

@testable import Metrics

/// AUROC against hand-counted pairs: AUC = (pairs with the defect ranked higher + ½ · tied pairs) / (P · N).
struct AUROCTests {
  @Test func handCountedCases() throws {
    // Positives 0.35, 0.8; negatives 0.1, 0.4: pairs won 0.8>0.1, 0.8>0.4, 0.35>0.1 → 3/4.
    #expect(try AUROC.compute(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1]) == 0.75)
    // Ties across classes count one half: 0.5(+) vs 0.5, 0.5 → ½ + ½; 0.9(+) wins both → 3/4.
    #expect(try AUROC.compute(scores: [0.5, 0.5, 0.5, 0.9], labels: [0, 1, 0, 1]) == 0.75)
    // Ties within one class change nothing: 2 positives at 0.7 beat 3 negatives at 0.2/0.2/0.6.
    #expect(try AUROC.compute(scores: [0.2, 0.7, 0.2, 0.7, 0.6], labels: [0, 1, 0, 1, 0]) == 1)
    // 1 positive at 0.3 vs negatives 0.1, 0.3, 0.5: 1 + ½ + 0 of 3.
    #expect(try AUROC.compute(scores: [0.1, 0.3, 0.5, 0.3], labels: [0, 0, 0, 1]) == 0.5)
  }

  @Test func allTiedIsOneHalf() throws {
    #expect(try AUROC.compute(scores: [Float](repeating: 0.25, count: 7), labels: [0, 1, 1, 0, 1, 0, 0]) == 0.5)
  }

  @Test func invertedDetectorScoresZeroNotOne() throws {
    // Every defect below every good sample: no `1 − auc` flip may rescue it.
    #expect(try AUROC.compute(scores: [0.9, 0.8, 0.7, 0.1, 0.2], labels: [0, 0, 0, 1, 1]) == 0)
    #expect(try AUROC.compute(scores: [0.9, 0.8, 0.7, 0.1, 0.2], labels: [1, 1, 1, 0, 0]) == 1)
  }

  @Test func signedZerosTieAndInfinitiesOrder() throws {
    #expect(try AUROC.compute(scores: [-0.0, 0.0], labels: [0, 1]) == 0.5)
    #expect(try AUROC.compute(scores: [-.infinity, -1, .infinity, 1e30], labels: [0, 0, 1, 1]) == 1)
    #expect(try AUROC.compute(scores: [-2, -1, -3], labels: [0, 1, 0]) == 1)
  }

  @Test func undefinedOrBadInputThrowsNamingTheData() {
    #expect(throws: MetricsError.oneClassOnly(what: "class 'x'", positives: 0, negatives: 3)) {
      try AUROC.compute(scores: [0.1, 0.2, 0.3], labels: [0, 0, 0], what: "class 'x'")
    }
    #expect(throws: MetricsError.oneClassOnly(what: "AUROC", positives: 2, negatives: 0)) {
      try AUROC.compute(scores: [0.1, 0.2], labels: [1, 1])
    }
    #expect(throws: MetricsError.nanScore(what: "AUROC", index: 1)) {
      try AUROC.compute(scores: [0.1, .nan], labels: [0, 1])
    }
    #expect(throws: MetricsError.invalidLabel(what: "AUROC", index: 0, value: 255)) {
      try AUROC.compute(scores: [0.1, 0.2], labels: [255, 0])
    }
    #expect(throws: MetricsError.countMismatch(what: "AUROC labels", expected: 2, found: 1)) {
      try AUROC.compute(scores: [0.1, 0.2], labels: [1])
    }
  }

  /// A brute-force pair count on random scores with many ties agrees with the sorted walk.
  @Test func agreesWithPairCountingOnRandomTiedScores() throws {
    var state: UInt64 = 12345
    func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
    for _ in 0..<20 {
      let n = 2 + Int(next() % 60)
      let scores = (0..<n).map { _ in Float(next() % 7) / 7 }
      var labels = (0..<n).map { _ in Int(next() % 2) }
      labels[0] = 0
      labels[1] = 1
      var won = 0.0
      var pairs = 0.0
      for i in 0..<n where labels[i] == 1 {
        for j in 0..<n where labels[j] == 0 {
          pairs += 1
          won += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0
        }
      }
      let auc = try AUROC.compute(scores: scores, labels: labels)
      #expect(abs(auc - won / pairs) < 1e-12, "n \(n): \(auc) vs \(won / pairs)")
    }
  }
}
