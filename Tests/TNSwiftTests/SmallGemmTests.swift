import XCTest
import TNKernels
@testable import TNSwift

/// The hand-written small-GEMM kernel against a float64 index loop: every transpose, padded
/// leading dimensions, partial panels, row counts that are not a multiple of the tile, a
/// packed B too large for the stack buffer, and stores that bypass the caches — on AVX2 and,
/// where the CPU has it, on AVX-512.
final class SmallGemmTests: XCTestCase {
    /// Runs `body` with the kernels on AVX2, then on AVX-512 when this CPU has it (passing
    /// which), and puts back the instruction set in use before.
    func forEachInstructionSet(_ body: (String) throws -> Void) rethrows {
        let before = tnk_set_avx512(0)
        defer { _ = tnk_set_avx512(before) }
        try body("AVX2")
        if tnk_set_avx512(1) == 0 && tnk_avx512() != 0 { try body("AVX-512") }
    }

    func check<T: BLASScalar>(_: T.Type, m: Int, n: Int, k: Int, transA: Bool, transB: Bool, accumulate: Bool,
                              pad: Int, tolerance: Double, isa: String,
                              file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(state: UInt64(m &* 131 &+ n &* 17 &+ k &+ pad))
        let lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad
        let aRows = transA ? k : m, bRows = transB ? n : k
        let a = rng.array(aRows * lda), b = rng.array(bRows * ldb), c0 = rng.array(m * ldc)
        var want = c0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let x = Double(T(a[transA ? p * lda + i : i * lda + p]))
                    let y = Double(T(b[transB ? j * ldb + p : p * ldb + j]))
                    sum += x * y
                }
                want[i * ldc + j] = accumulate ? Double(T(c0[i * ldc + j])) + sum : sum
            }
        }
        let aT = a.map { T($0) }, bT = b.map { T($0) }
        var c = c0.map { T($0) }
        let ran = aT.withUnsafeBufferPointer { ap in
            bT.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    T.smallGemm(transA: transA, transB: transB, accumulate: accumulate, streaming: false, m: m, n: n, k: k,
                                a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb, c: cp.baseAddress!, ldc: ldc)
                }
            }
        }
        let label = "\(isa) \(T.self) m \(m) n \(n) k \(k) transA \(transA) transB \(transB) accumulate \(accumulate) pad \(pad)"
        guard tnk_available() != 0 else {
            XCTAssertFalse(ran, "declines without AVX2/FMA: \(label)", file: file, line: line)
            return
        }
        XCTAssertTrue(ran, label, file: file, line: line)
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<ldc {
                let got = Double(c[i * ldc + j])
                if j >= n {
                    // Columns past n belong to someone else: untouched, bit for bit.
                    XCTAssertEqual(got, Double(T(c0[i * ldc + j])), "padding written: \(label)", file: file, line: line)
                    continue
                }
                worst = max(worst, abs(got - want[i * ldc + j]) / Double(k + 1))
            }
        }
        XCTAssertLessThan(worst, tolerance, label, file: file, line: line)
    }

    func testAgainstIndexLoop() {
        // Row counts around both tiles (6 rows on AVX2, 8 on AVX-512), columns around the panels.
        let shapes = [(1, 1, 1), (6, 16, 32), (7, 16, 5), (13, 8, 3), (5, 33, 9), (64, 112, 28), (17, 4, 64),
                      (100, 20, 31), (12, 48, 1), (3, 100, 40), (130, 64, 64), (8, 17, 7), (15, 31, 12), (23, 9, 2)]
        forEachInstructionSet { isa in
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (accumulate, pad) in [(false, 0), (true, 3)] {
                        check(Float.self, m: m, n: n, k: k, transA: transA, transB: transB, accumulate: accumulate,
                              pad: pad, tolerance: 1e-6, isa: isa)
                        check(Double.self, m: m, n: n, k: k, transA: transA, transB: transB, accumulate: accumulate,
                              pad: pad, tolerance: 1e-14, isa: isa)
                    }
                }
            }
        }
        }
    }

    func testPackedPanelsLargerThanTheStackBuffer() {
        // 256 x 64 floats of packed B is 64 KiB, past the 32 KiB kept on the stack.
        forEachInstructionSet { isa in
            check(Float.self, m: 40, n: 64, k: 256, transA: false, transB: true, accumulate: false, pad: 1,
                  tolerance: 1e-6, isa: isa)
            check(Double.self, m: 40, n: 64, k: 256, transA: true, transB: false, accumulate: true, pad: 2,
                  tolerance: 1e-14, isa: isa)
        }
    }

    /// Stores past the caches (for huge outputs) give the same bits as plain stores, on full
    /// and partial panels, and fall back to plain stores on C rows that are not 32-byte aligned.
    func testStreamingStoresMatchPlainStores() throws {
        try XCTSkipIf(tnk_available() == 0, "no AVX2/FMA: the kernel declines")
        func run<T: BLASScalar>(_: T.Type, m: Int, n: Int, k: Int, ldc: Int, offset: Int, streaming: Bool) throws -> [T] {
            var rng = TestRandom(state: UInt64(m &* 7 &+ n &+ k))
            let a = rng.array(m * k).map { T($0) }, b = rng.array(n * k).map { T($0) }
            let c = try Workspace<T>(count: offset + m * ldc)
            c.pointer.initialize(repeating: -7, count: offset + m * ldc)
            let ran = a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    T.smallGemm(transA: false, transB: true, accumulate: false, streaming: streaming, m: m, n: n, k: k,
                                a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: k, c: c.pointer + offset, ldc: ldc)
                }
            }
            XCTAssertTrue(ran)
            return Array(UnsafeBufferPointer(start: c.pointer, count: offset + m * ldc))
        }
        try forEachInstructionSet { isa in
            for (m, n, k, ldc) in [(37, 64, 28, 64), (13, 40, 9, 48), (8, 16, 3, 24)] {
                for offset in [0, 1, 8] {   // 1: rows not 32-byte aligned; 8 floats: 32 bytes past 64
                    XCTAssertEqual(try run(Float.self, m: m, n: n, k: k, ldc: ldc, offset: offset, streaming: true),
                                   try run(Float.self, m: m, n: n, k: k, ldc: ldc, offset: offset, streaming: false),
                                   "\(isa) float m \(m) n \(n) k \(k) offset \(offset)")
                    XCTAssertEqual(try run(Double.self, m: m, n: n, k: k, ldc: ldc, offset: offset, streaming: true),
                                   try run(Double.self, m: m, n: n, k: k, ldc: ldc, offset: offset, streaming: false),
                                   "\(isa) double m \(m) n \(n) k \(k) offset \(offset)")
                }
            }
        }
    }

    func testRoutedProductsMatchBLAS() {
        // The shapes `prefersSmallGemm` sends to the kernel give what OpenBLAS gives.
        for (m, n, k) in [(96, 16, 32), (50, 32, 64), (8, 8, 4), (37, 6, 20), (29, 5, 64)] {
            XCTAssertTrue(Double.prefersSmallGemm(n: n, k: k))
            var rng = TestRandom(state: UInt64(m * n * k))
            let a = rng.array(m * k), b = rng.array(k * n)
            var viaKernel = [Double](repeating: .nan, count: m * n), viaBLAS = viaKernel
            Double.gemmOverwriting(transA: false, transB: false, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n,
                                   c: &viaKernel, ldc: n)
            Double.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                        beta: 0, c: &viaBLAS, ldc: n)
            for (x, y) in zip(viaKernel, viaBLAS) { XCTAssertEqual(x, y, accuracy: 1e-12) }
        }
        XCTAssertFalse(Float.prefersSmallGemm(n: 100, k: 32), "partial panels stay with OpenBLAS")
        XCTAssertTrue(Float.prefersSmallGemm(n: 12, k: 32), "one panel at least half full")
        XCTAssertTrue(Float.prefersSmallGemm(n: 8, k: 16))
        XCTAssertFalse(Float.prefersSmallGemm(n: 7, k: 16), "fewer columns: OpenBLAS")
        XCTAssertTrue(Double.prefersSmallGemm(n: 5, k: 16))
        XCTAssertFalse(Double.prefersSmallGemm(n: 3, k: 16))
        XCTAssertFalse(Float.prefersSmallGemm(n: 32, k: 256), "long k stays with OpenBLAS")
    }
}
