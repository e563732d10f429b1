import Foundation
import Testing

@testable import Tensor
import TestSupport

@Suite("Engine: parameters, schedules, threading, determinism, linear algebra")
struct EngineTests {
  /// What the gradient all-reduce overlap relies on: a leaf is announced once, as soon as the
  /// last op reading it has pushed its gradient (its value then is the final one), and the
  /// leaves near the loss come before those near the input.
  @Test func leafReadyAnnouncesEachFinalGradientOnceAndEarly() {
    let x = randn([3, 4], seed: 1)
    let w1 = randn([4, 5], seed: 2), w2 = randn([5, 2], seed: 3), b = randn([2], seed: 4)
    for t in [w1, w2, b] { t.requiresGrad = true }
    func loss() -> Tensor {
      (Tensor.matmul(Tensor.matmul(x, w1).relu(), w2) + b).sum() + Tensor.matmul(x, w1).square().sum()
    }
    loss().backward()
    let final = [w1, w2, b].map { $0.grad! }
    for t in [w1, w2, b] { t.grad = nil }
    var announced: [(Tensor, [Float])] = []
    loss().backward(leafReady: { announced.append(($0, $0.grad!)) })
    #expect(announced.count == 3)
    #expect(announced.map { ObjectIdentifier($0.0) }.last == ObjectIdentifier(w1), "w1 (used twice, nearest the input) comes last")
    for (t, g) in announced {
      let i = [w1, w2, b].firstIndex { $0 === t }!
      #expect(g == final[i], "announced gradient is the final one")
    }
  }

  @Test func parameterStoreKeepsNamesAndOrder() {
    var rng = RNG(seed: 1)
    let store = ParameterStore()
    store.xavierUniform("a.weight", [4, 6], rng: &rng)
    store.zeros("a.bias", [4])
    store.normal("b.embed", [3, 2], std: 0.02, rng: &rng)
    #expect(store.names == ["a.weight", "a.bias", "b.embed"])
    #expect(store.totalElements == 24 + 4 + 6)
    let bound = (6 / Float(4 + 6)).squareRoot()
    #expect(store["a.weight"]!.data.allSatisfy { abs($0) <= bound })
    #expect(store["a.bias"]!.data.allSatisfy { $0 == 0 })
    #expect(store.tensors.allSatisfy { $0.requiresGrad })
  }

  @Test func clipGradNormScalesToMaxNorm() {
    let store = ParameterStore()
    let a = store.zeros("a", [2]), b = store.zeros("b", [1])
    a.grad = [3, 0]
    b.grad = [4]
    let before = store.clipGradNorm(1)
    #expect(abs(before - 5) < 1e-6)
    #expect(abs(store.gradNorm() - 1) < 1e-5)
    #expect(abs(a.grad![0] - 0.6) < 1e-5 && abs(b.grad![0] - 0.8) < 1e-5)
    #expect(abs(store.clipGradNorm(10) - 1) < 1e-5)  // below the limit: untouched
    #expect(abs(a.grad![0] - 0.6) < 1e-5)
  }

  /// Per-group clipping: each group is bounded on its own; a group under the limit is untouched
  /// however large another group's gradient is.
  @Test func clipGradNormPerGroup() {
    let store = ParameterStore()
    let a = store.zeros("big.w", [2]), b = store.zeros("big.b", [1]), c = store.zeros("small.w", [1])
    a.grad = [30, 0]
    b.grad = [40]
    c.grad = [0.05]
    store.clipGradNorm(0.1, groupedBy: { String($0.split(separator: ".")[0]) })
    #expect(abs(a.grad![0] - 0.06) < 1e-6 && abs(b.grad![0] - 0.08) < 1e-6)
    #expect(c.grad![0] == 0.05)
    // The global clip would have scaled the small group by 0.1 / 50.
    c.grad = [0.05]; a.grad = [30, 0]; b.grad = [40]
    store.clipGradNorm(0.1)
    #expect(abs(c.grad![0] - 0.0001) < 1e-7)
  }

  @Test func stepLR() {
    let s = StepLR(baseRate: 1e-4, stepSize: 800, gamma: 0.1)
    #expect(s.rate(epoch: 0) == 1e-4)
    #expect(s.rate(epoch: 799) == 1e-4)
    #expect(abs(s.rate(epoch: 800) - 1e-5) < 1e-12)
  }

  @Test func optimizerStateRoundTrip() throws {
    var rng = RNG(seed: 3)
    func make() -> (ParameterStore, AdamW) {
      let s = ParameterStore()
      s.add("w", Tensor(shape: [3], data: [0.5, -1, 2]))
      return (s, AdamW(params: s, learningRate: 0.1))
    }
    let (s1, o1) = make(), (s2, o2) = make()
    for _ in 0..<3 { s1["w"]!.grad = (0..<3).map { _ in rng.normal() }; o1.step() }
    s2["w"]!.assign(s1["w"]!.data)
    try o2.loadStateDict(o1.stateDict())
    let g: [Float] = [0.3, -0.2, 0.1]
    s1["w"]!.grad = g; s2["w"]!.grad = g
    o1.step(); o2.step()
    #expect(s1["w"]!.data == s2["w"]!.data)
    #expect(o2.stepCount == 4)
    #expect(throws: OptimizerStateError.self) { try o2.loadStateDict(["__step__": [1], "w.exp_avg": [1, 2]]) }
  }

  @Test func svdKnownValues() throws {
    let s = try LinearAlgebra.svd([3, 0, 0, 4], rows: 2, cols: 2).s
    #expect(s == [4, 3])
    // A = U·diag(S)·Vᵀ reconstructs a random matrix.
    let a = randn([5, 3], seed: 4).data
    let (u, sv, vt) = try LinearAlgebra.svd(a, rows: 5, cols: 3)
    var rec = [Float](repeating: 0, count: 15)
    for r in 0..<5 { for c in 0..<3 { for i in 0..<3 { rec[r * 3 + c] += u[r * 3 + i] * sv[i] * vt[i * 3 + c] } } }
    expectClose(rec, a, "U·S·Vᵀ")
  }

  @Test func symmetricEigen() throws {
    let (values, vectors) = try LinearAlgebra.symmetricEigen([2, 1, 1, 2], n: 2)
    expectClose(values, [1, 3], "eigenvalues")
    // Row 1 (eigenvalue 3) is ±(1, 1)/√2.
    #expect(abs(abs(vectors[2]) - 0.70710677) < 1e-5 && abs(vectors[2] - vectors[3]) < 1e-5)
  }

  @Test func rngIsReproducibleAndPermutes() {
    var a = RNG(seed: 42), b = RNG(seed: 42), c = RNG(seed: 43)
    let xs = (0..<5).map { _ in a.next() }
    #expect(xs == (0..<5).map { _ in b.next() })
    #expect(xs != (0..<5).map { _ in c.next() })
    var p = RNG(seed: 1)
    #expect(p.permutation(50).sorted() == Array(0..<50))
    var n = RNG(seed: 2)
    let normals = (0..<20000).map { _ in n.normal() }
    let mean = normals.reduce(0, +) / 20000
    let variance = normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20000
    #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
  }

  @Test func counterDrawsMatchSequentialDraws() {
    var seq = RNG(seed: 9)
    let start = seq
    let drawn = (0..<100).map { _ in seq.uniform() }
    #expect((0..<100).map { start.uniform(at: $0) } == drawn)
    #expect(start.advanced(by: 100) == seq)
    // Reserved draws: one stream in order, or chunk b of a batch-major tensor from stream b.
    var one = RNG(seed: 3), copy = one
    let reserved = one.uniformDraws(30)
    #expect((0..<30).map { reserved[$0] } == (0..<30).map { _ in copy.uniform() })
    #expect(one == copy)
    var streams = SampleStreams([RNG(seed: 1), RNG(seed: 2), RNG(seed: 3)])
    var separate = streams.streams
    let draws = streams.uniformDraws(12)
    var expected: [Float] = []
    for s in 0..<3 { for _ in 0..<4 { expected.append(separate[s].uniform()) } }
    #expect((2..<12).map { draws[$0] } == Array(expected[2...]))
    #expect(streams.streams == separate)
  }

  /// The vector draws and dropout factors give the scalar ones' bits: 8 lanes at any offset, and
  /// factors over ranges that start, end and cross stream chunks anywhere (3 streams of 37).
  @Test func laneDrawsMatchScalarDraws() {
    let rng = RNG(seed: 12)
    for i in [0, 1, 7, 1000] {
      let lanes = rng.uniforms8(at: i)
      #expect((0..<8).map { lanes[$0].bitPattern } == (0..<8).map { rng.uniform(at: i + $0).bitPattern })
    }
    var streams = SampleStreams([RNG(seed: 4), RNG(seed: 5), RNG(seed: 6)])
    let draws = streams.uniformDraws(111)
    for p: Float in [0.1, 0.5] {
      for range in [0..<111, 3..<40, 37..<74, 70..<71, 9..<17] {
        var out = [Float](repeating: -1, count: range.count)
        out.withUnsafeMutableBufferPointer { draws.dropoutFactors(in: range, p: p, into: $0.baseAddress!) }
        #expect(out.map(\.bitPattern) == range.map { Tensor.dropoutFactor(draws[$0], p).bitPattern }, "p \(p), range \(range)")
      }
    }
  }

  /// GEMMs split among threads give the bits of one unsplit call, for every transpose, for
  /// sizes that do not divide evenly, and for alpha 1 and beta 0 (OpenBLAS's "direct" path).
  @Test func splitGEMMIsBitIdenticalToOneCall() {
    #expect(GEMMPartition.parts(m: 64, n: 64, k: 64, threads: 4) == 1)
    #expect(GEMMPartition.parts(m: 1000, n: 300, k: 200, threads: 4) == 4)
    #expect(GEMMPartition.parts(m: 1000, n: 300, k: 30, threads: 4) == 1)  // 9 M: not split
    #expect((0...3).map { GEMMPartition.boundary($0, of: 3, extent: 1000) } == [0, 320, 640, 1000])
    var rng = RNG(seed: 4)
    for (m, n, k) in [(333, 97, 700), (70, 515, 640), (1000, 300, 200), (1000, 301, 70)] {
      for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        for (alpha, beta): (Float, Float) in [(0.7, 0.5), (1, 0)] {
          let a = (0..<(m * k)).map { _ in rng.uniform(-1, 1) }, b = (0..<(k * n)).map { _ in rng.uniform(-1, 1) }
          let c0 = (0..<(m * n)).map { _ in rng.uniform(-1, 1) }
          func product(threads: Int) -> [Float] {
            var c = c0
            Threading.withThreads(threads) {
              sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: &c)
            }
            return c
          }
          let one = product(threads: 1)
          #expect(GEMMPartition.parts(m: m, n: n, k: k, threads: 8) > 1)
          #expect(one == product(threads: 8), "m \(m) n \(n) k \(k) transA \(ta) transB \(tb) alpha \(alpha) beta \(beta)")
        }
      }
    }
  }

  @Test func parallelForVisitsEveryIndexOnce() {
    var hits = [Int](repeating: 0, count: 1000)
    hits.withUnsafeMutableBufferPointer { h in
      Threading.parallelFor(1000, grain: 7) { r in for i in r { h[i] += 1 } }
    }
    #expect(hits.allSatisfy { $0 == 1 })
  }

  @Test func parallelMapKeepsOrderAndRethrowsTheLowestIndexError() throws {
    struct Boom: Error, Equatable { let i: Int }
    #expect(try Threading.parallelMap(100) { $0 * $0 } == (0..<100).map { $0 * $0 })
    #expect(throws: Boom(i: 3)) { try Threading.parallelMap(50) { i in if i % 10 == 3 { throw Boom(i: i) }; return i } }
  }

  @Test func backwardIsBitIdenticalAcrossRuns() {
    func run() -> [Float] {
      let x = randn([2, 3, 8, 8], seed: 9), w = randn([4, 3, 3, 3], seed: 10)
      x.requiresGrad = true; w.requiresGrad = true
      let y = Tensor.conv2d(x, weight: w, bias: nil, padding: Padding2d(1)).relu()
      let t = y.reshaped([2, 4, 64]).transposed()
      Tensor.attention(q: t, k: t, v: t, heads: 2).sum().backward()
      return w.grad! + x.grad!
    }
    #expect(run() == run())
  }

  @Test func noGradModeRecordsNothing() {
    let x = randn([3], seed: 1)
    x.requiresGrad = true
    let y = GradMode.withoutGrad { (x * 2).sum() }
    #expect(!y.requiresGrad)
    #expect(GradMode.isEnabled)
  }

  @Test func openBLASCoreTypeFromFlags() {
    #expect(NativeTuning.preferredCoreType(cpuFlags: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx2", "fma"]) == "SkylakeX")
    #expect(NativeTuning.preferredCoreType(cpuFlags: ["avx2", "fma", "avx"]) == "Haswell")
    #expect(NativeTuning.preferredCoreType(cpuFlags: ["sse4_2"]) == nil)
  }
}
