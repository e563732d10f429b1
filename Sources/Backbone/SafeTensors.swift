import Foundation
import Tensor

// MARK: safetensors: 8-byte little-endian header length, JSON header, raw little-endian data
//
// Header: {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}}
// with offsets relative to the end of the header. Read: F32, F16, BF16 and F64 become Float.
// Written: F32 only (all our weights are F32 after BN folding or conversion).

/// Named tensors that weight loading reads by name and checked shape.
public protocol WeightSource {
  /// Shown in errors (a file path, or "random weights").
  var sourceName: String { get }
  func shape(of name: String) -> [Int]?
  func values(of name: String) throws -> [Float]
}

extension WeightSource {
  /// The tensor `name`, which must exist with exactly `expected` shape.
  public func tensor(_ name: String, shape expected: [Int]) throws -> Tensor {
    guard let found = shape(of: name) else {
      throw BackboneError.missingTensor(source: sourceName, tensor: name, expectedShape: expected)
    }
    guard found == expected else {
      throw BackboneError.shapeMismatch(source: sourceName, tensor: name, expected: expected, found: found)
    }
    return Tensor(shape: expected, data: try values(of: name))
  }

  public func contains(_ name: String) -> Bool { shape(of: name) != nil }
}

public struct SafeTensorsFile: WeightSource {
  struct Entry {
    let dtype: String
    let shape: [Int]
    let range: Range<Int>  // byte range in `bytes`
  }

  public let path: String
  public let metadata: [String: String]
  let entries: [String: Entry]
  let bytes: Data

  public var sourceName: String { path }
  public var names: [String] { entries.keys.sorted() }
  public func shape(of name: String) -> [Int]? { entries[name]?.shape }

  public init(path: String) throws {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
      throw BackboneError.unreadableFile(path: path, reason: error.localizedDescription)
    }
    try self.init(data: data, path: path)
  }

  public init(data: Data, path: String) throws {
    func bad(_ reason: String) -> BackboneError { .malformedSafeTensors(path: path, reason: reason) }
    guard data.count >= 8 else { throw bad("file has \(data.count) bytes, shorter than the 8-byte header length") }
    let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard headerLength <= UInt64(data.count - 8) else {
      throw bad("header length \(headerLength) exceeds the \(data.count - 8) bytes after it")
    }
    let start = data.startIndex + 8, dataStart = start + Int(headerLength)
    guard let json = try? JSONSerialization.jsonObject(with: data[start..<dataStart]) as? [String: Any] else {
      throw bad("header is not a JSON object")
    }
    var metadata: [String: String] = [:], entries: [String: Entry] = [:]
    for (name, value) in json {
      if name == "__metadata__" {
        metadata = (value as? [String: String]) ?? [:]
        continue
      }
      guard let obj = value as? [String: Any], let dtype = obj["dtype"] as? String,
            let shape = obj["shape"] as? [Int], let offsets = obj["data_offsets"] as? [Int], offsets.count == 2
      else { throw bad("tensor '\(name)' lacks dtype, shape or data_offsets") }
      guard let width = SafeTensorsFile.byteWidth[dtype] else {
        throw BackboneError.unsupportedDType(path: path, tensor: name, dtype: dtype)
      }
      let (b, e) = (offsets[0], offsets[1])
      guard b >= 0, e >= b, dataStart + e <= data.endIndex else {
        throw bad("tensor '\(name)' has data_offsets [\(b), \(e)] outside the \(data.endIndex - dataStart) data bytes")
      }
      // Shapes come from the file: every dimension non-negative and the byte count without
      // overflow, before the shape is used for anything.
      var count = width, overflow = shape.contains { $0 < 0 }
      for d in shape where !overflow { (count, overflow) = count.multipliedReportingOverflow(by: d) }
      guard !overflow, e - b == count else {
        throw bad("tensor '\(name)' of shape \(shape) and dtype \(dtype) " + (overflow ? "is impossible" : "needs \(count) bytes, has \(e - b)"))
      }
      entries[name] = Entry(dtype: dtype, shape: shape, range: (dataStart + b)..<(dataStart + e))
    }
    self.path = path
    self.metadata = metadata
    self.entries = entries
    self.bytes = data
  }

  static let byteWidth = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8]

  public func values(of name: String) throws -> [Float] {
    guard let e = entries[name] else {
      throw BackboneError.missingTensor(source: path, tensor: name, expectedShape: [])
    }
    let n = e.shape.product
    return bytes[e.range].withUnsafeBytes { raw -> [Float] in
      switch e.dtype {
      case "F32": return (0..<n).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) }
      case "F64": return (0..<n).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian)) }
      case "BF16":
        return (0..<n).map { Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) << 16) }
      default:  // F16
        return (0..<n).map { halfToFloat(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) }
      }
    }
  }

  /// Writes F32 tensors in name order, with the header padded to 8 bytes as the format asks.
  public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var offset = 0
    let names = tensors.keys.sorted()
    for name in names {
      let t = tensors[name]!
      header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
      offset += 4 * t.count
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
    var out = Data(capacity: 8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    for name in names {
      tensors[name]!.data.withUnsafeBufferPointer { p in
        #if _endian(little)
        out.append(p)  // already the file's byte order: one copy, not one append per value
        #else
        for v in p { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        #endif
      }
    }
    do { try out.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
      throw BackboneError.unreadableFile(path: path, reason: "cannot write: \(error.localizedDescription)")
    }
  }
}

/// IEEE 754 binary16 → binary32, including subnormals, infinities and NaN.
func halfToFloat(_ h: UInt16) -> Float {
  let sign = UInt32(h & 0x8000) << 16
  let exp = Int((h >> 10) & 0x1F), mant = UInt32(h & 0x3FF)
  if exp == 0 {
    // Subnormal (or zero): mant · 2^-24.
    let magnitude = Float(mant) * Float(sign: .plus, exponent: -24, significand: 1)
    return sign != 0 ? -magnitude : magnitude
  }
  if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
  return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
}

/// Tensors held in memory under their canonical names (random weights for tests and benchmarks).
public struct InMemoryWeights: WeightSource {
  public let sourceName: String
  public var tensors: [String: Tensor]
  public init(name: String, tensors: [String: Tensor]) { sourceName = name; self.tensors = tensors }
  public func shape(of name: String) -> [Int]? { tensors[name]?.shape }
  public func values(of name: String) throws -> [Float] {
    guard let t = tensors[name] else { throw BackboneError.missingTensor(source: sourceName, tensor: name, expectedShape: []) }
    return t.data
  }
}
