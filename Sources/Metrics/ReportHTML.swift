import Foundation

/// `report.html`: the run's report.md as one self-contained page a browser opens directly — the
/// plots inlined as SVG, the heatmaps embedded as PNG data, nothing fetched. It renders the subset
/// of Markdown our reports use (headings, pipe tables, `- ` lists, images on their own line,
/// paragraphs, `**bold**` and `code`), so no Markdown library is needed.
public enum ReportHTML {
  public static func render(markdown: String, title: String, resourcesIn directory: URL) -> String {
    var body: [String] = [], paragraph: [String] = [], table: [[String]] = [], list: [String] = []
    func flush() {
      if !paragraph.isEmpty { body.append("<p>" + paragraph.map(inline).joined(separator: " ") + "</p>"); paragraph = [] }
      if !list.isEmpty { body.append("<ul>" + list.map { "<li>" + inline($0) + "</li>" }.joined() + "</ul>"); list = [] }
      if !table.isEmpty { body.append(htmlTable(table)); table = [] }
    }
    for raw in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.isEmpty { flush(); continue }
      if line.hasPrefix("|") {
        if !paragraph.isEmpty || !list.isEmpty { let t = table; table = []; flush(); table = t }
        table.append(cells(line))
        continue
      }
      if !table.isEmpty { flush() }
      if let level = line.firstIndex(where: { $0 != "#" }), line.hasPrefix("#"), line[level] == " " {
        flush()
        let n = min(line.distance(from: line.startIndex, to: level), 4)
        body.append("<h\(n)>\(inline(String(line[line.index(after: level)...])))</h\(n)>")
      } else if line.hasPrefix("- ") {
        if !paragraph.isEmpty { let l = list; list = []; flush(); list = l }
        list.append(String(line.dropFirst(2)))
      } else if line.hasPrefix("![") {
        flush()
        body.append(images(line, directory: directory))
      } else {
        if !list.isEmpty { flush() }
        paragraph.append(line)
      }
    }
    flush()
    return """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
      <style>
      body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1200px; padding: 0 16px; color: #222; }
      h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; } h3 { font-size: 15px; }
      table { border-collapse: collapse; font-size: 12px; margin: 8px 0; display: block; overflow-x: auto; }
      th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; white-space: nowrap; }
      th:first-child, td:first-child { text-align: left; } th { background: #f3f3f3; }
      .figures { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
      .figures figure { margin: 0; } .figures figcaption { font-size: 11px; color: #555; }
      .figures svg { max-width: 100%; height: auto; }
      code { background: #f3f3f3; padding: 0 3px; }
      </style></head><body>
      \(body.joined(separator: "\n"))
      </body></html>

      """
  }

  static func cells(_ line: String) -> [String] {
    // `\|` is a bar inside a cell (Markdown.escape).
    let guarded = line.replacingOccurrences(of: "\\|", with: "\u{1}")
    var parts = guarded.split(separator: "|", omittingEmptySubsequences: false)
      .map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\u{1}", with: "|") }
    if parts.first == "" { parts.removeFirst() }
    if parts.last == "" { parts.removeLast() }
    return parts
  }

  static func htmlTable(_ rows: [[String]]) -> String {
    guard let header = rows.first else { return "" }
    let body = rows.dropFirst().filter { !$0.allSatisfy { $0.allSatisfy { "-: ".contains($0) } } }
    return "<table><thead><tr>" + header.map { "<th>\(inline($0))</th>" }.joined() + "</tr></thead><tbody>"
      + body.map { "<tr>" + $0.map { "<td>\(inline($0))</td>" }.joined() + "</tr>" }.joined() + "</tbody></table>"
  }

  /// One or more `![alt](path)` on a line: each becomes a figure (SVG inlined, PNG as data).
  static func images(_ line: String, directory: URL) -> String {
    var figures: [String] = []
    var rest = Substring(line)
    while let open = rest.range(of: "!["), let mid = rest[open.upperBound...].range(of: "]("),
          let close = rest[mid.upperBound...].firstIndex(of: ")") {
      let alt = String(rest[open.upperBound..<mid.lowerBound]), path = String(rest[mid.upperBound..<close])
      figures.append("<figure>" + embed(path, alt: alt, directory: directory) + "<figcaption>\(escape(alt))</figcaption></figure>")
      rest = rest[rest.index(after: close)...]
    }
    return "<div class=\"figures\">" + figures.joined() + "</div>"
  }

  static func embed(_ path: String, alt: String, directory: URL) -> String {
    let url = directory.appendingPathComponent(path)
    guard let data = FileManager.default.contents(atPath: url.path) else { return "<em>missing: \(escape(path))</em>" }
    if path.hasSuffix(".svg") {
      let svg = String(decoding: data, as: UTF8.self)
      return svg.range(of: "<svg").map { String(svg[$0.lowerBound...]) } ?? svg
    }
    return "<img alt=\"\(escape(alt))\" src=\"data:image/png;base64,\(data.base64EncodedString())\">"
  }

  /// `**bold**` and `code` inside escaped text.
  static func inline(_ text: String) -> String {
    var out = escape(text)
    for (mark, tag) in [("**", "strong"), ("`", "code")] {
      var pieces = out.components(separatedBy: mark)
      guard pieces.count >= 3 else { continue }
      var joined = pieces.removeFirst()
      for (k, piece) in pieces.enumerated() { joined += (k % 2 == 0 ? "<\(tag)>" : "</\(tag)>") + piece }
      if pieces.count % 2 == 1 { joined += "</\(tag)>" }
      out = joined
    }
    return out
  }

  static func escape(_ s: String) -> String { SVGChart.escape(s) }
}
