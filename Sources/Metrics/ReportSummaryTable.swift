/// One cell group of the paper-style summary table (Tables 1 and 3: rows = modality × method,
/// columns = setting × {I-AUROC, AUPRO, FM}). The caller passes one entry per run, so runs of
/// several settings, methods and ablations combine into one table.
public struct SummaryEntry: Equatable, Sendable {
  /// e.g. "RGB + depth".
  public var modality: String
  /// e.g. "IB-IUMAD", "w/o IBFM".
  public var method: String
  /// e.g. "6-1x4".
  public var setting: String
  /// Mean I-AUROC and AUPRO over all classes after the last step, as fractions.
  public var iAUROC: Double?
  public var aupro: Double?
  /// FM of I-AUROC (Eq. 1), as a fraction; nil when undefined (a single step, e.g. 10-0).
  public var fm: Double?

  public init(modality: String, method: String, setting: String, iAUROC: Double?, aupro: Double?, fm: Double?) {
    self.modality = modality
    self.method = method
    self.setting = setting
    self.iAUROC = iAUROC
    self.aupro = aupro
    self.fm = fm
  }

  /// The entry of a finished run: the last step's means and the FM of I-AUROC.
  public init(modality: String, method: String, setting: String, matrix: MetricsMatrix) {
    let final = matrix.steps.last.flatMap { matrix.mean(step: $0) }
    self.init(modality: modality, method: method, setting: setting, iAUROC: final?.iAUROC, aupro: final?.aupro,
              fm: matrix.forgetting()[.iAUROC] ?? nil)
  }
}

enum SummaryTable {
  /// Rows in first-appearance order of (modality, method), setting columns in first-appearance
  /// order; a combination without an entry shows "–". Values in percent.
  static func markdown(_ entries: [SummaryEntry]) -> String {
    var settings: [String] = []
    var rows: [(modality: String, method: String)] = []
    for e in entries {
      if !settings.contains(e.setting) { settings.append(e.setting) }
      if !rows.contains(where: { $0 == (e.modality, e.method) }) { rows.append((e.modality, e.method)) }
    }
    var header = ["Modality", "Method"]
    for s in settings { header += ["\(s) I-AUROC ↑", "\(s) AUPRO ↑", "\(s) FM ↓"] }
    var body: [[String]] = []
    for row in rows {
      var cells = [Markdown.escape(row.modality), Markdown.escape(row.method)]
      for s in settings {
        let e = entries.last { $0.modality == row.modality && $0.method == row.method && $0.setting == s }
        cells += [e?.iAUROC, e?.aupro, e?.fm].map(Markdown.percent)
      }
      body.append(cells)
    }
    return Markdown.table(header: header, rows: body, textColumns: 2)
  }
}
