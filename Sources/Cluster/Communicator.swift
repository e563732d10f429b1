import Foundation

/// What data-parallel training needs from its process group (SPEC §9). The training loop cannot
/// tell `MPICommunicator` from `LocalCommunicator`.
public protocol Communicator: AnyObject {
  var rank: Int { get }
  var size: Int { get }
  /// Ranks on this node (threads per rank = cores / localSize).
  var localSize: Int { get }
  func barrier()
  /// Element-wise sum over all ranks, in place, identical on every rank.
  func allReduceSum(_ buffer: inout [Float])
  /// Rank `root`'s bytes on every rank (any length; sent in chunks).
  func broadcast(_ bytes: inout [UInt8], root: Int)
  /// Every rank's bytes (any length each) on `root`, in rank order; nil on the other ranks.
  func gather(_ bytes: [UInt8], root: Int) -> [[UInt8]]?
  /// Ends every rank of the job (a dead rank cannot be survived with OpenMPI 4).
  func abort(code: Int32) -> Never
}

extension Communicator {
  public var isCoordinator: Bool { rank == 0 }

  /// A value decoded on every rank from rank 0's encoding.
  public func broadcastString(_ s: String) -> String {
    var bytes = Array(s.utf8)
    broadcast(&bytes, root: 0)
    return String(decoding: bytes, as: UTF8.self)
  }
}

/// A world of one process: no MPI runtime needed (laptops, tests, `iumad` without mpirun).
public final class LocalCommunicator: Communicator {
  public init() {}
  public var rank: Int { 0 }
  public var size: Int { 1 }
  public var localSize: Int { 1 }
  public func barrier() {}
  public func allReduceSum(_ buffer: inout [Float]) {}
  public func broadcast(_ bytes: inout [UInt8], root: Int) {}
  public func gather(_ bytes: [UInt8], root: Int) -> [[UInt8]]? { [bytes] }
  public func abort(code: Int32) -> Never { exit(code) }
}
