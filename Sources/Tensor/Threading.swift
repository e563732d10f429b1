import COpenBLAS
import Dispatch
import Foundation

/// Thread budget shared by our kernels and OpenBLAS, so the two never oversubscribe the cores.
public enum Threading {
  nonisolated(unsafe) private static var _threads: Int = defaultThreads()

  /// Threads per process: `IUMAD_THREADS` if set, else the cores divided among the MPI ranks on
  /// this node (`OMPI_COMM_WORLD_LOCAL_SIZE`), at least one.
  public static func defaultThreads() -> Int {
    let env = ProcessInfo.processInfo.environment
    if let s = env["IUMAD_THREADS"], let n = Int(s), n > 0 { return n }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let local = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
    return max(1, cores / max(1, local))
  }

  /// Our kernels' width: the process setting, or a smaller limit set for the current task.
  public static var threads: Int { min(_threads, threadLimit ?? _threads) }

  @TaskLocal static var threadLimit: Int?

  /// Runs `body` with our kernels limited to `n` threads in this task only (OpenBLAS unchanged):
  /// lets tests compare thread counts without touching the process-wide setting.
  public static func withThreadLimit<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
    try $threadLimit.withValue(max(1, n)) { try body() }
  }

  /// Sets our parallel-for width and OpenBLAS's thread count together.
  public static func setThreads(_ n: Int) {
    check(n >= 1, "Threading.setThreads: thread count must be >= 1, got \(n)")
    _threads = n
    openblas_set_num_threads(Int32(n))
  }

  /// Runs `body(range)` over `0..<count` split into at most `threads` contiguous chunks.
  /// Chunks never shrink below `grain` items, so small loops stay on the calling thread.
  /// Each index is visited exactly once and chunk boundaries depend only on (count, threads, grain),
  /// so results are deterministic as long as chunks write disjoint outputs.
  @inlinable
  public static func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let chunks = min(threads, max(1, count / max(1, grain)))
    if chunks <= 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { body in
      DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = count * c / chunks
        let hi = count * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
      }
    }
  }
}

extension Threading {
  /// `parallelFor` for loops whose bodies call BLAS on small matrices: OpenBLAS runs
  /// single-threaded inside, so the calls run side by side instead of queueing for its pool.
  public static func parallelForBLAS(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    guard min(threads, max(1, count / max(1, grain))) > 1 else { body(0..<max(count, 0)); return }
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(Int32(_threads)) }
    parallelFor(count, grain: grain, body)
  }

  /// `transform(i)` for every i in 0..<count, in parallel, results in index order. If any call
  /// throws, the error of the lowest index is rethrown (the same one whatever the thread count).
  public static func parallelMap<T>(_ count: Int, grain: Int = 1, _ transform: (Int) throws -> T) throws -> [T] {
    var results = [T?](repeating: nil, count: count)
    var errors = [Error?](repeating: nil, count: count)
    results.withUnsafeMutableBufferPointer { out in
      errors.withUnsafeMutableBufferPointer { err in
        parallelFor(count, grain: grain) { range in
          for i in range {
            do { out[i] = try transform(i) } catch { err[i] = error }
          }
        }
      }
    }
    if let first = errors.first(where: { $0 != nil }) { throw first! }
    return results.map { $0! }
  }
}
