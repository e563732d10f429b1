import Foundation

/// The `iumad` binary under test: `IUMAD_TEST_BIN` (set by Scripts/test.sh), else the newest
/// build in .build/{release,debug}.
func iumadBinary() throws -> URL {
  let env = ProcessInfo.processInfo.environment
  if let p = env["IUMAD_TEST_BIN"], FileManager.default.isExecutableFile(atPath: p) { return URL(fileURLWithPath: p) }
  let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  for config in ["release", "debug"] {
    let p = root.appendingPathComponent(".build/\(config)/iumad")
    if FileManager.default.isExecutableFile(atPath: p.path) { return p }
  }
  throw CLITestError.missingBinary
}

enum CLITestError: Error, CustomStringConvertible {
  case missingBinary
  var description: String { "no iumad binary: run `swift build --product iumad` or set IUMAD_TEST_BIN" }
}

struct ProcessResult {
  let status: Int32
  let stdout: String
  let stderr: String
}

/// Runs `iumad args…` to completion, capturing both streams.
func runIUMAD(_ args: [String], environment: [String: String] = [:]) throws -> ProcessResult {
  let p = Process()
  p.executableURL = try iumadBinary()
  p.arguments = args
  p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  let out = Pipe(), err = Pipe()
  p.standardOutput = out
  p.standardError = err
  try p.run()
  // Read before waiting so a full pipe cannot block the child.
  let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

func temporaryDirectory(_ name: String) throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("iumad-tests-\(name)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}
