import XCTest
@testable import TNSwift

/// Which instructions of a bound program may run at the same time (`ProgramStages`), and the
/// gradients of a plan whose backward runs stages concurrently against the same plan run one
/// instruction at a time.
final class ProgramStagesTests: XCTestCase {
    private func gemm(_ a: Int, _ b: Int, into c: Int, size: Int = 64, batch: Int = 1) -> PlanInstruction {
        .gemm(GemmCall(batchSizes: batch > 1 ? [batch] : [], batchStridesA: batch > 1 ? [size * size] : [],
                       batchStridesB: batch > 1 ? [size * size] : [], batchStridesC: batch > 1 ? [size * size] : [],
                       a: a, b: b, c: c, m: size, n: size, k: size, transA: false, transB: false,
                       lda: size, ldb: size, ldc: size))
    }

    private func copy(_ src: Int, into dst: Int, elements: Int = 1 << 14) -> PlanInstruction {
        .transfer(sizes: [elements], src: src, srcStrides: [1], dst: dst, dstStrides: [1])
    }

    func testIndependentStepsShareAStage() {
        // Two products of the same inputs, then a reader of each: two stages of two.
        let program = [gemm(0, 1, into: 5), gemm(0, 2, into: 6), copy(5, into: 7), copy(6, into: 8)]
        let stages = ProgramStages(program) { $0 }
        XCTAssertEqual(stages.stages.map { $0.sorted() }, [[0, 1], [2, 3]])
        XCTAssertEqual(stages.concurrent, [true, true])
    }

    func testConflictsOrderTheirInstructions() {
        // Read after write, write after read, write after write.
        let afterWrite = ProgramStages([gemm(0, 1, into: 5), gemm(5, 1, into: 6)]) { $0 }
        XCTAssertEqual(afterWrite.stages, [[0], [1]])
        let afterRead = ProgramStages([gemm(5, 1, into: 6), copy(0, into: 5)]) { $0 }
        XCTAssertEqual(afterRead.stages, [[0], [1]])
        let twoWrites = ProgramStages([gemm(0, 1, into: 5), gemm(0, 2, into: 5)]) { $0 }
        XCTAssertEqual(twoWrites.stages, [[0], [1]])
        // A later instruction that conflicts with nothing joins the first stage.
        let late = ProgramStages([gemm(0, 1, into: 5), gemm(5, 1, into: 6), gemm(0, 2, into: 7)]) { $0 }
        XCTAssertEqual(late.stages.map { $0.sorted() }, [[0, 2], [1]])
    }

    func testSlotsOfOneBufferConflict() {
        // Slots 5 and 6 name the same memory: writing one and reading the other are ordered.
        let program = [gemm(0, 1, into: 5), copy(6, into: 7)]
        XCTAssertEqual(ProgramStages(program) { $0 == 6 ? 5 : $0 }.stages, [[0], [1]])
        XCTAssertEqual(ProgramStages(program) { $0 }.stages.count, 1)
    }

    func testOnlyStagesWorthAHandOffRunConcurrently() {
        // Tiny instructions: not worth a worker.
        let tiny = ProgramStages([gemm(0, 1, into: 5, size: 8), gemm(0, 2, into: 6, size: 8)]) { $0 }
        XCTAssertEqual(tiny.concurrent, [false])
        // A GEMM that splits over the workers by itself, or a batch of GEMMs, keeps the cores.
        let large = ProgramStages([gemm(0, 1, into: 5, size: 128), gemm(0, 2, into: 6)]) { $0 }
        XCTAssertEqual(large.concurrent, [false])
        let batched = ProgramStages([gemm(0, 1, into: 5, batch: 4), gemm(0, 2, into: 6)]) { $0 }
        XCTAssertEqual(batched.concurrent, [false])
        // Past the work threshold, a GEMM whose C is too narrow to split and whose k is too
        // short to split runs on one core: it may share a stage. With k long enough, k splits.
        func narrow(k: Int) -> PlanInstruction {
            .gemm(GemmCall(batchSizes: [], batchStridesA: [], batchStridesB: [], batchStridesC: [], a: 0, b: 1, c: 5,
                           m: 30, n: 30, k: k, transA: false, transB: false, lda: k, ldb: 30, ldc: 30))
        }
        XCTAssertEqual(ProgramStages.cost(narrow(k: 1200)), 30 * 30 * 1200)
        XCTAssertNil(ProgramStages.cost(narrow(k: 1920)))
        XCTAssertNil(ProgramStages.cost(gemm(0, 1, into: 5, size: 128)))
        XCTAssertEqual(ProgramStages([narrow(k: 1200), gemm(0, 2, into: 6)]) { $0 }.concurrent, [true])
        // In a concurrent stage the costliest instruction is listed (and claimed) first.
        let mixed = ProgramStages([copy(0, into: 5), gemm(0, 1, into: 6)]) { $0 }
        XCTAssertEqual(mixed.stages, [[1, 0]])
        XCTAssertEqual(mixed.concurrent, [true])
    }

    /// W2's CP layer as one plan: its backward has concurrent stages, and with two workers its
    /// gradients are bit-for-bit those of one worker (each instruction is the same call either
    /// way; only the order between independent ones differs).
    func testConcurrentBackwardMatchesSerial() throws {
        let subscripts = "zabc,R,aR,bR,cR,mR,nR,oR->zmno"
        let shapes = [[32, 4, 4, 16], [100], [4, 100], [4, 100], [16, 100], [4, 100], [4, 100], [8, 100]]
        var rng = TestRandom(state: 21)
        let ops = shapes.map { rng.array($0.reduce(1, *)) }
        let dy = rng.array(32 * 4 * 4 * 8)
        func gradients(threads: Int) throws -> (grads: [[Double]], concurrent: Bool) {
            let previous = ThreadSettings.setThreads(threads)
            defer { ThreadSettings.setThreads(previous) }
            let plan = try ContractionPlan<Double>(subscripts, shapes: shapes)
            var operands = ops, grads = shapes.map { [Double](repeating: .nan, count: $0.reduce(1, *)) }, d = dy
            _ = try runPlan(plan, operands)
            try operands.withUnsafeMutableBufferPointers { opBases in
                try grads.withUnsafeMutableBufferPointers { gBases in
                    try d.withUnsafeMutableBufferPointer { dp in
                        let views = zip(opBases, shapes).map { StridedView(contiguous: $0.0, shape: $0.1) }
                        let gv = zip(gBases, shapes).map { Optional(StridedView(contiguous: $0.0, shape: $0.1)) }
                        try plan.backward(dy: StridedView(contiguous: dp.baseAddress!, shape: plan.outputShape),
                                          operands: views, grads: gv)
                    }
                }
            }
            return (grads, plan.backwardProgram?.stages?.concurrent.contains(true) ?? false)
        }
        let serial = try gradients(threads: 1)
        let concurrent = try gradients(threads: 2)
        XCTAssertTrue(concurrent.concurrent, "W2's backward has stages of independent GEMMs")
        for (i, (s, c)) in zip(serial.grads, concurrent.grads).enumerated() {
            XCTAssertFalse(s.contains { !$0.isFinite }, "operand \(i)")
            XCTAssertEqual(s, c, "operand \(i)")
        }
    }
}
