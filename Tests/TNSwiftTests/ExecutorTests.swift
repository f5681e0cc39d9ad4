import XCTest
@testable import TNSwift

final class ExecutorTests: XCTestCase {
    func check(_ subscripts: String, _ shapes: [[Int]], seed: UInt64 = 1, file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = TestRandom(state: seed)
        let ops = shapes.map { rng.array($0.reduce(1, *)) }
        let e = try EinsumParser.parse(subscripts, ndims: shapes.map(\.count))
        let ref = referenceEinsum(e, ops, shapes)
        for strategy in [PathStrategy.auto, .greedy, .none] {
            let plan = try ContractionPlan<Double>(expression: e, shapes: shapes, strategy: strategy)
            XCTAssertEqual(plan.outputShape, ref.shape, file: file, line: line)
            let got = try runPlan(plan, ops)
            XCTAssertLessThan(maxRelativeError(got, ref.values), 1e-12, "\(subscripts) \(strategy)", file: file, line: line)
        }
    }

    func testSeedExamples() throws {
        try check("i->", [[5]])
        try check("ij->i", [[3, 4]])
        try check("ij->j", [[3, 4]])
        try check("i,i->", [[6], [6]])
        try check("i,j->ij", [[3], [4]])
        try check("ij,j->i", [[30, 40], [40]])
        try check("ij,jk->ik", [[20, 30], [30, 40]])
        try check("ijk,jil->kl", [[3, 4, 5], [4, 3, 6]])
        try check("aei,bfij,cgjk,dhk,nabcd->nefgh", [[3, 2, 3], [3, 2, 3, 3], [3, 2, 3, 3], [3, 2, 3], [4, 3, 3, 3, 3]])
    }

    func testDiagonalsTracesBroadcastAndEmpty() throws {
        try check("ii->", [[4, 4]])
        try check("ii->i", [[4, 4]])
        try check("iij,jk->ik", [[3, 3, 5], [5, 2]])
        try check("ij,ij->", [[2, 1], [1, 3]])
        try check("i,i->i", [[1], [3]])
        try check("...ij,...jk->...ik", [[2, 3, 4], [4, 5]])
        try check("ij,jk->ik", [[3, 0], [0, 4]])
        try check("ij,jk->ik", [[0, 3], [3, 4]])
        try check("bij,bjk->bik", [[7, 9, 11], [7, 11, 13]])
        try check("abc,cd,de->abe", [[5, 6, 7], [7, 8], [8, 9]])
        // GEMM-sized steps whose operands have labels summed on one side only, or broadcast.
        try check("abc,cd->d", [[8, 9, 10], [10, 30]])
        try check("abc,cd->ad", [[8, 9, 10], [10, 30]])
        try check("ab,cd->", [[20, 30], [40, 50]])
        try check("abc,bcd->ad", [[20, 1, 40], [30, 40, 5]])
    }

    func testGeneratedEquationsAgainstReference() throws {
        var rng = TestRandom(state: 42)
        let letters = Array("abcdefg")
        for trial in 0..<150 {
            let n = rng.int(1...4)
            let labelCount = rng.int(2...6)
            let sizes = (0..<labelCount).map { _ in rng.int(1...5) }
            var terms: [[Int]] = []
            for _ in 0..<n { terms.append((0..<rng.int(1...3)).map { _ in rng.int(0...(labelCount - 1)) }) }
            let used = Set(terms.joined())
            let output = used.filter { _ in rng.next() > 0.5 }.sorted()
            let text = terms.map { String($0.map { letters[$0] }) }.joined(separator: ",") + "->" + String(output.map { letters[$0] })
            let shapes = terms.map { $0.map { sizes[$0] } }
            try check(text, shapes, seed: UInt64(trial))
        }
    }

    func testStridedAndNegativeStrideViews() throws {
        // A transposed view and a reversed view, read in place.
        var rng = TestRandom(state: 5)
        var a = rng.array(6 * 8), b = rng.array(8 * 5)
        let plan = try ContractionPlan<Double>("ij,jk->ik", shapes: [[6, 8], [8, 5]])
        var out = [Double](repeating: 0, count: 30)
        try a.withUnsafeMutableBufferPointer { pa in
            try b.withUnsafeMutableBufferPointer { pb in
                // A viewed as the transpose of an 8x6 array; B rows reversed.
                let va = try StridedView(base: pa.baseAddress!, shape: [6, 8], strides: [1, 6])
                let vb = try StridedView(base: pb.baseAddress! + 7 * 5, shape: [8, 5], strides: [-5, 1])
                try out.withUnsafeMutableBufferPointer { po in
                    try plan.execute([va, vb], into: StridedView(contiguous: po.baseAddress!, shape: [6, 5]))
                }
                XCTAssertEqual(plan.lastOperandAddress(0), UInt(bitPattern: pa.baseAddress!))
            }
        }
        for i in 0..<6 { for k in 0..<5 {
            var s = 0.0
            for j in 0..<8 { s += a[j * 6 + i] * b[(7 - j) * 5 + k] }
            XCTAssertEqual(out[i * 5 + k], s, accuracy: 1e-12)
        } }
    }

    func testOutputAliasingAnInput() throws {
        var x: [Double] = (0..<16).map(Double.init)
        let plan = try ContractionPlan<Double>("ij->ji", shapes: [[4, 4]])
        let expected = (0..<16).map { Double(($0 % 4) * 4 + $0 / 4) }
        try x.withUnsafeMutableBufferPointer { p in
            let v = StridedView(contiguous: p.baseAddress!, shape: [4, 4])
            try plan.execute([v], into: v)
        }
        XCTAssertEqual(x, expected)
    }

    func testShapeMismatchThrows() throws {
        XCTAssertThrowsError(try ContractionPlan<Double>("ij,jk->ik", shapes: [[2, 3], [4, 5]])) { error in
            XCTAssertTrue("\(error)".contains("label 'j'"))
        }
        XCTAssertThrowsError(try ContractionPlan<Double>("ii->i", shapes: [[2, 3]]))
        XCTAssertThrowsError(try ContractionPlan<Double>("ij->", shapes: [[Int.max / 2, 4]])) { error in
            XCTAssertTrue("\(error)".contains("overflows"))
        }
    }
}
