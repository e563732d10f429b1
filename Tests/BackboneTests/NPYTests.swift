import Foundation
import Testing
import TestSupport

@testable import Backbone
import Tensor

@Suite("NPY files")
struct NPYTests {
  @Test func roundTripAndNumPyReadsIt() throws {
    let dir = try temporaryDirectory("npy")
    let path = dir.appendingPathComponent("a.npy").path
    let t = Tensor(shape: [2, 3, 5], data: (0..<30).map { Float($0) * 0.25 - 3 })
    try NPY.write(t, to: path)
    let back = try NPY.read(path)
    #expect(back.shape == t.shape && back.data == t.data)
    let check = "import numpy as n, sys; a = n.load(sys.argv[1]); assert a.dtype == n.float32 and a.shape == (2, 3, 5), a.shape; "
      + "assert (a.ravel() == n.arange(30) * 0.25 - 3).all(); print('ok')"
    let r = try runProcess("python3", ["-c", check, path], directory: repoRoot)
    #expect(r.status == 0 && r.stdout.contains("ok"), "numpy.load: \(r.stderr)")
    // Data starts 64-byte aligned, as numpy writes it.
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    #expect((bytes.count - 4 * 30) % 64 == 0)
  }

  @Test func readsNumPyWrittenFloat64AndScalarsShapes() throws {
    let dir = try temporaryDirectory("npy64")
    let path = dir.appendingPathComponent("b.npy").path
    let r = try runProcess("python3", ["-c", "import numpy as n, sys; n.save(sys.argv[1], n.array([[1.5], [-2.0]]))", path], directory: repoRoot)
    #expect(r.status == 0, "\(r.stderr)")
    let t = try NPY.read(path)
    #expect(t.shape == [2, 1] && t.data == [1.5, -2])
  }

  @Test func rejectsFortranOrderAndGarbage() throws {
    let dir = try temporaryDirectory("npybad")
    let f = dir.appendingPathComponent("f.npy").path
    _ = try runProcess("python3", ["-c", "import numpy as n, sys; n.save(sys.argv[1], n.asfortranarray(n.ones((2, 3), n.float32)))", f], directory: repoRoot)
    let e = #expect(throws: BackboneError.self) { try NPY.read(f) }
    #expect(e?.description.contains("Fortran") == true)
    let g = dir.appendingPathComponent("g.npy").path
    try Data("not numpy".utf8).write(to: URL(fileURLWithPath: g))
    #expect(throws: BackboneError.self) { try NPY.read(g) }
  }
}
