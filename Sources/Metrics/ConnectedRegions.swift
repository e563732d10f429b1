/// Connected defect regions of a binary mask, 8-connected: pixels touching by an edge or a corner
/// belong to one region — the 3×3 structuring element MVTec's evaluation code passes to
/// `scipy.ndimage.label`, so our regions (and hence PRO) match theirs.
struct ConnectedRegions {
  /// Per pixel (row-major): 0 for defect-free, else the region number 1...count.
  let labels: [UInt32]
  /// Pixel count of region k at index k − 1.
  let sizes: [Int]

  var count: Int { sizes.count }

  /// `mask` is row-major `height × width`; any nonzero value is a defect.
  init(mask: [UInt8], width: Int, height: Int) {
    precondition(mask.count == width * height, "ConnectedRegions: \(mask.count) values for \(width)x\(height)")
    var labels = [UInt32](repeating: 0, count: mask.count)
    var sizes: [Int] = []
    var stack: [Int] = []
    for seed in 0..<mask.count where mask[seed] != 0 && labels[seed] == 0 {
      // Flood fill from an unlabelled defect pixel with an explicit stack (no recursion depth
      // limit for large regions).
      let region = UInt32(sizes.count + 1)
      var size = 0
      labels[seed] = region
      stack.append(seed)
      while let p = stack.popLast() {
        size += 1
        let y = p / width, x = p % width
        for dy in -1...1 {
          let ny = y + dy
          guard ny >= 0 && ny < height else { continue }
          for dx in -1...1 {
            let nx = x + dx
            guard nx >= 0 && nx < width else { continue }
            let q = ny * width + nx
            if mask[q] != 0 && labels[q] == 0 {
              labels[q] = region
              stack.append(q)
            }
          }
        }
      }
      sizes.append(size)
    }
    self.labels = labels
    self.sizes = sizes
  }
}
