import CTIFF
import Foundation

/// Float32 TIFF files (MVTec 3D-AD `xyz` point maps, anomaly maps) through libtiff.
///
/// Reading takes any number of float32 samples per pixel, stored in strips or tiles, with
/// contiguous or separate planes, in any compression libtiff decodes (predictors included);
/// libtiff swaps big-endian data to host order. Only the first image directory is read.
/// Writing produces contiguous strips of 1 (gray) or 3 (RGB) float32 samples.
public enum TIFF {
  public enum Compression: Sendable {
    case none, lzw, deflate, packBits

    var tag: UInt16 {
      switch self {
      case .none: return UInt16(COMPRESSION_NONE)
      case .lzw: return UInt16(COMPRESSION_LZW)
      case .deflate: return UInt16(COMPRESSION_ADOBE_DEFLATE)
      case .packBits: return UInt16(COMPRESSION_PACKBITS)
      }
    }
  }

  // libtiff's process-wide handlers print to stderr; silence them once (per-file handlers below
  // catch everything tied to an open file).
  private static let globalHandlersSilenced: Void = iumad_tiff_silence_global_handlers()

  public static func read(_ path: String) throws -> Image {
    let file = try OpenTIFF(path: path, mode: "r")
    defer { file.close() }
    return try file.readFloatImage()
  }

  public static func write(_ image: Image, to path: String, compression: Compression = .none) throws {
    guard image.channels == 1 || image.channels == 3 else {
      throw ImageIOError.cannotWrite(path: path, reason: "TIFF output holds 1 or 3 channels, got \(image.channels)")
    }
    guard image.width > 0, image.height > 0 else {
      throw ImageIOError.cannotWrite(path: path, reason: "image is empty (\(image.sizeDescription))")
    }
    let file = try OpenTIFF(path: path, mode: "w")
    do {
      try file.writeFloatImage(image, compression: compression)
    } catch {
      file.close()
      throw error
    }
    file.close()
    // Closing writes the directory; a failure there (disk full) only shows in the handler.
    if let message = file.firstError {
      throw ImageIOError.cannotWrite(path: path, reason: message)
    }
  }

  /// An open libtiff handle plus the buffer its error handler writes into.
  private final class OpenTIFF {
    let path: String
    let tif: OpaquePointer
    let messages: UnsafeMutablePointer<iumad_tiff_messages>
    private var closed = false

    init(path: String, mode: String) throws {
      _ = TIFF.globalHandlersSilenced
      self.path = path
      messages = .allocate(capacity: 1)
      messages.initialize(to: iumad_tiff_messages())
      guard let tif = iumad_tiff_open(path, mode, messages) else {
        let message = OpenTIFF.text(messages)
        messages.deallocate()
        if mode == "r" { throw OpenTIFF.openFailure(path: path, libtiffMessage: message) }
        throw ImageIOError.cannotOpen(path: path, reason: message)
      }
      self.tif = tif
    }

    func close() {
      if closed { return }
      closed = true
      TIFFClose(tif)
    }

    deinit {
      close()
      messages.deallocate()
    }

    var firstError: String? { messages.pointee.errors > 0 ? OpenTIFF.text(messages) : nil }

    static func text(_ m: UnsafeMutablePointer<iumad_tiff_messages>) -> String {
      withUnsafeBytes(of: &m.pointee.message) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
    }

    // MARK: reading

    func u16(_ tag: Int32) -> UInt16? {
      var v: UInt16 = 0
      return iumad_tiff_get_u16(tif, UInt32(tag), &v) == 1 ? v : nil
    }

    func u32(_ tag: Int32) -> UInt32? {
      var v: UInt32 = 0
      return iumad_tiff_get_u32(tif, UInt32(tag), &v) == 1 ? v : nil
    }

    func readFloatImage() throws -> Image {
      guard let w32 = u32(TIFFTAG_IMAGEWIDTH), let h32 = u32(TIFFTAG_IMAGELENGTH), w32 > 0, h32 > 0 else {
        throw ImageIOError.corrupt(path: path, reason: "no image width/height")
      }
      let width = Int(w32), height = Int(h32)
      let spp = Int(u16(TIFFTAG_SAMPLESPERPIXEL) ?? 1)
      let bits = Int(u16(TIFFTAG_BITSPERSAMPLE) ?? 1)
      let format = u16(TIFFTAG_SAMPLEFORMAT) ?? UInt16(SAMPLEFORMAT_UINT)
      guard bits == 32, format == UInt16(SAMPLEFORMAT_IEEEFP) else {
        let kind = format == UInt16(SAMPLEFORMAT_IEEEFP) ? "float" : format == UInt16(SAMPLEFORMAT_INT) ? "int" : "uint"
        throw ImageIOError.unsupported(path: path, reason: "samples are \(bits)-bit \(kind), expected 32-bit float")
      }
      guard spp >= 1, width * height * spp <= 1 << 30 else {
        throw ImageIOError.unsupported(path: path, reason: "\(width)x\(height) with \(spp) samples per pixel is too large")
      }
      let separate = u16(TIFFTAG_PLANARCONFIG) == UInt16(PLANARCONFIG_SEPARATE) && spp > 1
      var out = [Float](repeating: 0, count: width * height * spp)
      let layout = PlaneLayout(width: width, height: height, samples: spp, separate: separate)
      if TIFFIsTiled(tif) != 0 {
        try readTiles(layout, into: &out)
      } else {
        try readStrips(layout, into: &out)
      }
      return Image(width: width, height: height, channels: spp, data: out)
    }

    /// Shape facts shared by the strip and tile readers.
    struct PlaneLayout {
      let width, height, samples: Int
      let separate: Bool
      var planes: Int { separate ? samples : 1 }
      /// Floats per pixel inside one decoded block.
      var perPixel: Int { separate ? 1 : samples }
    }

    private func readStrips(_ l: PlaneLayout, into out: inout [Float]) throws {
      let rowsPerStrip = min(Int(u32(TIFFTAG_ROWSPERSTRIP) ?? UInt32(l.height)), l.height)
      let block = Block(byteCount: rowsPerStrip * l.width * l.perPixel * 4)
      for plane in 0..<l.planes {
        for row in stride(from: 0, to: l.height, by: max(rowsPerStrip, 1)) {
          let strip = TIFFComputeStrip(tif, UInt32(row), UInt16(plane))
          try checkInsideFile(strile: strip)
          let rows = min(rowsPerStrip, l.height - row)
          let need = rows * l.width * l.perPixel * 4
          let got = TIFFReadEncodedStrip(tif, strip, block.raw, tmsize_t(need))
          try checkDecoded(got: Int(got), need: need, what: "strip \(strip)")
          block.copy(rows: rows, columns: l.width, stride: l.width, to: &out, layout: l,
                     x0: 0, y0: row, plane: plane)
        }
      }
    }

    private func readTiles(_ l: PlaneLayout, into out: inout [Float]) throws {
      guard let tw32 = u32(TIFFTAG_TILEWIDTH), let th32 = u32(TIFFTAG_TILELENGTH), tw32 > 0, th32 > 0 else {
        throw ImageIOError.corrupt(path: path, reason: "tiled image without tile width/length")
      }
      let tw = Int(tw32), th = Int(th32)
      let need = tw * th * l.perPixel * 4
      let block = Block(byteCount: need)
      for plane in 0..<l.planes {
        for y0 in stride(from: 0, to: l.height, by: th) {
          for x0 in stride(from: 0, to: l.width, by: tw) {
            let tile = TIFFComputeTile(tif, UInt32(x0), UInt32(y0), 0, UInt16(plane))
            try checkInsideFile(strile: tile)
            let got = TIFFReadEncodedTile(tif, tile, block.raw, tmsize_t(need))
            try checkDecoded(got: Int(got), need: need, what: "tile \(tile)")
            block.copy(rows: min(th, l.height - y0), columns: min(tw, l.width - x0), stride: tw,
                       to: &out, layout: l, x0: x0, y0: y0, plane: plane)
          }
        }
      }
    }

    /// A strip or tile whose bytes run past the end of the file means the file was cut short.
    private func checkInsideFile(strile: UInt32) throws {
      let offset = TIFFGetStrileOffset(tif, strile)
      let count = TIFFGetStrileByteCount(tif, strile)
      if let size = OpenTIFF.fileSize(path), offset &+ count > size { throw ImageIOError.truncated(path: path) }
    }

    private func checkDecoded(got: Int, need: Int, what: String) throws {
      if got >= need { return }
      let detail = firstError ?? "decoded \(max(got, 0)) of \(need) bytes"
      throw ImageIOError.corrupt(path: path, reason: "\(what): \(detail)")
    }

    // MARK: writing

    func writeFloatImage(_ image: Image, compression: Compression) throws {
      let rowBytes = image.width * image.channels * 4
      // ~64 KiB strips, libtiff's usual choice, fixed here so output never depends on libtiff's defaults.
      let rowsPerStrip = max(1, min(image.height, 65536 / rowBytes))
      let photometric = image.channels == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK
      let ok = iumad_tiff_set_u32(tif, UInt32(TIFFTAG_IMAGEWIDTH), UInt32(image.width)) == 1
        && iumad_tiff_set_u32(tif, UInt32(TIFFTAG_IMAGELENGTH), UInt32(image.height)) == 1
        && iumad_tiff_set_u16(tif, UInt32(TIFFTAG_BITSPERSAMPLE), 32) == 1
        && iumad_tiff_set_u16(tif, UInt32(TIFFTAG_SAMPLESPERPIXEL), UInt16(image.channels)) == 1
        && iumad_tiff_set_u16(tif, UInt32(TIFFTAG_SAMPLEFORMAT), UInt16(SAMPLEFORMAT_IEEEFP)) == 1
        && iumad_tiff_set_u16(tif, UInt32(TIFFTAG_PLANARCONFIG), UInt16(PLANARCONFIG_CONTIG)) == 1
        && iumad_tiff_set_u16(tif, UInt32(TIFFTAG_PHOTOMETRIC), UInt16(photometric)) == 1
        && iumad_tiff_set_u16(tif, UInt32(TIFFTAG_COMPRESSION), compression.tag) == 1
        && iumad_tiff_set_u32(tif, UInt32(TIFFTAG_ROWSPERSTRIP), UInt32(rowsPerStrip)) == 1
      guard ok else {
        throw ImageIOError.cannotWrite(path: path, reason: firstError ?? "libtiff refused a tag")
      }
      try image.data.withUnsafeBytes { raw in
        var strip: UInt32 = 0
        for row in stride(from: 0, to: image.height, by: rowsPerStrip) {
          let rows = min(rowsPerStrip, image.height - row)
          let start = UnsafeMutableRawPointer(mutating: raw.baseAddress! + row * rowBytes)
          if TIFFWriteEncodedStrip(tif, strip, start, tmsize_t(rows * rowBytes)) < 0 {
            throw ImageIOError.cannotWrite(path: path, reason: firstError ?? "strip \(strip) failed")
          }
          strip += 1
        }
      }
    }

    // MARK: open failures

    static func fileSize(_ path: String) -> UInt64? {
      (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value
    }

    static func openFailure(path: String, libtiffMessage: String) -> ImageIOError {
      guard FileManager.default.fileExists(atPath: path) else {
        return .cannotOpen(path: path, reason: "no such file")
      }
      guard FileManager.default.isReadableFile(atPath: path) else {
        return .cannotOpen(path: path, reason: libtiffMessage.isEmpty ? "not readable" : libtiffMessage)
      }
      switch TIFFStructureProbe.examine(path: path) {
      case .notTIFF: return .wrongFormat(path: path, expected: "TIFF")
      case .truncated: return .truncated(path: path)
      case .intact:
        return .corrupt(path: path, reason: libtiffMessage.isEmpty ? "libtiff could not open it" : libtiffMessage)
      }
    }
  }

  /// A scratch buffer for one decoded strip or tile.
  private final class Block {
    let raw: UnsafeMutableRawPointer
    let floats: UnsafeMutablePointer<Float>

    init(byteCount: Int) {
      raw = .allocate(byteCount: max(byteCount, 4), alignment: 16)
      floats = raw.bindMemory(to: Float.self, capacity: max(byteCount, 4) / 4)
    }

    deinit { raw.deallocate() }

    /// Copies a decoded block (`stride` pixels per row) whose top-left pixel is (x0, y0) into
    /// the HWC output, into one channel (`plane`) or all of them (contiguous).
    func copy(rows: Int, columns: Int, stride: Int, to out: inout [Float], layout l: OpenTIFF.PlaneLayout,
              x0: Int, y0: Int, plane: Int) {
      let k = l.perPixel
      for r in 0..<rows {
        for x in 0..<columns {
          let src = (r * stride + x) * k
          let dst = ((y0 + r) * l.width + x0 + x) * l.samples
          if l.separate {
            out[dst + plane] = floats[src]
          } else {
            for c in 0..<k { out[dst + c] = floats[src + c] }
          }
        }
      }
    }
  }
}
