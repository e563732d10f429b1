import Foundation

/// OpenBLAS picks its kernels from the CPU model at load time. Under virtual machines that hide
/// the model (this project's CI among them) it falls back to generic SSE3 kernels, ~6× slower
/// than the AVX-512 ones the CPU actually runs. OpenBLAS reads `OPENBLAS_CORETYPE` only while it
/// loads, so when it is unset we set it from the CPU's feature flags and re-execute ourselves once.
public enum NativeTuning {
  /// The OpenBLAS core type matching the CPU's flags, or nil to leave OpenBLAS's own choice.
  public static func preferredCoreType(cpuFlags: Set<Substring>) -> String? {
    let skylakeX: Set<Substring> = ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"]
    if skylakeX.isSubset(of: cpuFlags) { return "SkylakeX" }
    if cpuFlags.contains("avx2") && cpuFlags.contains("fma") { return "Haswell" }
    return nil
  }

  public static func cpuFlags() -> Set<Substring> {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
      let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
    else { return [] }
    return Set(line.split(separator: " "))
  }

  public static func selectOpenBLASCoreTypeAndReexecIfNeeded() {
    let env = ProcessInfo.processInfo.environment
    if env["OPENBLAS_CORETYPE"] != nil || env["IUMAD_NO_REEXEC"] != nil { return }
    guard let core = preferredCoreType(cpuFlags: cpuFlags()) else { return }
    setenv("OPENBLAS_CORETYPE", core, 1)
    setenv("IUMAD_NO_REEXEC", "1", 1)
    let args = CommandLine.arguments
    var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    execv("/proc/self/exe", &cargs)
    // execv only returns on failure: carry on with OpenBLAS's own kernel choice.
  }
}
