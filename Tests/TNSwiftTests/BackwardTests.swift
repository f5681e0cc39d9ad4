import XCTest
@testable import TNSwift

final class BackwardTests: XCTestCase {
    /// Gradients from the plan versus central finite differences of sum(out * dy).
    @discardableResult
    func check(_ subscripts: String, _ shapes: [[Int]], seed: UInt64 = 9, file: StaticString = #filePath, line: UInt = #line) throws -> ContractionPlan<Double> {
        var rng = TestRandom(state: seed)
        var ops = shapes.map { rng.array($0.reduce(1, *)) }
        let plan = try ContractionPlan<Double>(subscripts, shapes: shapes)
        var dy = rng.array(plan.outputShape.reduce(1, *))
        let objective = { (o: [[Double]]) -> Double in
            let y = try! runPlan(plan, o)
            return zip(y, dy).reduce(0) { $0 + $1.0 * $1.1 }
        }
        _ = try runPlan(plan, ops)   // forward first: backward reuses its intermediates
        var grads = shapes.map { [Double](repeating: .nan, count: $0.reduce(1, *)) }
        try ops.withUnsafeMutableBufferPointers { opBases in
            try grads.withUnsafeMutableBufferPointers { gBases in
                try dy.withUnsafeMutableBufferPointer { d in
                    let views = zip(opBases, shapes).map { StridedView(contiguous: $0.0, shape: $0.1) }
                    let gv = zip(gBases, shapes).map { Optional(StridedView(contiguous: $0.0, shape: $0.1)) }
                    try plan.backward(dy: StridedView(contiguous: d.baseAddress!, shape: plan.outputShape), operands: views, grads: gv)
                }
            }
        }
        let h = 1e-6
        for i in 0..<ops.count {
            for j in 0..<ops[i].count {
                var plus = ops, minus = ops
                plus[i][j] += h; minus[i][j] -= h
                let fd = (objective(plus) - objective(minus)) / (2 * h)
                XCTAssertEqual(grads[i][j], fd, accuracy: 1e-6 * max(1, abs(fd)), "\(subscripts) operand \(i) element \(j)", file: file, line: line)
            }
        }
        return plan
    }

    func testGradientsMatchFiniteDifferences() throws {
        try check("ij,jk->ik", [[3, 4], [4, 5]])
        try check("ij,jk,kl->il", [[3, 4], [4, 5], [5, 2]])
        try check("aei,bfij,cgjk,dhk,nabcd->nefgh", [[2, 2, 3], [2, 2, 3, 3], [2, 2, 3, 3], [2, 2, 3], [3, 2, 2, 2, 2]])
        try check("bij,bjk->bik", [[3, 4, 5], [3, 5, 2]])
        try check("ii->i", [[4, 4]])
        try check("iij,jk->ik", [[3, 3, 4], [4, 5]])
        try check("ij->", [[3, 4]])
        try check("i,i->i", [[1], [3]])
        try check("ij,ij->", [[2, 1], [1, 3]])
        try check("abc,cd,de->abe", [[4, 5, 6], [6, 7], [7, 3]])
        try check("ij,jk->ik", [[40, 50], [50, 30]])
        try check("abc,cd->d", [[4, 5, 6], [6, 20]])      // one-sided sums in a GEMM-sized step
        try check("ab,bc->c", [[1, 50], [50, 60]])        // broadcast row
    }

    /// A tensor that two GEMMs read in the same copied layout is copied once: the backward of a
    /// TT-matrix reconstruction (W5a's weight) reads dy, the weight's gradient, with its row and
    /// column labels interleaved, for both operands of the last step.
    func testTwoReadersShareOneCopy() throws {
        let plan = try check("aAx,xbBy,ycCz,zdD->abcdABCD", [[3, 3, 2], [2, 3, 3, 2], [2, 3, 3, 2], [2, 3, 3]])
        let program = try XCTUnwrap(plan.backwardProgram)
        let copiesOfDy = program.instructions.filter {
            if case .transfer(_, let src, _, _, _) = $0 { return src == plan.dySlot }
            return false
        }
        XCTAssertEqual(copiesOfDy.count, 1, "\(program.instructions)")
    }

    /// Copies are priced by the run they read and write in step: the reconstruction orders
    /// its last GEMM's columns so that W is written from runs of 16 (the output's two
    /// innermost labels together), not of 4.
    func testReconstructionWritesTheWeightInLongRuns() throws {
        let shapes = [[4, 4, 2], [2, 4, 4, 2], [2, 4, 4, 2], [2, 4, 4]]
        let plan = try ContractionPlan<Double>("aAx,xbBy,ycCz,zdD->abcdABCD", shapes: shapes)
        var rng = TestRandom(state: 5)
        let g = shapes.map { rng.array($0.reduce(1, *)) }
        let w = try runPlan(plan, g)
        // W by its definition, element by element (row-major indices of each core).
        var worst = 0.0
        for a in 0..<4 { for b in 0..<4 { for c in 0..<4 { for d in 0..<4 {
            for A in 0..<4 { for B in 0..<4 { for C in 0..<4 { for D in 0..<4 {
                var sum = 0.0
                for x in 0..<2 { for y in 0..<2 { for z in 0..<2 {
                    sum += g[0][(a * 4 + A) * 2 + x] * g[1][((x * 4 + b) * 4 + B) * 2 + y]
                        * g[2][((y * 4 + c) * 4 + C) * 2 + z] * g[3][(z * 4 + d) * 4 + D]
                } } }
                let got = w[((((((a * 4 + b) * 4 + c) * 4 + d) * 4 + A) * 4 + B) * 4 + C) * 4 + D]
                worst = max(worst, abs(got - sum))
            } } } }
        } } } }
        XCTAssertLessThan(worst, 1e-12)
        let program = try XCTUnwrap(plan.forward)
        let runs = program.instructions.compactMap { instruction -> Int? in
            guard case .transfer(let sizes, _, let src, let dst, let dstStrides) = instruction, dst == plan.outputSlot else { return nil }
            return StepBinder.commonRun(sizes, src, dstStrides)
        }
        XCTAssertEqual(runs.count, 1, "\(program.instructions)")
        XCTAssertGreaterThanOrEqual(runs.first ?? 0, 16, "\(program.instructions)")
    }

    func testDirectFallbackGradients() throws {
        // A memory limit no pairwise path meets: the direct loop and its backward.
        var rng = TestRandom(state: 4)
        let shapes = [[3, 4], [4, 5], [5, 2]]
        let plan = try ContractionPlan<Double>("ab,bc,cd->ad", shapes: shapes, memoryLimit: 1)
        XCTAssertTrue(plan.path.isDirect)
        let ops = shapes.map { rng.array($0.reduce(1, *)) }
        let e = try EinsumParser.parse("ab,bc,cd->ad", ndims: [2, 2, 2])
        XCTAssertLessThan(maxRelativeError(try runPlan(plan, ops), referenceEinsum(e, ops, shapes).values), 1e-12)
    }
}
