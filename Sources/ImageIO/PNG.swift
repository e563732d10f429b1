import CPNG

/// PNG files through libpng (the setjmp-guarded calls live in `CPNG/shim.h`).
///
/// Reading accepts every PNG colour type and bit depth: palette images come back as RGB, 1/2/4-bit
/// gray as 8-bit, a tRNS chunk as an alpha channel. Writing takes 8- or 16-bit images with 1–4
/// channels (gray, gray+alpha, RGB, RGBA).
public enum PNG {
  public static func read(_ path: String) throws -> PixelImage {
    var state = iumad_png_state()
    let code = iumad_png_read(path, &state)
    guard code == Int32(IUMAD_PNG_OK) else {
      throw error(code: code, path: path, message: message(of: &state))
    }
    defer { iumad_png_free_pixels(&state) }
    let width = Int(state.width), height = Int(state.height), channels = Int(state.channels)
    let bitDepth = Int(state.bit_depth)
    let count = width * height * channels
    var samples = [UInt16](repeating: 0, count: count)
    let bytes = UnsafeBufferPointer(start: state.pixels, count: count * bitDepth / 8)
    if bitDepth == 8 {
      for i in 0..<count { samples[i] = UInt16(bytes[i]) }
    } else {
      // PNG stores 16-bit samples big-endian.
      for i in 0..<count { samples[i] = UInt16(bytes[2 * i]) << 8 | UInt16(bytes[2 * i + 1]) }
    }
    return PixelImage(width: width, height: height, channels: channels, bitDepth: bitDepth,
                      samples: samples)
  }

  /// Writes `image`; `compressionLevel` is zlib's 0...9 (nil: libpng's default). The output
  /// depends only on the pixels and the level, so equal images give byte-identical files.
  public static func write(_ image: PixelImage, to path: String, compressionLevel: Int? = nil) throws {
    guard image.width > 0, image.height > 0 else {
      throw ImageIOError.cannotWrite(path: path, reason: "image is empty (\(image.width)x\(image.height))")
    }
    var bytes: [UInt8]
    if image.bitDepth == 8 {
      bytes = image.samples.map { UInt8(truncatingIfNeeded: $0) }
    } else {
      bytes = [UInt8](repeating: 0, count: image.samples.count * 2)
      for (i, v) in image.samples.enumerated() {
        bytes[2 * i] = UInt8(v >> 8)
        bytes[2 * i + 1] = UInt8(v & 0xFF)
      }
    }
    var state = iumad_png_state()
    let code = bytes.withUnsafeBufferPointer { buf in
      iumad_png_write(path, UInt32(image.width), UInt32(image.height), Int32(image.channels),
                      Int32(image.bitDepth), buf.baseAddress, Int32(compressionLevel ?? -1), &state)
    }
    guard code == Int32(IUMAD_PNG_OK) else {
      let text = message(of: &state)
      if code == Int32(IUMAD_PNG_CANNOT_OPEN) { throw ImageIOError.cannotOpen(path: path, reason: text) }
      throw ImageIOError.cannotWrite(path: path, reason: text)
    }
  }

  private static func message(of state: inout iumad_png_state) -> String {
    withUnsafeBytes(of: &state.message) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
  }

  private static func error(code: Int32, path: String, message: String) -> ImageIOError {
    switch code {
    case Int32(IUMAD_PNG_CANNOT_OPEN): return .cannotOpen(path: path, reason: message)
    case Int32(IUMAD_PNG_NOT_PNG): return .wrongFormat(path: path, expected: "PNG")
    case Int32(IUMAD_PNG_TRUNCATED): return .truncated(path: path)
    case Int32(IUMAD_PNG_TOO_LARGE): return .unsupported(path: path, reason: message)
    default: return .corrupt(path: path, reason: "libpng: \(message)")
    }
  }
}
