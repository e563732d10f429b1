import CZstd
import Foundation

// MARK: one-shot zstd frames for cache payloads and checkpoints (sizes are known: no streaming needed)

/// A zstd frame that could not be made or read back (`description` says why).
public struct ZstdError: Error, CustomStringConvertible {
  public let reason: String
  public var description: String { "zstd: \(reason)" }
}

public enum Zstd {
  public static func compress(_ src: [UInt8], level: Int32 = 3) throws -> [UInt8] {
    var dst = [UInt8](repeating: 0, count: ZSTD_compressBound(src.count))
    let n = src.withUnsafeBytes { s in
      dst.withUnsafeMutableBytes { d in ZSTD_compress(d.baseAddress, d.count, s.baseAddress, s.count, level) }
    }
    if ZSTD_isError(n) != 0 { throw ZstdError(reason: String(cString: ZSTD_getErrorName(n))) }
    dst.removeSubrange(n...)
    return dst
  }

  /// Decompresses a frame that must expand to exactly `size` bytes. The frame header's own
  /// content size is compared first, so a wrong `size` (a damaged header of ours) is an error
  /// before anything is allocated.
  public static func decompress(_ src: ArraySlice<UInt8>, size: Int) throws -> [UInt8] {
    let declared = src.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
    guard size >= 0, declared == UInt64(size) else {
      throw ZstdError(reason: "frame declares \(declared >= UInt64.max - 1 ? "no valid size" : "\(declared) bytes"), expected \(size)")
    }
    var dst = [UInt8](repeating: 0, count: size)
    let n = src.withUnsafeBytes { s in
      dst.withUnsafeMutableBytes { d in ZSTD_decompress(d.baseAddress, d.count, s.baseAddress, s.count) }
    }
    if ZSTD_isError(n) != 0 { throw ZstdError(reason: String(cString: ZSTD_getErrorName(n))) }
    guard n == size else { throw ZstdError(reason: "frame expands to \(n) bytes, expected \(size)") }
    return dst
  }
}
