import COpenBLAS
import Dispatch

/// Times square sgemm calls: the FLOP ceiling other benchmarks are compared against.
public enum GEMMBenchmark {
  public struct Result { public let gflops: Double; public let secondsPerCall: Double }

  /// `ours`: `sgemm`, split among our threads. `openBLAS`: one call with OpenBLAS's own thread
  /// pool at `Threading.threads` (what the model would get without the split). The ceiling the
  /// benchmarks compare against is the better of the two.
  public enum Engine: String, CaseIterable, Sendable { case ours, openBLAS = "openblas" }

  /// The better of both engines at `size`: the ceiling achieved GFLOP/s are compared against.
  public static func ceiling(size n: Int, minSeconds: Double) -> Double {
    Engine.allCases.map { run(size: n, minSeconds: minSeconds, engine: $0).gflops }.max()!
  }

  public static func run(size n: Int, minSeconds: Double, engine: Engine = .ours) -> Result {
    if engine == .openBLAS {
      openblas_set_num_threads(Int32(Threading.threads))
      defer { openblas_set_num_threads(1) }
      return Threading.withThreads(1) { run(size: n, minSeconds: minSeconds, engine: .ours) }
    }
    var rng = RNG(seed: 1)
    let a = (0..<(n * n)).map { _ in rng.uniform(-1, 1) }
    let b = (0..<(n * n)).map { _ in rng.uniform(-1, 1) }
    var c = [Float](repeating: 0, count: n * n)
    func call() {
      a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
          c.withUnsafeMutableBufferPointer { pc in
            sgemm(m: n, n: n, k: n, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
          }
        }
      }
    }
    call()  // warm-up: thread pool start, page faults
    var calls = 0
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed = 0.0
    repeat {
      call()
      calls += 1
      elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    } while elapsed < minSeconds
    let perCall = elapsed / Double(calls)
    return Result(gflops: 2 * Double(n) * Double(n) * Double(n) / perCall / 1e9, secondsPerCall: perCall)
  }
}
