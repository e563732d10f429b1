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

/// Runs `executable` (a path, or a name looked up on PATH) with `arguments` to completion.
/// Both pipes are drained while the child runs, so a large output cannot block it.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       directory: URL? = nil) throws -> ProcessResult {
  let p = Process()
  if executable.contains("/") {
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
  } else {
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [executable] + arguments
  }
  p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  if let directory { p.currentDirectoryURL = directory }
  let out = Pipe(), err = Pipe()
  p.standardOutput = out
  p.standardError = err
  try p.run()
  final class Box: @unchecked Sendable { var data = Data() }
  let errBox = Box()
  let group = DispatchGroup()
  group.enter()
  DispatchQueue.global().async {
    errBox.data = err.fileHandleForReading.readDataToEndOfFile()
    group.leave()
  }
  let o = out.fileHandleForReading.readDataToEndOfFile()
  group.wait()
  p.waitUntilExit()
  return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                       stderr: String(decoding: errBox.data, as: UTF8.self))
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
