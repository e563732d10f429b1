import Foundation
import Tensor

// MARK: NumPy .npy files: version 1.0 (and 2.0 on read), '<f4' (or '<f8' on read), C order
//
// Layout: "\x93NUMPY", major, minor, header length (u16 LE for 1.0, u32 for 2.0), an ASCII
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
// spaces and a final newline so the data starts at a multiple of 64 bytes.

public enum NPY {
  public static func write(_ t: Tensor, to path: String) throws {
    let shape = t.shape.isEmpty ? "()" : t.shape.count == 1 ? "(\(t.shape[0]),)"
      : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    let hl = UInt16(header.utf8.count)
    out.append(contentsOf: [UInt8(hl & 0xFF), UInt8(hl >> 8)])
    out.append(contentsOf: Array(header.utf8))
    out.reserveCapacity(out.count + 4 * t.count)
    t.data.withUnsafeBufferPointer { p in
      for v in p { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
    }
    do { try out.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
      throw BackboneError.unreadableFile(path: path, reason: "cannot write: \(error.localizedDescription)")
    }
  }

  public static func read(_ path: String) throws -> Tensor {
    func bad(_ reason: String) -> BackboneError { .malformedNPY(path: path, reason: reason) }
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
      throw BackboneError.unreadableFile(path: path, reason: error.localizedDescription)
    }
    let bytes = [UInt8](data)
    guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
      throw bad("missing the \\x93NUMPY magic")
    }
    let major = bytes[6]
    let (lenBytes, headerStart): (Int, Int) = major == 1 ? (2, 10) : major == 2 || major == 3 ? (4, 12) : (0, 0)
    guard lenBytes > 0, bytes.count >= headerStart else { throw bad("unsupported format version \(major).\(bytes[7])") }
    let headerLength = (0..<lenBytes).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
    guard headerStart + headerLength <= bytes.count else { throw bad("header runs past the end of the file") }
    let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
    guard let descr = field("descr", in: header) else { throw bad("header has no 'descr': \(header)") }
    let width: Int
    switch descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) {
    case "<f4": width = 4
    case "<f8": width = 8
    case let d: throw bad("dtype \(d); supported: <f4, <f8")
    }
    guard field("fortran_order", in: header) == "False" else { throw bad("Fortran-order arrays are not supported") }
    guard let shapeText = field("shape", in: header) else { throw bad("header has no 'shape': \(header)") }
    let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()")).split(separator: ",")
      .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    let shape = dims.compactMap { Int($0) }
    guard shape.count == dims.count else { throw bad("cannot parse shape \(shapeText)") }
    let start = headerStart + headerLength, n = shape.product
    guard bytes.count - start == n * width else {
      throw bad("shape \(shape) needs \(n * width) data bytes, file has \(bytes.count - start)")
    }
    let values: [Float] = bytes[start...].withUnsafeBytes { raw in
      width == 4
        ? (0..<n).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) }
        : (0..<n).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian)) }
    }
    return Tensor(shape: shape, data: values)
  }

  /// The value text of `'key': value` in a Python dict literal (a tuple counts as one value).
  static func field(_ key: String, in header: String) -> String? {
    guard let r = header.range(of: "'\(key)':") else { return nil }
    var rest = header[r.upperBound...].drop { $0 == " " }
    if rest.first == "(" {
      guard let close = rest.firstIndex(of: ")") else { return nil }
      return String(rest[...close])
    }
    rest = rest.prefix { $0 != "," && $0 != "}" }
    return rest.trimmingCharacters(in: .whitespaces)
  }
}
