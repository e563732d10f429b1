import Foundation

// MARK: FNV-1a 64-bit: a stable, dependency-free hash for cache keys and payload checksums
// (CryptoKit is not on Linux; the keys need stability across runs and machines, not secrecy).

public struct FNV1a64 {
  public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

  public init() {}

  public mutating func combine<D: DataProtocol>(_ bytes: D) {
    var h = value
    for region in bytes.regions {
      region.withUnsafeBytes { raw in
        for b in raw { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
      }
    }
    value = h
  }

  public mutating func combine(_ s: String) { combine(Array(s.utf8)) }

  public static func hash<D: DataProtocol>(_ bytes: D) -> UInt64 {
    var h = FNV1a64()
    h.combine(bytes)
    return h.value
  }
}

public func hex(_ v: UInt64) -> String {
  let s = String(v, radix: 16)
  return String(repeating: "0", count: 16 - s.count) + s
}
