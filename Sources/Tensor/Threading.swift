import COpenBLAS
import Dispatch
import Foundation

/// Thread budget shared by our kernels and OpenBLAS, so the two never oversubscribe the cores.
public enum Threading {
  nonisolated(unsafe) private static var _threads: Int = {
    openblas_set_num_threads(1)  // before the first GEMM: see `setThreads`
    return defaultThreads()
  }()

  /// Threads per process: `IUMAD_THREADS` if set, else the cores divided among the processes
  /// on this node (`ranksOnNode`, which the launcher knows), at least one.
  public static func defaultThreads(ranksOnNode: Int = 1) -> Int {
    let env = ProcessInfo.processInfo.environment
    if let s = env["IUMAD_THREADS"], let n = Int(s), n > 0 { return n }
    return max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, ranksOnNode))
  }

  /// Our kernels' width: the process setting, or the one set for the current task.
  public static var threads: Int { threadOverride ?? _threads }

  @TaskLocal static var threadOverride: Int?

  /// Runs `body` with our kernels on `n` threads in this task only (OpenBLAS unchanged): lets
  /// tests compare thread counts without touching the process-wide setting, and keeps loops
  /// nested in a parallel chunk on that chunk's thread.
  public static func withThreads<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
    try $threadOverride.withValue(max(1, n)) { try body() }
  }

  /// Sets our parallel-for width. OpenBLAS stays single-threaded: `sgemm` splits large products
  /// among our threads itself (see `GEMMPartition`).
  public static func setThreads(_ n: Int) {
    check(n >= 1, "Threading.setThreads: thread count must be >= 1, got \(n)")
    _threads = n
    openblas_set_num_threads(1)
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
        if lo < hi { runChunk(lo..<hi, body) }
      }
    }
  }
}

extension Threading {
  /// A parallel loop (or GEMM) inside a chunk runs on the chunk's own thread.
  @usableFromInline static func runChunk(_ range: Range<Int>, _ body: (Range<Int>) -> Void) {
    withThreads(1) { body(range) }
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
