/// One recorded op: the inputs it read and how to push the output's gradient back into them.
final class Node {
  let op: String
  let parents: [Tensor]
  /// Receives the gradient of the output and accumulates into the parents that require grad.
  let backward: ([Float]) -> Void

  init(op: String, parents: [Tensor], backward: @escaping ([Float]) -> Void) {
    self.op = op
    self.parents = parents
    self.backward = backward
  }
}

/// Whether ops record the graph. Evaluation runs without it (no closures, no saved activations).
/// Task-local, so concurrent tasks (parallel tests, an evaluation beside training) cannot switch
/// it off for each other.
public enum GradMode {
  @TaskLocal public static var isEnabled = true

  public static func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
    try $isEnabled.withValue(false) { try body() }
  }
}

extension Tensor {
  /// Attaches `backward` to `out` when any input needs a gradient and grad mode is on.
  /// Returns `out` so ops can end with `return record(...)`.

  @discardableResult
  public static func record(
    _ out: Tensor, op: String, _ parents: [Tensor], _ backward: @escaping ([Float]) -> Void
  ) -> Tensor {
    if OpProfiler.isOn { OpProfiler.forwardDone(op) }
    guard GradMode.isEnabled, parents.contains(where: { $0.requiresGrad }) else { return out }
    out.requiresGrad = true
    out.node = Node(op: op, parents: parents, backward: backward)
    return out
  }

  /// Reverse-mode pass from this tensor. A scalar seeds with 1; otherwise pass `seed` (same size).
  /// Afterwards the graph is released and only leaf tensors keep their `grad`.
  /// `leafReady` is called for each leaf that requires grad as soon as every op reading it has
  /// pushed its gradient (its `grad` is final): lets a caller start sending gradients while
  /// the rest of the backward runs.
  public func backward(seed: [Float]? = nil, leafReady: ((Tensor) -> Void)? = nil) {
    if let seed {
      check(seed.count == count, "backward: seed has \(seed.count) values for tensor of shape \(shape)")
      accumulateGrad { g in for i in 0..<g.count { g[i] += seed[i] } }
    } else {
      check(count == 1, "backward: tensor of shape \(shape) is not a scalar; pass a seed")
      accumulateGrad { g in g[0] += 1 }
    }
    let order = topologicalOrder()
    // Per leaf, how many recorded ops still have to push into it.
    var pending: [ObjectIdentifier: Int] = [:]
    func leaves(_ node: Node) -> [Tensor] {
      var seen = Set<ObjectIdentifier>()
      return node.parents.filter { $0.node == nil && $0.requiresGrad && seen.insert(ObjectIdentifier($0)).inserted }
    }
    if leafReady != nil {
      for t in order { if let node = t.node { for l in leaves(node) { pending[ObjectIdentifier(l), default: 0] += 1 } } }
    }
    for t in order.reversed() {
      guard let node = t.node else { continue }
      if let g = t.grad {
        if OpProfiler.isOn { OpProfiler.timeBackward(node.op) { node.backward(g) } } else { node.backward(g) }
      }
      if let leafReady {
        for l in leaves(node) {
          let id = ObjectIdentifier(l)
          pending[id]! -= 1
          if pending[id] == 0 { leafReady(l) }
        }
      }
      // Free the graph as we go: activations held by closures are released right away.
      t.node = nil
      t.grad = nil
    }
  }

  /// Nodes reachable from self, parents before children (iterative DFS: graphs can be deep).
  func topologicalOrder() -> [Tensor] {
    var order: [Tensor] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(Tensor, Bool)] = [(self, false)]
    while let (t, expanded) = stack.popLast() {
      if expanded { order.append(t); continue }
      let id = ObjectIdentifier(t)
      if visited.contains(id) { continue }
      visited.insert(id)
      stack.append((t, true))
      if let node = t.node {
        for p in node.parents where p.node != nil && !visited.contains(ObjectIdentifier(p)) {
          stack.append((p, false))
        }
      }
    }
    return order
  }
}
