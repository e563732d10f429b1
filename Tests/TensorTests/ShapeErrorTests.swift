import Foundation
import Testing

@testable import Tensor

/// A shape mismatch stops the process with a message naming the op and both shapes.
/// Each case runs in a child process (Swift Testing exit tests).
@Suite("Shape errors name the op and the shapes")
struct ShapeErrorTests {
  func stderrText(_ result: ExitTest.Result?) -> String {
    result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
  }

  @Test func matmulInnerDimensions() async {
    let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor.matmul(Tensor(zeros: [2, 3]), Tensor(zeros: [4, 5]))
    }
    #expect(stderrText(r).contains("matmul: inner dimensions differ, shapes [2, 3] and [4, 5]"))
  }

  @Test func broadcastAdd() async {
    let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor(zeros: [2, 3]) + Tensor(zeros: [4])
    }
    #expect(stderrText(r).contains("add: shapes [2, 3] and [4] cannot be broadcast"))
  }

  @Test func conv2dChannels() async {
    let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor.conv2d(Tensor(zeros: [1, 3, 8, 8]), weight: Tensor(zeros: [4, 2, 3, 3]), bias: nil)
    }
    #expect(stderrText(r).contains("conv2d: input shape [1, 3, 8, 8] and weight shape [4, 2, 3, 3]"))
  }

  @Test func scanDirectionsReadingOneToken() async {
    let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      let direction = { (tokens: [Int]) in
        ScanDirection(delta: Tensor(zeros: [1, 2, 3]), a: Tensor(zeros: [3, 2]), b: Tensor(zeros: [1, 2, 2]), c: Tensor(zeros: [1, 2, 2]),
                      d: Tensor(zeros: [3]), route: ScanRoute(tokens: tokens, steps: [0, 1]))
      }
      _ = Tensor.selectiveScan(u: Tensor(zeros: [1, 4, 3]), directions: [direction([0, 1]), direction([2, 0])])
    }
    #expect(stderrText(r).contains("selectiveScan: direction 1 reads token 0: outside 0..<4 or read by another direction"))
  }

  @Test func subGridLinearInput() async {
    let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor.linear(Tensor(zeros: [1, 15, 3]), weight: Tensor(zeros: [2, 3]), on: SubGrid(grid: 4, rowOffset: 0, columnOffset: 0))
    }
    #expect(stderrText(r).contains("linear on a sub-grid: input shape [1, 15, 3] is not [B, 16, 3]"))
  }

  @Test func mseShapes() async {
    let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor.mse(Tensor(zeros: [2, 3]), Tensor(zeros: [3, 2]))
    }
    #expect(stderrText(r).contains("mse: shapes [2, 3] and [3, 2] differ"))
  }

  @Test func layerNormWeight() async {
    let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor.layerNorm(Tensor(zeros: [2, 8]), weight: Tensor(zeros: [4]), bias: nil)
    }
    #expect(stderrText(r).contains("layerNorm: weight shape [4], input shape [2, 8]"))
  }

  @Test func attentionHeads() async {
    let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor.attention(q: Tensor(zeros: [1, 2, 6]), k: Tensor(zeros: [1, 2, 6]), v: Tensor(zeros: [1, 2, 6]), heads: 4)
    }
    #expect(stderrText(r).contains("attention: 4 heads do not divide q width 6"))
  }

  @Test func reshapeCount() async {
    let r = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
      _ = Tensor(zeros: [2, 3]).reshaped([4, 2])
    }
    #expect(stderrText(r).contains("reshape: shape [2, 3] (6 elements) cannot become [4, 2]"))
  }
}
