import Foundation

/// Where a training step's time goes, per op name. Forward time of an op is the time since the
/// previous op was recorded (ops run one after another, so that is its own compute, plus any
/// unrecorded glue before it); backward time is its closure's. Off unless a measurement runs,
/// so the hot path pays one branch.
public enum OpProfiler {
  public struct Entry: Sendable {
    public var forward: Double = 0, backward: Double = 0, calls = 0
    public var total: Double { forward + backward }
  }

  nonisolated(unsafe) public static var isOn = false
  nonisolated(unsafe) public private(set) static var entries: [String: Entry] = [:]
  nonisolated(unsafe) static var last: UInt64 = 0

  static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

  /// Profiles `body` (single-threaded callers); entries sorted by total time, largest first.
  public static func measure(_ body: () throws -> Void) rethrows -> [(op: String, entry: Entry)] {
    entries = [:]
    isOn = true
    last = now()
    defer { isOn = false }
    try body()
    return entries.sorted { $0.value.total > $1.value.total }.map { ($0.key, $0.value) }
  }

  static func forwardDone(_ op: String) {
    let t = now()
    entries[op, default: Entry()].forward += Double(t - last) / 1e9
    entries[op, default: Entry()].calls += 1
    last = t
  }

  static func timeBackward(_ op: String, _ body: () -> Void) {
    let t0 = now()
    body()
    let t1 = now()
    entries[op, default: Entry()].backward += Double(t1 - t0) / 1e9
    last = t1
  }
}
