import ImageIO

/// The two evaluation protocols of SPEC §8. Both score without UniAD's `1 − auc` flip; every
/// report names the one it used.
public enum EvaluationProtocol: String, Codable, CaseIterable, Sendable {
  /// MVTec 3D-AD's evaluation code: maps and ground truth at the original image size, image
  /// score = maximum of the map.
  case official
  /// The paper's (UniAD / IUF / IB-IUMAD code): maps and ground truth at the input resolution
  /// (map bilinear, ground truth nearest), image score = maximum of the k×k average-pooled map.
  case uniad

  /// One line for reports.
  public var summary: String {
    switch self {
    case .official:
      return "official (MVTec 3D-AD): maps and ground truth at the original image size, image score = max of the map, AUPRO to FPR 0.3, no 1 − AUC flip"
    case .uniad:
      return "uniad (paper): maps and ground truth at the input resolution, image score = max of the k×k average-pooled map, AUPRO to FPR 0.3, no 1 − AUC flip"
    }
  }
}

/// One test image brought to the protocol's resolution: its map, binary ground truth and score.
public struct PreparedImage: Sendable {
  public var map: [Float]
  public var mask: [UInt8]
  public var width: Int
  public var height: Int
  public var score: Float
}

/// A protocol with its parameters.
public struct ProtocolSettings: Sendable {
  public var kind: EvaluationProtocol
  /// `uniad`: the square side maps and ground truth are resized to.
  public var inputSize: Int
  /// `uniad`: the average-pooling window of the image score.
  public var pool: Int

  /// `pool` defaults to 16: UniAD's setting (its feature stride), the one training uses too.
  /// Maps and masks are resized to inputSize² per image; past this the resize alone needs gigabytes.
  public static let maxInputSize = 4096

  public init(_ kind: EvaluationProtocol, inputSize: Int = 224, pool: Int? = nil) throws {
    guard (1...Self.maxInputSize).contains(inputSize) else {
      throw MetricsError.invalidArgument(what: "protocol \(kind.rawValue)", reason: "input size must be in 1...\(Self.maxInputSize), got \(inputSize)")
    }
    let k = pool ?? min(16, inputSize)
    guard k >= 1 && k <= inputSize else {
      throw MetricsError.invalidArgument(what: "protocol \(kind.rawValue)", reason: "pool size must be in 1...\(inputSize), got \(k)")
    }
    self.kind = kind
    self.inputSize = inputSize
    self.pool = k
  }

  /// Brings one image's anomaly map (1 channel, any size) and ground truth (1 channel at the
  /// original size, nonzero = defect) to the protocol's resolution — `official`: the ground
  /// truth's size; `uniad`: inputSize² — and scores it.
  public func prepare(map: Image, mask: Image) throws -> PreparedImage {
    guard map.channels == 1 && mask.channels == 1 else {
      throw MetricsError.invalidArgument(what: "protocol \(kind.rawValue)",
                                         reason: "map and mask must have 1 channel, got \(map.channels) and \(mask.channels)")
    }
    let (w, h) = kind == .official ? (mask.width, mask.height) : (inputSize, inputSize)
    let m = Resize.bilinear(map, width: w, height: h).data
    let gt = Resize.nearest(mask, width: w, height: h).data.map { $0 != 0 ? UInt8(1) : 0 }
    let score = kind == .official
      ? ImageScore.maximum(m)
      : try ImageScore.maxOfAveragePooled(m, width: w, height: h, kernel: pool)
    return PreparedImage(map: m, mask: gt, width: w, height: h, score: score)
  }
}

extension ClassScores {
  /// A class's scores from its prepared test images (all of one size) and their labels.
  public init(className: String, images: [PreparedImage], labels: [Int]) throws {
    let w = images.first?.width ?? 0, h = images.first?.height ?? 0
    if let odd = images.firstIndex(where: { $0.width != w || $0.height != h }) {
      throw MetricsError.invalidArgument(what: "class '\(className)'",
                                         reason: "image \(odd) is \(images[odd].width)x\(images[odd].height), image 0 is \(w)x\(h)")
    }
    self.init(className: className, imageScores: images.map(\.score), imageLabels: labels,
              maps: images.map(\.map), masks: images.map(\.mask), height: h, width: w)
  }
}
