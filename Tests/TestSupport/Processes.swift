import Dispatch
import Foundation

/// What a child process printed and how it ended.
public struct ProcessResult {
  public let status: Int32
  public let stdout: String
  public let stderr: String
}

/// The package root (tests read fixtures, configs and scripts from it).
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A started child whose stdout and stderr are drained while it runs, so a large output cannot
/// block it, however long the test polls before it asks for the result.
public final class RunningProcess: @unchecked Sendable {
  private let process = Process()
  private let drained = DispatchGroup()
  private var out = Data(), err = Data()

  /// Starts `executable` (a path, or a name looked up on PATH) with `arguments`.
  public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: URL? = nil) throws {
    if executable.contains("/") {
      process.executableURL = URL(fileURLWithPath: executable)
      process.arguments = arguments
    } else {
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = [executable] + arguments
    }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    if let directory { process.currentDirectoryURL = directory }
    let outPipe = Pipe(), errPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    try process.run()
    for (pipe, isErr) in [(outPipe, false), (errPipe, true)] {
      drained.enter()
      DispatchQueue.global().async {
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        if isErr { self.err = data } else { self.out = data }
        self.drained.leave()
      }
    }
  }

  public var isRunning: Bool { process.isRunning }
  public var processIdentifier: Int32 { process.processIdentifier }

  /// Polls `condition` every 20 ms while the child runs, up to `timeout` seconds; true once it held.
  public func poll(timeout: TimeInterval, until condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline && process.isRunning {
      if condition() { return true }
      usleep(20_000)
    }
    return false
  }

  /// Waits for the child to end; what it printed and how it ended (a signal's number is the status).
  public func wait() -> (result: ProcessResult, killedBySignal: Bool) {
    drained.wait()
    process.waitUntilExit()
    let result = ProcessResult(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                               stderr: String(decoding: err, as: UTF8.self))
    return (result, process.terminationReason == .uncaughtSignal)
  }
}

/// Runs `executable` (a path, or a name looked up on PATH) with `arguments` to completion.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       directory: URL? = nil) throws -> ProcessResult {
  try RunningProcess(executable, arguments, environment: environment, directory: directory).wait().result
}

/// The files in `directory` (none while it does not exist).
public func listing(of directory: String) -> [String] {
  (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
}

public struct MissingBinary: Error, CustomStringConvertible {
  public var description: String {
    "no iumad binary: set IUMAD_TEST_BIN or run `swift build --product iumad` (Scripts/test.sh does both)"
  }
}

/// The `iumad` binary under test: `IUMAD_TEST_BIN` (set by Scripts/test.sh), else the newest
/// build in .build/{release,debug}.
public func iumadBinary() throws -> URL {
  if let p = ProcessInfo.processInfo.environment["IUMAD_TEST_BIN"], FileManager.default.isExecutableFile(atPath: p) {
    return URL(fileURLWithPath: p)
  }
  for config in ["release", "debug"] {
    let p = packageRoot.appendingPathComponent(".build/\(config)/iumad")
    if FileManager.default.isExecutableFile(atPath: p.path) { return p }
  }
  throw MissingBinary()
}

/// Runs `iumad args…` to completion.
public func runIUMAD(_ args: [String], environment: [String: String] = [:]) throws -> ProcessResult {
  try runProcess(try iumadBinary().path, args, environment: environment)
}

/// A fresh directory under the system's temporary folder.
public func temporaryDirectory(_ name: String) throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-tests-\(name)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// Why a suite's shared fixture could not be built; every test that uses it fails with this.
public struct FixtureFailure: Error, CustomStringConvertible {
  public let description: String
  public init(description: String) { self.description = description }
}

/// `iumad args…` for a fixture that must exist: a non-zero exit becomes a failure carrying stderr.
public func runFixtureStep(_ args: [String]) -> Result<ProcessResult, FixtureFailure> {
  do {
    let r = try runIUMAD(args)
    guard r.status == 0 else {
      return .failure(FixtureFailure(description: "`iumad \(args.prefix(1).joined())` exited \(r.status): \(r.stderr)"))
    }
    return .success(r)
  } catch {
    return .failure(FixtureFailure(description: "`iumad \(args.prefix(1).joined())` did not run: \(error)"))
  }
}

/// `iumad synth --out directory arguments…`, run once for a suite: a failed build is kept, not
/// swallowed, so each test that reads the set fails with synth's own message.
public func synthesize(into directory: String, _ arguments: [String]) -> Result<String, FixtureFailure> {
  runFixtureStep(["synth", "--out", directory] + arguments).map { _ in directory }
}

/// `synthesize(into:)` a fresh directory under the system's temporary folder.
public func synthesize(_ name: String, _ arguments: [String]) -> Result<String, FixtureFailure> {
  synthesize(into: FileManager.default.temporaryDirectory.appendingPathComponent("iumad-\(name)-\(UUID().uuidString)").path, arguments)
}
