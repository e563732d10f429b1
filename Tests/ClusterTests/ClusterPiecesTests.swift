import Testing

@testable import Cluster
@testable import Tensor

/// The pieces that make N ranks reproduce one rank bit for bit, on a world of one (the mpirun
/// runs in CLITests check them across real ranks).
@Suite("Cluster: pairwise sums, the reducer, sharding and coordinated decisions")
struct ClusterPiecesTests {
  /// Sharded evaluation deals whole batches round-robin: every item exactly once, and one
  /// rank's gather returns each item's values in item order.
  @Test func shardedBatchesCoverEveryItemOnceAndGatherInOrder() throws {
    let three = ShardedBatches(count: 10, batchSize: 3, worldSize: 3)
    #expect(three.owned(by: 0) == [0, 1, 2, 9] && three.owned(by: 1) == [3, 4, 5] && three.owned(by: 2) == [6, 7, 8])
    let one = ShardedBatches(count: 5, batchSize: 2, worldSize: 1)
    let values = (0..<5).flatMap { [Float($0), Float($0) * 10] }
    #expect(one.gather(values, width: 2, over: LocalCommunicator()) == (0..<5).map { [Float($0), Float($0) * 10] })
  }

  @Test func pairwiseSumIsTheBalancedTree() {
    let xs: [[Float]] = (0..<7).map { i in (0..<5).map { Float(i) * 0.1 + Float($0) * 1e-7 + 1 / Float(i + 3) } }
    func add(_ a: [Float], _ b: [Float]) -> [Float] { zip(a, b).map { $0 + $1 } }
    var four = PairwiseSum()
    for x in xs.prefix(4) { four.add(x) }
    #expect(four.total() == add(add(xs[0], xs[1]), add(xs[2], xs[3])))
    // Missing leaves count as zeros: 7 leaves sum as the perfect tree of 8.
    var seven = PairwiseSum()
    for x in xs { seven.add(x) }
    #expect(seven.total() == add(add(add(xs[0], xs[1]), add(xs[2], xs[3])), add(add(xs[4], xs[5]), xs[6])))
    #expect(PairwiseSum().total() == nil)
  }

  /// Three micro-batches through the reducer: each parameter's gradient and each loss slot is the
  /// pairwise-tree sum ((g0 + g1) + g2) of the micro-batches', whether the last backward hands
  /// its gradients over through the ready hook (in any order) or not at all; small buckets
  /// change nothing.
  @Test func reducerSumsMicroBatchesAsThePairwiseTree() {
    let shapes = [[3], [2, 2], [5]]
    func grads(_ m: Int) -> [[Float]] { shapes.enumerated().map { i, s in (0..<s.reduce(1, *)).map { Float(m * 100 + i * 10 + $0) * 0.37 + 1 / Float(m + 2) } } }
    let losses: [[Float]] = [[1.5, 0.25], [2.5, 0.125], [0.75, 4]]
    func expected(_ a: [Float], _ b: [Float], _ c: [Float]) -> [Float] { zip(zip(a, b).map { $0 + $1 }, c).map { $0 + $1 } }
    for (bucket, hookOrder) in [(1 << 20, [2, 0, 1]), (3, [0, 1, 2]), (4, [])] {
      let params = shapes.map { Tensor(zeros: $0) }
      let reducer = GradientReducer(communicator: LocalCommunicator(), parameters: params, lossCount: 2, bucketElements: bucket)
      for m in 0..<3 {
        reducer.backward(isLast: m == 2, losses: losses[m]) { ready in
          for (i, g) in grads(m).enumerated() { params[i].grad = g }
          for i in hookOrder { ready?(params[i]) }
        }
      }
      let summed = reducer.finish()
      #expect(summed == expected(losses[0], losses[1], losses[2]), "bucket \(bucket)")
      for i in shapes.indices {
        #expect(params[i].grad == expected(grads(0)[i], grads(1)[i], grads(2)[i]), "bucket \(bucket), parameter \(i)")
      }
    }
  }

  struct Decision: Codable, Equatable { var step: Int; var path: String }
  struct Refusal: Error, CustomStringConvertible { var description: String { "run directory holds another run" } }

  @Test func coordinatedDecisionsCarryValuesAndErrors() throws {
    let comm = LocalCommunicator()
    #expect(try comm.coordinated { Decision(step: 3, path: "ckpt-003") } == Decision(step: 3, path: "ckpt-003"))
    do {
      _ = try comm.coordinated { () throws -> Decision in throw Refusal() }
      Issue.record("rank 0's error must reach the caller")
    } catch let failure as CoordinatedFailure {
      #expect(failure.description == "run directory holds another run")
    }
    #expect(comm.allGather(floats: [1, 2]) == [[1, 2]] && comm.broadcastString("x") == "x")
  }
}
