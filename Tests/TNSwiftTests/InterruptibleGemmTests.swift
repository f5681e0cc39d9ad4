import XCTest
@testable import TNSwift

/// A GEMM of at least twice `InterruptCheck.gemmChunkWork` multiply-adds runs in chunks of C's
/// rows (or columns) and polls the interrupt check between them: the chunks give the product
/// of the whole, and a check that asks to stop part-way stops the GEMM part-way.
final class InterruptibleGemmTests: XCTestCase {
    /// Counts polls in `context[0]`; asks to stop once polled `context[1]` times before.
    private static let countingCheck: InterruptCheck.Function = { context in
        let counters = context!.assumingMemoryBound(to: Int.self)
        defer { counters[0] += 1 }
        return counters[0] >= counters[1] ? 1 : 0
    }

    override func tearDown() {
        InterruptCheck.install(nil, context: nil)
        InterruptCheck.gemmChunkWork = 4_294_967_296
        super.tearDown()
    }

    func testChunkedGemmsMatchTheWholeAndStopPartWay() throws {
        let counters = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        defer { counters.deallocate() }
        // Row chunks (m >= n) and column chunks, with each operand transposed or not.
        let cases: [(String, [[Int]])] = [
            ("ij,jk->ik", [[96, 40], [40, 48]]), ("ji,jk->ik", [[40, 96], [40, 48]]),
            ("ij,kj->ik", [[48, 40], [96, 40]]), ("ji,kj->ik", [[40, 48], [96, 40]]),
        ]
        for (subscripts, shapes) in cases {
            let plan = try ContractionPlan<Double>(subscripts, shapes: shapes)
            var rng = TestRandom(state: 5)
            let operands = shapes.map { rng.array($0.reduce(1, *)) }
            let whole = try runPlan(plan, operands)
            var gemms = 0
            for case .gemm(let g) in plan.forward!.instructions where g.batchSizes.isEmpty { gemms += 1 }
            XCTAssertEqual(plan.forward!.instructions.count, 1, subscripts)
            XCTAssertEqual(gemms, 1, "\(subscripts): one GEMM")

            // 96 × 48 × 40 = 184,320 multiply-adds in chunks of 40,000: 4 chunks.
            InterruptCheck.gemmChunkWork = 40_000
            counters[0] = 0; counters[1] = .max
            InterruptCheck.install(Self.countingCheck, context: counters)
            let chunked = try runPlan(plan, operands)
            XCTAssertEqual(counters[0], 1 + 4, "\(subscripts): polled before the GEMM and before each chunk")
            for (x, y) in zip(chunked, whole) { XCTAssertEqual(x, y, accuracy: 1e-12 * Swift.max(1, abs(y)), subscripts) }

            // Stopping before the third chunk: interrupted, after 3 polls.
            counters[0] = 0; counters[1] = 3
            XCTAssertThrowsError(try runPlan(plan, operands), subscripts) { error in
                guard case TNError.interrupted = error else { return XCTFail("\(subscripts): \(error)") }
            }
            XCTAssertEqual(counters[0], 4, subscripts)

            // Below twice the chunk size the GEMM runs whole: one poll.
            InterruptCheck.gemmChunkWork = 100_000
            counters[0] = 0; counters[1] = .max
            XCTAssertEqual(try runPlan(plan, operands), whole, subscripts)
            XCTAssertEqual(counters[0], 1, subscripts)
            InterruptCheck.install(nil, context: nil)
        }
    }
}
