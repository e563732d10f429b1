import Foundation

/// Where a training step's time goes, per op name. Forward time of an op is the time since the
/// previous op was recorded (ops run one after another, so that is its own compute, plus any
/// unrecorded glue before it); backward time is its closure's. Off unless a measurement runs,
/// so the hot path pays one branch.
public enum OpProfiler {
  public struct Entry: Sendable {
    public var forward: Double = 0, backward: Double = 0, calls = 0
    /// FLOPs the op's kernels counted, forward and backward (see `FLOPCounter`).
    public var flops = 0
    public var total: Double { forward + backward }
    public var gflops: Double { total > 0 ? Double(flops) / total / 1e9 : 0 }
  }

  nonisolated(unsafe) public static var isOn = false
  nonisolated(unsafe) public private(set) static var entries: [String: Entry] = [:]
  nonisolated(unsafe) static var last: UInt64 = 0
  nonisolated(unsafe) static var lastFLOPs = 0

  static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

  /// Profiles `body` (single-threaded callers); entries sorted by total time, largest first.
  /// FLOPs are counted too, so each op's achieved GFLOP/s can be reported.
  public static func measure(_ body: () throws -> Void) rethrows -> [(op: String, entry: Entry)] {
    entries = [:]
    isOn = true
    lastFLOPs = 0
    last = now()
    defer { isOn = false }
    _ = try FLOPCounter.measure(body)
    return entries.sorted { $0.value.total > $1.value.total }.map { ($0.key, $0.value) }
  }

  static func forwardDone(_ op: String) {
    let t = now()
    entries[op, default: Entry()].forward += Double(t - last) / 1e9
    entries[op, default: Entry()].calls += 1
    entries[op, default: Entry()].flops += takeFLOPs()
    last = t
  }

  static func timeBackward(_ op: String, _ body: () -> Void) {
    let t0 = now()
    body()
    let t1 = now()
    entries[op, default: Entry()].backward += Double(t1 - t0) / 1e9
    entries[op, default: Entry()].flops += takeFLOPs()
    last = t1
  }

  /// FLOPs counted since the previous call.
  static func takeFLOPs() -> Int {
    let total = FLOPCounter.total
    defer { lastFLOPs = total }
    return total - lastFLOPs
  }
}
