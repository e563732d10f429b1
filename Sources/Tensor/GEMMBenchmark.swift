import Dispatch

/// Times square sgemm calls: the FLOP ceiling other benchmarks are compared against.
public enum GEMMBenchmark {
  public struct Result { public let gflops: Double; public let secondsPerCall: Double }

  public static func run(size n: Int, minSeconds: Double) -> Result {
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
