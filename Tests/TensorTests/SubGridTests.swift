import Testing

@testable import Tensor
import TestSupport

/// The pieces that let ES2D read its four sub-grids in place: a linear layer over one sub-grid's
/// tokens, and scans that walk routes through a shared u and write one merged y.
@Suite("Sub-grids read in place")
struct SubGridTests {
  let offsets = [(0, 0), (0, 1), (1, 0), (1, 1)]

  /// A sub-grid's tokens in its own order, the way a gather would take them.
  func tokens(_ sub: SubGrid) -> [Int] { (0..<sub.side).flatMap { i in (0..<sub.side).map { sub.token(i, $0) } } }

  @Test func tokensAndPositionsAreInverse() {
    for g in [2, 6, 28] {
      let subs = offsets.map { SubGrid(grid: g, rowOffset: $0.0, columnOffset: $0.1) }
      #expect(subs.flatMap(tokens).sorted() == Array(0..<(g * g)), "the four sub-grids partition a \(g)×\(g) grid")
      for sub in subs { #expect(tokens(sub).map(sub.position(ofToken:)) == Array(0..<sub.count)) }
    }
    #expect(tokens(SubGrid(grid: 4, rowOffset: 1, columnOffset: 0)) == [4, 6, 12, 14])
  }

  /// 70 input features: ∂W in two column blocks, the second partial.
  @Test func linearMatchesGatherThenLinear() {
    let inputs = [randn([2, 36, 70], seed: 41), randn([9, 70], seed: 42, std: 0.2)]
    for (oy, ox) in offsets {
      let sub = SubGrid(grid: 6, rowOffset: oy, columnOffset: ox)
      let inPlace = FusedKernelTests().run(inputs) { Tensor.linear($0[0], weight: $0[1], on: sub) }
      let gathered = FusedKernelTests().run(inputs) { Tensor.linear($0[0].select(axis: 1, tokens(sub)), weight: $0[1], bias: nil) }
      expectClose(inPlace.0, gathered.0, "output, offset (\(oy), \(ox))")
      expectClose(inPlace.1[0], gathered.1[0], "dx, offset (\(oy), \(ox))")
      expectClose(inPlace.1[1], gathered.1[1], "dW, offset (\(oy), \(ox))")
      // Tokens of the other sub-grids get no gradient.
      let others = Set(0..<36).subtracting(tokens(sub))
      #expect(others.allSatisfy { t in (0..<70).allSatisfy { inPlace.1[0][(36 + t) * 70 + $0] == 0 } })
    }
  }

  @Test func linearMatchesFiniteDifferences() {
    let sub = SubGrid(grid: 4, rowOffset: 1, columnOffset: 1)
    checkGradient("linear on a sub-grid", [randn([2, 16, 5], seed: 43), randn([3, 5], seed: 44)], eps: 1e-3) {
      Tensor.linear($0[0], weight: $0[1], on: sub)
    }
  }

  @Test func linearDoesNotDependOnThreadCount() {
    let inputs = [randn([3, 64, 150], seed: 45), randn([40, 150], seed: 46, std: 0.1)]
    func run(_ threads: Int) -> [Float] {
      Threading.withThreads(threads) {
        let (y, grads) = FusedKernelTests().run(inputs) { Tensor.linear($0[0], weight: $0[1], on: SubGrid(grid: 8, rowOffset: 0, columnOffset: 1)) }
        return y + grads.flatMap { $0 }
      }
    }
    #expect(run(1) == run(3))
  }

  /// Four directions over a 4×4 grid, each reading one sub-grid's tokens in a shuffled order and
  /// its Δ, B, C in another, and as many scans of gathered copies merged back (the way ES2D ran
  /// before): the same arithmetic on the same values, so the same bits, gradients included.
  @Test(arguments: [false, true]) func routedDirectionsMatchGatherScanScatter(softplus: Bool) {
    let (bs, g, e, n) = (2, 4, 11, 3)
    let len = g * g / 4
    var rng = RNG(seed: 47)
    let routes = offsets.map { (oy, ox) -> ScanRoute in
      let sub = SubGrid(grid: g, rowOffset: oy, columnOffset: ox)
      return ScanRoute(tokens: rng.permutation(len).map { tokens(sub)[$0] }, steps: rng.permutation(len))
    }
    var inputs = [randn([bs, g * g, e], seed: 48)]
    for k in 0..<4 {
      let delta = Tensor(uniform: [bs, len, e], 0.05, 0.6, rng: &rng)
      inputs += [softplus ? delta * 10 - 6 : delta, Tensor(uniform: [e, n], -2, -0.2, rng: &rng),
                 randn([bs, len, n], seed: 50 + UInt64(k)), randn([bs, len, n], seed: 60 + UInt64(k)), randn([e], seed: 70 + UInt64(k))]
    }
    func parts(_ xs: [Tensor], _ k: Int) -> [Tensor] { Array(xs[(1 + 5 * k)..<(6 + 5 * k)]) }
    let routed = FusedKernelTests().run(inputs) { xs in
      Tensor.selectiveScan(u: xs[0], directions: (0..<4).map { k in
        let p = parts(xs, k)
        return ScanDirection(delta: p[0], a: p[1], b: p[2], c: p[3], d: p[4], route: routes[k])
      }, deltaSoftplus: softplus)
    }
    let merged = FusedKernelTests().run(inputs) { xs in
      let ys = (0..<4).map { k in
        let p = parts(xs, k), steps = routes[k].steps
        return Tensor.selectiveScan(u: xs[0].select(axis: 1, routes[k].tokens), delta: p[0].select(axis: 1, steps), a: p[1],
                                    b: p[2].select(axis: 1, steps), c: p[3].select(axis: 1, steps), d: p[4], deltaSoftplus: softplus)
      }
      let order = routes.flatMap(\.tokens)
      let inverse = (0..<(g * g)).map { t in order.firstIndex(of: t)! }
      return Tensor.concat(ys, axis: 1).select(axis: 1, inverse)
    }
    #expect(routed.0 == merged.0, "y, softplus \(softplus)")
    for (i, (a, b)) in zip(routed.1, merged.1).enumerated() { #expect(a == b, "gradient of input \(i), softplus \(softplus)") }
  }

  /// A direction that reads only some tokens leaves y and ∂u zero at the others.
  @Test func partialRoutesLeaveOtherTokensZero() {
    let u = randn([2, 10, 4], seed: 81)
    var rng = RNG(seed: 82)
    let route = ScanRoute(tokens: [7, 2, 5], steps: [2, 0, 1])
    let xs = [u, Tensor(uniform: [2, 3, 4], 0.05, 0.6, rng: &rng), Tensor(uniform: [4, 2], -2, -0.2, rng: &rng),
              randn([2, 3, 2], seed: 83), randn([2, 3, 2], seed: 84), randn([4], seed: 85)]
    let (y, grads) = FusedKernelTests().run(xs) {
      Tensor.selectiveScan(u: $0[0], directions: [ScanDirection(delta: $0[1], a: $0[2], b: $0[3], c: $0[4], d: $0[5], route: route)])
    }
    for bi in 0..<2 {
      for t in 0..<10 {
        let row = (bi * 10 + t) * 4
        let read = route.tokens.contains(t)
        #expect(y[row..<(row + 4)].contains { $0 != 0 } == read, "y at token \(t)")
        #expect(grads[0][row..<(row + 4)].contains { $0 != 0 } == read, "du at token \(t)")
      }
    }
    checkGradient("routed scan", xs, eps: 1e-3) {
      Tensor.selectiveScan(u: $0[0], directions: [ScanDirection(delta: $0[1], a: $0[2], b: $0[3], c: $0[4], d: $0[5], route: route)],
                           deltaSoftplus: true)
    }
  }

  @Test func routedScanDoesNotDependOnThreadCount() {
    var rng = RNG(seed: 86)
    let halves = [ScanRoute(tokens: Array(stride(from: 0, to: 40, by: 2)), steps: rng.permutation(20)),
                  ScanRoute(tokens: Array(stride(from: 39, to: 0, by: -2)), steps: Array(0..<20))]
    var xs = [randn([3, 40, 13], seed: 87)]
    for k in 0..<2 {
      xs += [Tensor(uniform: [3, 20, 13], 0.05, 0.6, rng: &rng), Tensor(uniform: [13, 5], -2, -0.2, rng: &rng),
             randn([3, 20, 5], seed: 88 + UInt64(k)), randn([3, 20, 5], seed: 90 + UInt64(k)), randn([13], seed: 92 + UInt64(k))]
    }
    func run(_ threads: Int) -> [Float] {
      Threading.withThreads(threads) {
        let (y, grads) = FusedKernelTests().run(xs) { xs in
          Tensor.selectiveScan(u: xs[0], directions: (0..<2).map { k in
            ScanDirection(delta: xs[1 + 5 * k], a: xs[2 + 5 * k], b: xs[3 + 5 * k], c: xs[4 + 5 * k], d: xs[5 + 5 * k], route: halves[k])
          })
        }
        return y + grads.flatMap { $0 }
      }
    }
    #expect(run(1) == run(4))
  }
}
