import XCTest
import Dispatch
@testable import TNSwift

/// The engine's parallel loops (`TensorKernels.forEach` and `concurrently`, on the worker pool
/// of `Sources/TNKernels/WorkerPool.c`): every index runs exactly once — in loops of any size,
/// loops nested in a loop, and loops started from several threads at once — and the pool does
/// put a second thread to work; and how one GEMM is cut into blocks for the workers.
final class WorkerPoolTests: XCTestCase {
    private var previousThreads = 1

    override func setUp() { previousThreads = ThreadSettings.setThreads(2) }
    override func tearDown() { ThreadSettings.setThreads(previousThreads) }

    /// Runs `loop` over a counter per index (each index touches only its own counter) and
    /// checks that every counter is 1.
    private func checkOnce(_ count: Int, _ what: String, _ loop: (Int, (Int) -> Void) -> Void,
                           file: StaticString = #filePath, line: UInt = #line) {
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: Swift.max(count, 1))
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: Swift.max(count, 1))
        loop(count) { hits[$0] &+= 1 }
        let wrong = (0..<count).filter { hits[$0] != 1 }
        XCTAssertTrue(wrong.isEmpty, "\(what) count \(count): indices \(wrong.prefix(5)) ran \(wrong.prefix(5).map { hits[$0] }) times",
                      file: file, line: line)
    }

    func testEveryIndexRunsOnce() {
        for count in [0, 1, 2, 3, 5, 64, 1000] {
            for _ in 0..<100 {
                checkOnce(count, "concurrently") { n, body in TensorKernels.concurrently(n, body) }
                checkOnce(count, "forEach") { n, body in TensorKernels.forEach(n, parallel: true, body) }
            }
        }
    }

    func testNestedLoopsRunOnTheirCaller() {
        // The inner loops start while the outer one holds the pool: they run inline.
        checkOnce(8 * 50, "nested") { _, body in
            TensorKernels.concurrently(8) { outer in
                TensorKernels.forEach(50, parallel: true) { inner in body(outer &* 50 &+ inner) }
            }
        }
    }

    func testLoopsFromSeveralThreadsAtOnce() {
        let callers = 4, rounds = 200, width = 16
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: callers * rounds * width)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: callers * rounds * width)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            for round in 0..<rounds {
                TensorKernels.concurrently(width) { i in hits[(caller &* rounds &+ round) &* width &+ i] &+= 1 }
            }
        }
        XCTAssertTrue((0..<(callers * rounds * width)).allSatisfy { hits[$0] == 1 })
    }

    func testHowOneGemmSplits() {
        // Below the work threshold: one block.
        XCTAssertEqual(LinalgKernels.gemmSplit(m: 32, n: 32, k: 32, parallel: true, as: Double.self).blocks, 1)
        XCTAssertEqual(LinalgKernels.gemmSplit(m: 512, n: 512, k: 512, parallel: false, as: Double.self).blocks, 1)
        // OpenBLAS shapes split by rows unless C is much wider than tall.
        XCTAssertTrue(LinalgKernels.gemmSplit(m: 32, n: 128, k: 256, parallel: true, as: Double.self) == (2, true))
        XCTAssertTrue(LinalgKernels.gemmSplit(m: 32, n: 2048, k: 256, parallel: true, as: Double.self) == (2, false))
        // The small-GEMM kernel's shapes split along the longer side.
        XCTAssertTrue(LinalgKernels.gemmSplit(m: 64, n: 11200, k: 28, parallel: true, as: Float.self) == (2, false))
        // A preferred side too short to split leaves the other (W5b's m 16, n 32, k 89600).
        XCTAssertTrue(LinalgKernels.gemmSplit(m: 16, n: 32, k: 89600, parallel: true, as: Float.self) == (2, false))
        XCTAssertTrue(LinalgKernels.gemmSplit(m: 16, n: 16, k: 1 << 13, parallel: true, as: Float.self).blocks == 1)
    }

    /// A small C with a long k splits k over the workers (each multiplies its own slice, then
    /// the slices are added): every transpose, and a C whose rows are padded.
    func testLongInnerSizeSplitsOverTheWorkers() {
        let (m, n, k, ldc) = (16, 32, 8192, 35)
        XCTAssertTrue(LinalgKernels.gemmSplitsInner(m: m, n: n, k: k))
        XCTAssertFalse(LinalgKernels.gemmSplitsInner(m: 256, n: 256, k: 8192))   // C too large
        XCTAssertFalse(LinalgKernels.gemmSplitsInner(m: 16, n: 32, k: 1024))     // k too short
        var rng = TestRandom(state: 11)
        let a = rng.array(m * k), b = rng.array(k * n)
        for transA in [false, true] {
            for transB in [false, true] {
                // op(A)[i, p] and op(B)[p, j] are the same numbers whichever way they are stored.
                let aStored = transA ? (0..<(k * m)).map { a[($0 % m) * k + $0 / m] } : a
                let bStored = transB ? (0..<(n * k)).map { b[($0 % k) * n + $0 / k] } : b
                var c = [Double](repeating: -3, count: m * ldc)
                aStored.withUnsafeBufferPointer { ap in
                    bStored.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            LinalgKernels.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!,
                                               lda: transA ? m : k, b: bp.baseAddress!, ldb: transB ? k : n,
                                               c: cp.baseAddress!, ldc: ldc)
                        }
                    }
                }
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<ldc {
                        if j >= n { XCTAssertEqual(c[i * ldc + j], -3, "padding written"); continue }
                        var want = 0.0
                        for p in 0..<k { want += a[i * k + p] * b[p * n + j] }
                        worst = max(worst, abs(c[i * ldc + j] - want))
                    }
                }
                XCTAssertLessThan(worst, 1e-10, "transA \(transA) transB \(transB)")
            }
        }
    }

    /// `LinalgKernels.gemm` with C overwritten or added to (the convolutions' weight gradient
    /// sums over images), on a shape the small-GEMM kernel takes, one OpenBLAS takes, and one
    /// large enough to split over the workers, split or not; and with an empty inner size.
    func testGemmOverwritesOrAccumulates() {
        for (m, n, k) in [(21, 32, 16), (19, 27, 70), (300, 200, 50)] {
            var rng = TestRandom(state: UInt64(m * n + k))
            let a = rng.array(m * k), b = rng.array(k * n), c0 = rng.array(m * n)
            for accumulate in [false, true] {
                for parallel in [false, true] {
                    var c = c0
                    a.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            c.withUnsafeMutableBufferPointer { cp in
                                LinalgKernels.gemm(transA: false, transB: false, m: m, n: n, k: k, a: ap.baseAddress!,
                                                   lda: k, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n,
                                                   accumulate: accumulate, parallel: parallel)
                            }
                        }
                    }
                    var worst = 0.0
                    for i in 0..<m {
                        for j in 0..<n {
                            var want = accumulate ? c0[i * n + j] : 0
                            for p in 0..<k { want += a[i * k + p] * b[p * n + j] }
                            worst = max(worst, abs(c[i * n + j] - want))
                        }
                    }
                    XCTAssertLessThan(worst, 1e-12, "m \(m) n \(n) k \(k) accumulate \(accumulate) parallel \(parallel)")
                }
            }
        }
        // k = 0: an empty sum, so C is zeroed, or left as it is when accumulating.
        var c = [Double](repeating: 5, count: 6)
        let empty = [Double](repeating: 0, count: 1)
        empty.withUnsafeBufferPointer { e in
            c.withUnsafeMutableBufferPointer { cp in
                LinalgKernels.gemm(transA: false, transB: false, m: 2, n: 3, k: 0, a: e.baseAddress!, lda: 0,
                                   b: e.baseAddress!, ldb: 3, c: cp.baseAddress!, ldc: 3, accumulate: true)
            }
        }
        XCTAssertEqual(c, [Double](repeating: 5, count: 6))
        empty.withUnsafeBufferPointer { e in
            c.withUnsafeMutableBufferPointer { cp in
                LinalgKernels.gemm(transA: false, transB: false, m: 2, n: 3, k: 0, a: e.baseAddress!, lda: 0,
                                   b: e.baseAddress!, ldb: 3, c: cp.baseAddress!, ldc: 3)
            }
        }
        XCTAssertEqual(c, [Double](repeating: 0, count: 6))
    }

    func testASecondThreadTakesWork() throws {
        try XCTSkipIf(ProcessInfo.processInfo.activeProcessorCount < 2, "one CPU: the pool has no worker")
        // Two indices that each take ~0.2 ms: a working pool runs them on two threads.
        var sawTwoThreads = false
        for _ in 0..<50 where !sawTwoThreads {
            var threads = [pthread_t?](repeating: nil, count: 2)
            threads.withUnsafeMutableBufferPointer { ids in
                let base = ids.baseAddress!
                TensorKernels.concurrently(2) { i in
                    base[i] = pthread_self()
                    let start = DispatchTime.now().uptimeNanoseconds
                    while DispatchTime.now().uptimeNanoseconds - start < 200_000 {}
                }
            }
            sawTwoThreads = pthread_equal(threads[0]!, threads[1]!) == 0
        }
        XCTAssertTrue(sawTwoThreads, "both indices ran on one thread in 50 loops")
    }
}
