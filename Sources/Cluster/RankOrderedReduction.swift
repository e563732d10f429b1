import CMPI
import Tensor

/// Sum over a power-of-two world by recursive halving (reduce-scatter) then recursive doubling
/// (all-gather), partners at distance 1, 2, 4, …: every element ends as the balanced tree over
/// rank order on every rank (a + b = b + a exactly), which `PairwiseSum` reproduces in one
/// process. Bandwidth-optimal like a ring: 2·(P−1)/P of the buffer sent per rank. Runs as a
/// state machine of non-blocking exchanges so it can advance while the backward computes.
final class RankOrderedReduction: PendingReduction {
  struct Round {
    let partner: Int32
    let keep: Range<Int>, other: Range<Int>
  }
  let buffer: UnsafeMutableBufferPointer<Float>
  let rounds: [Round]
  let tag: Int32
  /// Halving rounds 0..<r, then the gathering rounds in reverse; `stage` counts both.
  var stage = 0
  var requests = [MPI_Request?](repeating: nil, count: 2)
  var posted = false
  /// Where the partner's half arrives (stays put while MPI writes into it).
  let incoming: UnsafeMutableBufferPointer<Float>

  init(_ buffer: UnsafeMutableBufferPointer<Float>, rank: Int, size: Int, tag: Int) {
    self.buffer = buffer
    self.tag = Int32(tag * 32)
    var rounds: [Round] = []
    var lo = 0, hi = buffer.count, distance = 1
    while distance < size {
      let mid = lo + (hi - lo) / 2
      let lower = rank & distance == 0
      let keep = lower ? lo..<mid : mid..<hi, other = lower ? mid..<hi : lo..<mid
      rounds.append(Round(partner: Int32(rank ^ distance), keep: keep, other: other))
      (lo, hi) = (keep.lowerBound, keep.upperBound)
      distance <<= 1
    }
    self.rounds = rounds
    incoming = .allocate(capacity: (buffer.count + 1) / 2)
    post()
  }

  deinit { incoming.deallocate() }

  var finished: Bool { stage == 2 * rounds.count }

  /// Posts the receive and send of the current stage.
  func post() {
    guard !finished else { return }
    let halving = stage < rounds.count
    let round = halving ? rounds[stage] : rounds[2 * rounds.count - 1 - stage]
    let t = tag + Int32(stage)
    let base = buffer.baseAddress!
    if halving {
      // Send the half the partner keeps; receive its copy of the half this rank keeps.
      _ = MPI_Irecv(incoming.baseAddress, Int32(round.keep.count), iumad_mpi_float(), round.partner, t, iumad_comm_world(), &requests[0])
      _ = MPI_Isend(base + round.other.lowerBound, Int32(round.other.count), iumad_mpi_float(), round.partner, t, iumad_comm_world(), &requests[1])
    } else {
      // Swap finished halves with the same partners in reverse order.
      _ = MPI_Irecv(base + round.other.lowerBound, Int32(round.other.count), iumad_mpi_float(), round.partner, t, iumad_comm_world(), &requests[0])
      _ = MPI_Isend(base + round.keep.lowerBound, Int32(round.keep.count), iumad_mpi_float(), round.partner, t, iumad_comm_world(), &requests[1])
    }
    posted = true
  }

  /// After the current stage's messages arrived: sum (halving) and move on.
  func complete() {
    if stage < rounds.count {
      let keep = rounds[stage].keep
      for i in keep { buffer[i] += incoming[i - keep.lowerBound] }
    }
    stage += 1
    posted = false
    post()
  }

  func test() -> Bool {
    while posted {
      var flag: Int32 = 0
      _ = MPI_Testall(2, &requests, &flag, iumad_mpi_statuses_ignore())
      guard flag != 0 else { return false }
      complete()
    }
    return finished
  }

  func wait() {
    while posted {
      _ = MPI_Waitall(2, &requests, iumad_mpi_statuses_ignore())
      complete()
    }
  }
}

/// MPI's own non-blocking all-reduce (non-power-of-two worlds): deterministic for a given world
/// size, but not the rank-ordered tree.
final class MPIRequestReduction: PendingReduction {
  var request: MPI_Request?
  var done = false

  init(_ buffer: UnsafeMutableBufferPointer<Float>) {
    _ = MPI_Iallreduce(iumad_mpi_in_place(), buffer.baseAddress, Int32(buffer.count), iumad_mpi_float(), iumad_mpi_sum(),
                       iumad_comm_world(), &request)
  }

  func test() -> Bool {
    guard !done else { return true }
    var flag: Int32 = 0
    _ = MPI_Test(&request, &flag, iumad_mpi_status_ignore())
    done = flag != 0
    return done
  }

  func wait() {
    guard !done else { return }
    _ = MPI_Wait(&request, iumad_mpi_status_ignore())
    done = true
  }
}
