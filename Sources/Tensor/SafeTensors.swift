import Foundation

/// Errors reading or writing a safetensors file; each names the file (and tensor) at fault.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
  case unreadable(path: String, reason: String)
  case badHeader(path: String, reason: String)
  case unsupportedDType(path: String, tensor: String, dtype: String)
  case badOffsets(path: String, tensor: String, reason: String)

  public var description: String {
    switch self {
    case .unreadable(let p, let r): return "\(p): cannot read safetensors file: \(r)"
    case .badHeader(let p, let r): return "\(p): invalid safetensors header: \(r)"
    case .unsupportedDType(let p, let t, let d): return "\(p): tensor '\(t)' has dtype \(d); supported: F32, F16, BF16, F64"
    case .badOffsets(let p, let t, let r): return "\(p): tensor '\(t)': \(r)"
    }
  }
}

/// The safetensors format: 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets}, "__metadata__": {…}}, then the raw little-endian data.
/// We write F32 and read F32, F16, BF16 and F64 (converted to Float32).
public enum SafeTensors {
  public struct File {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]
    /// Tensor names in file order (by data offset).
    public var names: [String]
  }

  public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to url: URL) throws {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var offset = 0
    for (name, t) in tensors {
      let bytes = t.count * 4
      header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
      offset += bytes
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
    while (json.count + 8) % 8 != 0 { json.append(0x20) }
    var out = Data()
    var len = UInt64(json.count).littleEndian
    withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
    out.append(json)
    for (_, t) in tensors { t.data.withUnsafeBytes { out.append(contentsOf: $0) } }
    do { try out.write(to: url, options: .atomic) } catch {
      throw SafeTensorsError.unreadable(path: url.path, reason: "cannot write: \(error.localizedDescription)")
    }
  }

  public static func read(_ url: URL) throws -> File {
    let path = url.path
    let data: Data
    do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
      throw SafeTensorsError.unreadable(path: path, reason: error.localizedDescription)
    }
    guard data.count >= 8 else { throw SafeTensorsError.badHeader(path: path, reason: "file is \(data.count) bytes, shorter than the 8-byte length prefix") }
    let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard n <= UInt64(data.count - 8) else {
      throw SafeTensorsError.badHeader(path: path, reason: "header length \(n) exceeds the file size \(data.count) (truncated?)")
    }
    let headerEnd = 8 + Int(n)
    guard let obj = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) as? [String: Any] else {
      throw SafeTensorsError.badHeader(path: path, reason: "header is not a JSON object")
    }
    var tensors: [String: Tensor] = [:], metadata: [String: String] = [:], order: [(Int, String)] = []
    for (name, value) in obj {
      if name == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
      guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
        let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
      else { throw SafeTensorsError.badHeader(path: path, reason: "entry '\(name)' lacks dtype/shape/data_offsets") }
      let width: Int
      switch dtype {
      case "F32": width = 4
      case "F16", "BF16": width = 2
      case "F64": width = 8
      default: throw SafeTensorsError.unsupportedDType(path: path, tensor: name, dtype: dtype)
      }
      let count = shape.reduce(1, *)
      let start = headerEnd + offsets[0], end = headerEnd + offsets[1]
      guard offsets[0] >= 0, end <= data.count, end - start == count * width else {
        throw SafeTensorsError.badOffsets(path: path, tensor: name,
          reason: "data_offsets \(offsets) do not hold \(count) × \(dtype) within a \(data.count - headerEnd)-byte payload")
      }
      let values: [Float] = data.subdata(in: start..<end).withUnsafeBytes { raw in
        (0..<count).map { i in
          switch dtype {
          case "F32": return Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
          case "F64": return Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian))
          case "BF16": return Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16)
          default: return Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian))
          }
        }
      }
      tensors[name] = Tensor(shape: shape, data: values)
      order.append((offsets[0], name))
    }
    return File(tensors: tensors, metadata: metadata, names: order.sorted { $0.0 < $1.0 }.map(\.1))
  }
}

/// A loaded tensor that does not fit the parameter it is meant for.
public struct ParameterLoadError: Error, CustomStringConvertible {
  public let problems: [String]
  public var description: String { "cannot load parameters:\n  " + problems.joined(separator: "\n  ") }
}

extension ParameterStore {
  /// Copies values by name from `tensors`; every parameter must be present with its shape.
  /// Lists every missing or mismatched tensor (name and both shapes) in one error.
  public func load(_ tensors: [String: Tensor], prefix: String = "") throws {
    var problems: [String] = []
    for (name, p) in named {
      guard let t = tensors[prefix + name] else { problems.append("missing tensor '\(prefix + name)' (shape \(p.shape))"); continue }
      if t.shape != p.shape { problems.append("tensor '\(prefix + name)': file has shape \(t.shape), model expects \(p.shape)") }
    }
    if !problems.isEmpty { throw ParameterLoadError(problems: problems) }
    for (name, p) in named { p.assign(tensors[prefix + name]!.data) }
  }
}
