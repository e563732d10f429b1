import Foundation

/// What data-parallel training needs from its process group (SPEC §9). The training loop cannot
/// tell `MPICommunicator` from `LocalCommunicator`.
public protocol Communicator: AnyObject {
  var rank: Int { get }
  var size: Int { get }
  /// Ranks on this node (threads per rank = cores / localSize).
  var localSize: Int { get }
  func barrier()
  /// Element-wise sum over all ranks, in place, bit-identical on every rank. For power-of-two
  /// world sizes the sum is the balanced pairwise tree over rank order, ((r0+r1)+(r2+r3))…,
  /// which one process reproduces with `PairwiseSum` (how N ranks match one rank exactly).
  func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>)
  /// The same sum, started and returned in flight (the buffer must stay put until it is
  /// finished); `tag` (0..<1024) tells concurrent reductions apart.
  func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, tag: Int) -> PendingReduction
  /// Rank `root`'s bytes on every rank (any length; sent in chunks).
  func broadcast(_ bytes: inout [UInt8], root: Int)
  /// Every rank's bytes (any length each) on `root`, in rank order; nil on the other ranks.
  func gather(_ bytes: [UInt8], root: Int) -> [[UInt8]]?
  /// Ends every rank of the job (a dead rank cannot be survived with OpenMPI 4).
  func abort(code: Int32) -> Never
}

extension Communicator {
  public var isCoordinator: Bool { rank == 0 }

  public func allReduceSum(_ buffer: inout [Float]) {
    buffer.withUnsafeMutableBufferPointer { allReduceSum($0) }
  }

  /// Every rank's bytes on every rank, in rank order.
  public func allGather(_ bytes: [UInt8]) -> [[UInt8]] {
    let parts = gather(bytes, root: 0)
    var lengths = (parts ?? []).map { UInt64($0.count) }
    var header = lengths.withUnsafeBytes { [UInt8]($0) }
    broadcast(&header, root: 0)
    lengths = header.withUnsafeBytes { Array($0.bindMemory(to: UInt64.self)) }
    var body = (parts ?? []).flatMap { $0 }
    broadcast(&body, root: 0)
    var out: [[UInt8]] = [], offset = 0
    for n in lengths.map(Int.init) {
      out.append(Array(body[offset..<(offset + n)]))
      offset += n
    }
    return out
  }

  /// Every rank's floats on every rank, in rank order.
  public func allGather(floats: [Float]) -> [[Float]] {
    allGather(floats.withUnsafeBytes { [UInt8]($0) }).map { b in b.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
  }

  /// What rank 0 decided, on every rank: `decide` runs on rank 0 only, and its value (as JSON) or
  /// its error (as text) is broadcast in one message; every rank returns the value or throws
  /// `CoordinatedFailure` with rank 0's message (the idea of torch.distributed's
  /// broadcast_object_list). Rank 0 decides alone what needs the filesystem or a choice, so
  /// every rank goes on with the same answer or stops with the same error.
  public func coordinated<T: Codable>(_ decide: () throws -> T) throws -> T {
    var message: [UInt8] = []
    if isCoordinator {
      do { message = [0] + (try JSONEncoder().encode(decide())) } catch { message = [1] + Array("\(error)".utf8) }
    }
    broadcast(&message, root: 0)
    guard message.first == 0 else { throw CoordinatedFailure(description: String(decoding: message.dropFirst(), as: UTF8.self)) }
    do { return try JSONDecoder().decode(T.self, from: Data(message.dropFirst())) } catch {
      throw CoordinatedFailure(description: "rank \(rank): cannot decode rank 0's decision (\(error))")
    }
  }

  /// A value decoded on every rank from rank 0's encoding.
  public func broadcastString(_ s: String) -> String {
    var bytes = Array(s.utf8)
    broadcast(&bytes, root: 0)
    return String(decoding: bytes, as: UTF8.self)
  }
}

/// Rank 0's error in `coordinated`, as every rank sees it.
public struct CoordinatedFailure: Error, CustomStringConvertible {
  public let description: String
}

/// A reduction in flight: `test` advances it without blocking, `wait` completes it.
public protocol PendingReduction: AnyObject {
  /// Whether it has finished (making what progress it can).
  func test() -> Bool
  func wait()
}

/// Nothing to wait for (a world of one).
final class FinishedReduction: PendingReduction {
  func test() -> Bool { true }
  func wait() {}
}

/// A world of one process: no MPI runtime needed (laptops, tests, `iumad` without mpirun).
public final class LocalCommunicator: Communicator {
  public init() {}
  public var rank: Int { 0 }
  public var size: Int { 1 }
  public var localSize: Int { 1 }
  public func barrier() {}
  public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {}
  public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, tag: Int) -> PendingReduction { FinishedReduction() }
  public func broadcast(_ bytes: inout [UInt8], root: Int) {}
  public func gather(_ bytes: [UInt8], root: Int) -> [[UInt8]]? { [bytes] }
  public func abort(code: Int32) -> Never { exit(code) }
}
