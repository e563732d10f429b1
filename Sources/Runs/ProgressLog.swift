import Foundation
import Incremental

/// Progress of a long run: a one-line status on a terminal (rewritten in place), and plain
/// lines in `train.log` (and on stderr when it is not a terminal) at most every few seconds and
/// at every epoch end. Quiet on non-zero ranks, which log to their own file.
public final class ProgressLog {
  let log: FileHandle?
  let tty: Bool
  let echo: Bool
  let start = Date()
  var lastLine = Date.distantPast
  public var totalIterations = 1
  /// Log every iteration's losses (for comparing runs), not only epoch ends and every 10 s.
  public var everyIteration = false
  var doneIterations = 0
  var samplesSinceLast = 0
  var lastRateTime = Date()
  var rate: Double = 0
  /// Seconds each finished step spent after its training (evaluation, maps, model, checkpoint):
  /// the ETA adds their mean for every step still to end.
  public var stepEndSeconds: [Double] = []
  /// Time between consecutive iterations of one step (training alone, with any learning-curve
  /// evaluations inside the step) and how many such gaps were timed.
  var trainingSeconds = 0.0, timedIterations = 0
  var lastIteration: (at: Date, step: Int)?

  /// `path`: the log file (created or appended); `echo`: also print progress (rank 0).
  public init(path: String?, echo: Bool) {
    if let path {
      if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
      log = FileHandle(forWritingAtPath: path)
      log?.seekToEndOfFile()
    } else {
      log = nil
    }
    self.echo = echo
    tty = isatty(STDERR_FILENO) != 0
  }

  deinit { try? log?.close() }

  /// A line for the log (and stderr when echoing), time-stamped.
  /// A line for the log file and (rank 0) the terminal; `echo: false` keeps it to the file (the
  /// command prints that error itself).
  public func note(_ text: String, echo: Bool = true) {
    let line = String(format: "[%7.1fs] ", Date().timeIntervalSince(start)) + text
    log?.write(Data((line + "\n").utf8))
    if echo && self.echo {
      if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
      FileHandle.standardError.write(Data((line + "\n").utf8))
    }
  }

  public func iteration(_ r: IterationReport, steps: Int) {
    doneIterations += 1
    samplesSinceLast += r.samples
    let now = Date()
    let dt = now.timeIntervalSince(lastRateTime)
    if dt >= 1 { rate = Double(samplesSinceLast) / dt; samplesSinceLast = 0; lastRateTime = now }
    // Before the first full second the rate so far (a short run would otherwise say 0.0).
    let shownRate = rate > 0 ? rate : Double(samplesSinceLast) / max(dt, 1e-3)
    let elapsed = now.timeIntervalSince(start)
    if let last = lastIteration, last.step == r.step { trainingSeconds += now.timeIntervalSince(last.at); timedIterations += 1 }
    lastIteration = (now, r.step)
    let perIteration = timedIterations > 0 ? trainingSeconds / Double(timedIterations) : elapsed / Double(doneIterations)
    var eta = perIteration * Double(max(totalIterations - doneIterations, 0))
    // Until a step has ended, its end-of-step work is unknown: the ETA is then a lower bound.
    let stepEnds = steps - r.step
    if !stepEndSeconds.isEmpty { eta += stepEndSeconds.reduce(0, +) / Double(stepEndSeconds.count) * Double(stepEnds) }
    let etaText = (stepEndSeconds.isEmpty ? "≥ " : "") + Self.duration(eta)
    let losses = r.losses.map { String(format: "%@ %.4f", $0.name, $0.value) }.joined(separator: " ")
    let text = String(format: "step %d/%d epoch %d/%d it %d/%d | %.1f samples/s | lr %.2e | %@ | ETA %@",
                      r.step + 1, steps, r.epoch + 1, r.epochs, r.iteration + 1, r.iterationsPerEpoch, shownRate,
                      Double(r.learningRate), losses, etaText)
    let epochEnd = r.iteration + 1 == r.iterationsPerEpoch
    if echo && tty {
      FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
    }
    if epochEnd || everyIteration || now.timeIntervalSince(lastLine) >= 10 {
      lastLine = now
      let line = String(format: "[%7.1fs] ", elapsed) + text
      log?.write(Data((line + "\n").utf8))
      if echo && !tty && epochEnd { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
  }

  static func duration(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
  }
}
