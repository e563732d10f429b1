import CMPI
import Foundation
import Tensor

/// OpenMPI-backed communicator over MPI_COMM_WORLD. Created once per process; MPI is finalised
/// when it is released (or by `abort`).
public final class MPICommunicator: Communicator {
  public let rank: Int
  public let size: Int
  public let localSize: Int
  /// Largest single MPI message: counts are Int32 in the C API.
  static let chunk = 1 << 30

  /// Whether this process is one rank of an MPI job: started by mpirun (OpenMPI sets
  /// OMPI_COMM_WORLD_SIZE) or by a PMIx/PMI launcher such as `srun --mpi=pmix`.
  public static var launchedByMPIRun: Bool {
    let env = ProcessInfo.processInfo.environment
    return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains { env[$0] != nil }
  }

  public init() {
    var provided: Int32 = 0
    MPI_Init_thread(nil, nil, iumad_mpi_thread_funneled(), &provided)
    var r: Int32 = 0, s: Int32 = 0
    MPI_Comm_rank(iumad_comm_world(), &r)
    MPI_Comm_size(iumad_comm_world(), &s)
    rank = Int(r)
    size = Int(s)
    localSize = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
  }

  deinit { MPI_Finalize() }

  public func barrier() { MPI_Barrier(iumad_comm_world()) }

  public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
    guard size > 1, !buffer.isEmpty else { return }
    var offset = 0
    while offset < buffer.count {
      let n = min(Self.chunk / 4, buffer.count - offset)
      startAllReduceSum(UnsafeMutableBufferPointer(rebasing: buffer[offset..<(offset + n)]), tag: 0).wait()
      offset += n
    }
  }

  public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, tag: Int) -> PendingReduction {
    check(buffer.count <= Self.chunk / 4 && (0..<1024).contains(tag), "allReduceSum: \(buffer.count) floats, tag \(tag) out of range")
    guard size > 1, !buffer.isEmpty else { return FinishedReduction() }
    if size & (size - 1) == 0 { return RankOrderedReduction(buffer, rank: rank, size: size, tag: tag) }
    return MPIRequestReduction(buffer)
  }

  public func broadcast(_ bytes: inout [UInt8], root: Int) {
    guard size > 1 else { return }
    var count = Int64(bytes.count)
    MPI_Bcast(&count, 1, iumad_mpi_int64(), Int32(root), iumad_comm_world())
    if rank != root { bytes = [UInt8](repeating: 0, count: Int(count)) }
    bytes.withUnsafeMutableBufferPointer { p in
      var offset = 0
      while offset < p.count {
        let n = min(Self.chunk, p.count - offset)
        MPI_Bcast(p.baseAddress! + offset, Int32(n), iumad_mpi_byte(), Int32(root), iumad_comm_world())
        offset += n
      }
    }
  }

  public func gather(_ bytes: [UInt8], root: Int) -> [[UInt8]]? {
    guard size > 1 else { return [bytes] }
    var mine = Int32(bytes.count)
    var counts = [Int32](repeating: 0, count: size)
    MPI_Gather(&mine, 1, iumad_mpi_int(), &counts, 1, iumad_mpi_int(), Int32(root), iumad_comm_world())
    var displacements = [Int32](repeating: 0, count: size)
    for i in 1..<size { displacements[i] = displacements[i - 1] + counts[i - 1] }
    var all = [UInt8](repeating: 0, count: rank == root ? Int(counts.reduce(0, +)) : 0)
    var send = bytes
    MPI_Gatherv(&send, mine, iumad_mpi_byte(), &all, &counts, &displacements, iumad_mpi_byte(), Int32(root), iumad_comm_world())
    guard rank == root else { return nil }
    return (0..<size).map { Array(all[Int(displacements[$0])..<Int(displacements[$0] + counts[$0])]) }
  }

  public func abort(code: Int32) -> Never {
    MPI_Abort(iumad_comm_world(), code)
    exit(code)
  }
}
