import XCTest
@testable import TNSwift

/// SVD, QR, truncation and the randomized SVD, checked against independent references:
/// products recomputed here with plain loops in Double, matrices with known singular values,
/// and the Eckart–Young error of a truncation.
final class LinalgTests: XCTestCase {
    // MARK: - References (plain loops over Double, row-major)

    /// A row-major m×n matrix of uniform values in [-1, 1).
    private func random(_ m: Int, _ n: Int, seed: UInt64) -> [Double] {
        var rng = TestRandom(state: seed)
        return rng.array(m * n)
    }

    /// (m×k) · (k×n), row-major.
    private func multiply(_ a: [Double], _ b: [Double], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    for i in 0..<m {
                        for p in 0..<k {
                            let x = a[i * k + p]
                            for j in 0..<n { c[i * n + j] += x * b[p * n + j] }
                        }
                    }
                }
            }
        }
        return c
    }

    private func transpose(_ a: [Double], _ m: Int, _ n: Int) -> [Double] {
        var t = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { t[j * m + i] = a[i * n + j] } }
        return t
    }

    private func norm(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    private func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        let d = norm(zip(a, b).map { $0 - $1 })
        let scale = norm(b)
        return scale == 0 ? d : d / scale
    }

    /// Largest |entry| of XᵀX − I for an m×k matrix X with orthonormal columns.
    private func orthonormalityError(_ x: [Double], _ m: Int, _ k: Int) -> Double {
        let g = multiply(transpose(x, m, k), x, k, m, k)
        var worst = 0.0
        for i in 0..<k { for j in 0..<k { worst = max(worst, abs(g[i * k + j] - (i == j ? 1 : 0))) } }
        return worst
    }

    private func doubles<T: BLASScalar>(_ m: Matrix<T>) -> [Double] { m.values.map { Double($0) } }

    private func matrix<T: BLASScalar>(_ values: [Double], _ m: Int, _ n: Int, as _: T.Type = T.self) throws -> Matrix<T> {
        try Matrix<T>(rows: m, columns: n, values: values.map { T($0) })
    }

    /// U · diag(s) · Vt of an SVD, in Double.
    private func reconstruct<T: LAPACKScalar>(_ f: SVD<T>) -> [Double] {
        let m = f.u.rows, k = f.rank, n = f.vt.columns
        var us = doubles(f.u)
        for i in 0..<m { for j in 0..<k { us[i * k + j] *= Double(f.s[j]) } }
        return multiply(us, doubles(f.vt), m, k, n)
    }

    /// An m×k matrix with orthonormal columns: the Q of a random matrix (k ≤ m).
    private func orthonormal(_ m: Int, _ k: Int, seed: UInt64) throws -> [Double] {
        try doubles(QR(matrix(random(m, k, seed: seed), m, k, as: Double.self)).q)
    }

    /// Q1 · diag(s) · Q2ᵀ (m×n) with random orthonormal Q1 (m×k), Q2 (n×k): singular values `s`.
    private func withSingularValues(_ s: [Double], _ m: Int, _ n: Int, seed: UInt64) throws -> [Double] {
        let k = s.count
        var q1 = try orthonormal(m, k, seed: seed)
        let q2 = try orthonormal(n, k, seed: seed &+ 1)
        for i in 0..<m { for j in 0..<k { q1[i * k + j] *= s[j] } }
        return multiply(q1, transpose(q2, n, k), m, k, n)
    }

    /// Checks shapes, ordering, orthonormality and reconstruction of the SVD of `a` (m×n).
    private func checkSVD<T: LAPACKScalar>(_ f: SVD<T>, of a: [Double], _ m: Int, _ n: Int, tolerance: Double,
                                           file: StaticString = #filePath, line: UInt = #line) {
        let k = min(m, n)
        XCTAssertEqual([f.u.rows, f.u.columns, f.s.count, f.vt.rows, f.vt.columns], [m, k, k, k, n], file: file, line: line)
        for i in 0..<k {
            XCTAssertGreaterThanOrEqual(f.s[i], 0, file: file, line: line)
            if i > 0 { XCTAssertLessThanOrEqual(f.s[i], f.s[i - 1], file: file, line: line) }
        }
        XCTAssertLessThan(relativeError(reconstruct(f), a), tolerance, "reconstruction \(m)×\(n) \(T.self)", file: file, line: line)
        XCTAssertLessThan(orthonormalityError(doubles(f.u), m, k), tolerance, "UᵀU \(m)×\(n)", file: file, line: line)
        XCTAssertLessThan(orthonormalityError(transpose(doubles(f.vt), k, n), n, k), tolerance, "V Vᵀ \(m)×\(n)", file: file, line: line)
    }

    private func assertError(_ kind: String, containing text: String, file: StaticString = #filePath, line: UInt = #line,
                             _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? TNError else { return XCTFail("not a TNError: \(error)", file: file, line: line) }
            let got: String
            switch e {
            case .shape: got = "shape"
            case .value: got = "value"
            case .memory: got = "memory"
            case .dtype: got = "dtype"
            case .subscript: got = "subscript"
            case .interrupted: got = "interrupted"
            }
            XCTAssertEqual(got, kind, e.message, file: file, line: line)
            XCTAssertTrue(e.message.contains(text), "message \"\(e.message)\" lacks \"\(text)\"", file: file, line: line)
        }
    }

    private let shapes = [(1, 1), (1, 6), (6, 1), (2, 2), (7, 5), (5, 7), (33, 33), (64, 17), (17, 64),
                          (200, 150), (150, 200), (300, 40)]

    // MARK: - SVD

    /// Tall, wide and square SVDs reconstruct the input, have orthonormal factors and descending values.
    func testSVDReconstructsAllShapesDouble() throws {
        for (i, (m, n)) in shapes.enumerated() {
            let a = random(m, n, seed: UInt64(10 + i))
            checkSVD(try SVD(matrix(a, m, n, as: Double.self)), of: a, m, n, tolerance: 1e-12)
        }
    }

    func testSVDReconstructsAllShapesFloat() throws {
        for (i, (m, n)) in shapes.enumerated() {
            let a = random(m, n, seed: UInt64(40 + i)).map { Double(Float($0)) }
            checkSVD(try SVD(matrix(a, m, n, as: Float.self)), of: a, m, n, tolerance: 1e-5)
        }
    }

    /// The singular values of Q1·diag(s)·Q2ᵀ are s (including repeated and tiny ones).
    func testSVDFindsKnownSingularValues() throws {
        for (m, n) in [(120, 80), (80, 120), (90, 90)] {
            let k = min(m, n)
            var s = (0..<k).map { 100 * pow(10, -4 * Double($0) / Double(k - 1)) }
            s[3] = s[2]; s[4] = s[2]   // a repeated value
            let a = try withSingularValues(s, m, n, seed: UInt64(m * 1000 + n))
            let fd = try SVD(matrix(a, m, n, as: Double.self))
            XCTAssertLessThan(zip(fd.s, s).map { abs($0 - $1) }.max()!, 1e-12 * s[0], "\(m)×\(n) Double")
            checkSVD(fd, of: a, m, n, tolerance: 1e-12)
            let ff = try SVD(matrix(a, m, n, as: Float.self))
            XCTAssertLessThan(zip(ff.s, s).map { abs(Double($0) - $1) }.max()!, 1e-5 * s[0], "\(m)×\(n) Float")
        }
        // Rank-deficient input: the trailing singular values are zero to rounding.
        let a = try withSingularValues([3, 2, 1], 40, 30, seed: 7)
        let f = try SVD(matrix(a, 40, 30, as: Double.self))
        XCTAssertEqual(f.s[0], 3, accuracy: 1e-13)
        XCTAssertLessThan(f.s[3], 1e-13)
        checkSVD(f, of: a, 40, 30, tolerance: 1e-12)
    }

    /// The `?gesvd` fallback gives a correct SVD with the same singular values as `?gesdd`.
    func testSVDFallbackDriverMatchesDivideAndConquer() throws {
        for (m, n) in [(1, 1), (50, 20), (20, 50), (31, 31)] {
            let a = random(m, n, seed: UInt64(m &* 7 &+ n))
            let fallback = try a.withUnsafeBufferPointer {
                try SVD<Double>.factor(rows: m, columns: n, values: $0.baseAddress!, rowStride: nil, driver: .qrIteration)
            }
            checkSVD(fallback, of: a, m, n, tolerance: 1e-12)
            let dc = try SVD(matrix(a, m, n, as: Double.self))
            XCTAssertLessThan(zip(fallback.s, dc.s).map { abs($0 - $1) }.max()!, 1e-12 * dc.s[0])
            let fallbackFloat = try a.map { Float($0) }.withUnsafeBufferPointer {
                try SVD<Float>.factor(rows: m, columns: n, values: $0.baseAddress!, rowStride: nil, driver: .qrIteration)
            }
            checkSVD(fallbackFloat, of: a.map { Double(Float($0)) }, m, n, tolerance: 1e-5)
        }
    }

    /// Buffer input with a row stride: only the first `columns` of each row are read (the
    /// padding holds NaN, which would be rejected if read).
    func testSVDAndQRReadStridedRowsOnly() throws {
        let (m, n, stride) = (23, 11, 16)
        let a = random(m, n, seed: 5)
        var padded = [Double](repeating: .nan, count: (m - 1) * stride + n)
        for i in 0..<m { for j in 0..<n { padded[i * stride + j] = a[i * n + j] } }
        let (svd, qr, rsvd) = try padded.withUnsafeBufferPointer { p in
            (try SVD(rows: m, columns: n, values: p.baseAddress!, rowStride: stride),
             try QR(rows: m, columns: n, values: p.baseAddress!, rowStride: stride),
             try SVD.randomized(rows: m, columns: n, values: p.baseAddress!, rowStride: stride,
                                rank: 3, oversampling: 2, seed: 4))
        }
        checkSVD(svd, of: a, m, n, tolerance: 1e-12)
        let dense = try SVD.randomized(matrix(a, m, n, as: Double.self), rank: 3, oversampling: 2, seed: 4)
        XCTAssertEqual(rsvd.s, dense.s)
        XCTAssertEqual(rsvd.u.values, dense.u.values)
        XCTAssertEqual(rsvd.vt.values, dense.vt.values)
        XCTAssertLessThan(relativeError(multiply(doubles(qr.q), doubles(qr.r), m, n, n), a), 1e-12)
    }

    // MARK: - Input errors and empty matrices

    /// NaN and infinities are rejected before LAPACK runs, naming the position.
    func testNonFiniteInputIsRejected() throws {
        for bad in [Double.nan, .infinity, -.infinity] {
            var a = random(6, 8, seed: 3)
            a[2 * 8 + 3] = bad
            let md = try matrix(a, 6, 8, as: Double.self)
            let mf = try matrix(a, 6, 8, as: Float.self)
            assertError("value", containing: "row 2, column 3") { _ = try SVD(md) }
            assertError("value", containing: "row 2, column 3") { _ = try SVD(mf) }
            assertError("value", containing: "row 2, column 3") { _ = try QR(md) }
            assertError("value", containing: "row 2, column 3") { _ = try SVD.randomized(md, rank: 2, oversampling: 1) }
            assertError("value", containing: "non-finite") { _ = try SVD.randomized(mf, rank: 5) }
        }
    }

    /// Zero-size matrices have empty factors of the right shapes (documented behaviour).
    func testZeroSizeMatricesGiveEmptyFactors() throws {
        for (m, n) in [(0, 5), (5, 0), (0, 0)] {
            let a = try Matrix<Double>(rows: m, columns: n)
            let f = try SVD(a)
            XCTAssertEqual([f.u.rows, f.u.columns, f.s.count, f.vt.rows, f.vt.columns], [m, 0, 0, 0, n])
            let q = try QR(a)
            XCTAssertEqual([q.q.rows, q.q.columns, q.r.rows, q.r.columns], [m, 0, 0, n])
            let r = try SVD.randomized(a, rank: 3)
            XCTAssertEqual([r.u.rows, r.u.columns, r.s.count, r.vt.rows, r.vt.columns], [m, 0, 0, 0, n])
            XCTAssertEqual(try f.truncationRank(maxRank: 2, squaredErrorBudget: 1), 0)
        }
    }

    /// Sizes, strides and options a caller can get wrong throw typed errors.
    func testBadArgumentsThrow() throws {
        let x: [Double] = [1, 2, 3, 4, 5, 6]
        x.withUnsafeBufferPointer { p in
            let v = p.baseAddress!
            assertError("shape", containing: "negative size") { _ = try SVD(rows: -1, columns: 3, values: v) }
            assertError("shape", containing: "negative size") { _ = try QR(rows: 2, columns: -3, values: v) }
            assertError("shape", containing: "row stride 2") { _ = try SVD(rows: 2, columns: 3, values: v, rowStride: 2) }
            assertError("shape", containing: "row stride") { _ = try QR(rows: 2, columns: 3, values: v, rowStride: -1) }
            assertError("shape", containing: "row stride") {
                _ = try SVD.randomized(rows: 2, columns: 3, values: v, rowStride: 1, rank: 1)
            }
            assertError("shape", containing: "32-bit") { _ = try SVD(rows: 1 << 32, columns: 0, values: v) }
            assertError("memory", containing: "overflows") { _ = try SVD(rows: 1 << 31 - 1, columns: 1 << 31 - 1, values: v, rowStride: 1 << 40) }
        }
        assertError("shape", containing: "needs 6 values but 5") { _ = try Matrix<Double>(rows: 2, columns: 3, values: [1, 2, 3, 4, 5]) }
        assertError("shape", containing: "negative size") { _ = try Matrix<Float>(rows: 2, columns: -1) }
        let a = try matrix(random(12, 9, seed: 1), 12, 9, as: Double.self)
        assertError("value", containing: "at least 1 (got 0)") { _ = try SVD.randomized(a, rank: 0) }
        assertError("value", containing: "oversampling") { _ = try SVD.randomized(a, rank: 2, oversampling: -1) }
        assertError("value", containing: "power iterations") { _ = try SVD.randomized(a, rank: 2, powerIterations: -1) }
        let f = try SVD(a)
        assertError("value", containing: "rank 10") { _ = try f.truncated(rank: 10) }
        assertError("value", containing: "rank -1") { _ = try f.truncated(rank: -1) }
    }

    // MARK: - QR

    /// Q·R reconstructs A, QᵀQ = I, and R is exactly zero below its diagonal, in every shape.
    func testQRReconstructsAllShapes() throws {
        for (i, (m, n)) in shapes.enumerated() {
            let k = min(m, n)
            let a = random(m, n, seed: UInt64(70 + i))
            let d = try QR(matrix(a, m, n, as: Double.self))
            let f = try QR(matrix(a, m, n, as: Float.self))
            for (q, r, tolerance) in [(doubles(d.q), doubles(d.r), 1e-12), (doubles(f.q), doubles(f.r), 1e-5)] {
                XCTAssertEqual([q.count, r.count], [m * k, k * n])
                XCTAssertLessThan(relativeError(multiply(q, r, m, k, n), a), tolerance, "\(m)×\(n)")
                XCTAssertLessThan(orthonormalityError(q, m, k), tolerance, "\(m)×\(n)")
                for row in 0..<k { for col in 0..<min(row, n) { XCTAssertEqual(r[row * n + col], 0) } }
            }
            XCTAssertEqual([d.q.rows, d.q.columns, d.r.rows, d.r.columns], [m, k, k, n])
        }
        // Rank-deficient columns still give orthonormal Q.
        let b = random(30, 2, seed: 9)
        var a: [Double] = []
        for i in 0..<30 {
            let (x, y) = (b[2 * i], b[2 * i + 1])
            a += [x, y, x + y, 2 * x]
        }
        let f = try QR(matrix(a, 30, 4, as: Double.self))
        XCTAssertLessThan(orthonormalityError(doubles(f.q), 30, 4), 1e-12)
        XCTAssertLessThan(relativeError(multiply(doubles(f.q), doubles(f.r), 30, 4, 4), a), 1e-12)
    }

    // MARK: - Truncation

    /// The truncation rule at its edges: budget 0, a huge budget, a cap, both, exact ties, empty.
    func testTruncationRankEdgeCases() throws {
        let s: [Double] = [3, 2, 1]
        func rank(_ s: [Double], cap: Int? = nil, budget: Double? = nil) throws -> Int {
            try SVD<Double>.truncationRank(singularValues: s, maxRank: cap, squaredErrorBudget: budget)
        }
        XCTAssertEqual(try rank(s), 3)
        XCTAssertEqual(try rank(s, budget: 0), 3)
        XCTAssertEqual(try rank([3, 2, 0, 0], budget: 0), 2)          // exact zeros cost nothing
        XCTAssertEqual(try rank(s, budget: 0.999), 3)
        XCTAssertEqual(try rank(s, budget: 1), 2)                      // tail 1 ≤ 1
        XCTAssertEqual(try rank(s, budget: 4.999), 2)
        XCTAssertEqual(try rank(s, budget: 5), 1)                      // tail 1 + 4 ≤ 5
        XCTAssertEqual(try rank(s, budget: 1e300), 1)                  // never below 1
        XCTAssertEqual(try rank(s, budget: .infinity), 1)
        XCTAssertEqual(try rank([0, 0], budget: 0), 1)
        XCTAssertEqual(try rank(s, cap: 1), 1)
        XCTAssertEqual(try rank(s, cap: 2, budget: 0), 2)              // the cap wins
        XCTAssertEqual(try rank(s, cap: 2, budget: 5), 1)
        XCTAssertEqual(try rank(s, cap: 100), 3)                       // a large cap keeps all
        XCTAssertEqual(try rank([], cap: 2, budget: 1), 0)
        XCTAssertEqual(try SVD<Float>.truncationRank(singularValues: [1e20, 1e19], squaredErrorBudget: 1e38), 1) // no Float overflow
        assertError("value", containing: "at least 1 (got 0)") { _ = try rank(s, cap: 0) }
        assertError("value", containing: "non-negative (got -1.0)") { _ = try rank(s, budget: -1) }
        assertError("value", containing: "non-negative (got nan)") { _ = try rank(s, budget: .nan) }
        assertError("value", containing: "descending") { _ = try rank([1, 2]) }
        assertError("value", containing: "non-negative") { _ = try rank([1, -1]) }
        assertError("value", containing: "finite") { _ = try rank([.nan]) }
    }

    /// A truncation by budget is the smallest rank whose actual squared error (recomputed from
    /// the factors) fits the budget, and that error is the sum of the discarded s².
    func testTruncationBudgetHoldsOnReconstruction() throws {
        let (m, n) = (60, 40)
        let a = random(m, n, seed: 11)
        let f = try SVD(matrix(a, m, n, as: Double.self))
        let total = a.reduce(0) { $0 + $1 * $1 }
        for fraction in [0.0, 1e-3, 0.05, 0.3, 0.9, 2] {
            let budget = fraction * total
            let r = try f.truncationRank(squaredErrorBudget: budget)
            let t = try f.truncated(maxRank: nil, squaredErrorBudget: budget)
            XCTAssertEqual(t.rank, r)
            XCTAssertEqual([t.u.rows, t.u.columns, t.vt.rows, t.vt.columns], [m, r, r, n])
            let error = zip(reconstruct(t), a).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            let tail = f.s[r...].reduce(0) { $0 + $1 * $1 }
            XCTAssertEqual(error, tail, accuracy: 1e-10 * total)
            XCTAssertLessThanOrEqual(error, budget + 1e-12 * total)   // rank ≥ 1 only lowers the error
            if r > 1 { XCTAssertGreaterThan(tail + f.s[r - 1] * f.s[r - 1], budget, "rank \(r) is not the smallest") }
        }
        let capped = try f.truncated(maxRank: 5, squaredErrorBudget: 0)
        XCTAssertEqual(capped.s, Array(f.s[0..<5]))
        XCTAssertEqual(try f.truncated(rank: 0).u.columns, 0)
    }

    // MARK: - Randomized SVD

    /// An exactly low-rank matrix is recovered to ~1e-10 (f64), tall and wide, with and
    /// without power iterations; the singular values equal the exact SVD's.
    func testRandomizedSVDRecoversLowRankMatrices() throws {
        for (m, n, r, q) in [(300, 200, 8, 2), (150, 260, 5, 0), (257, 256, 1, 1)] {
            let a = multiply(random(m, r, seed: UInt64(m)), random(r, n, seed: UInt64(n)), m, r, n)
            let md = try matrix(a, m, n, as: Double.self)
            let f = try SVD.randomized(md, rank: r, powerIterations: q, seed: 42)
            XCTAssertEqual([f.u.rows, f.u.columns, f.s.count, f.vt.rows, f.vt.columns], [m, r, r, r, n])
            XCTAssertLessThan(relativeError(reconstruct(f), a), 1e-10, "\(m)×\(n) rank \(r)")
            XCTAssertLessThan(orthonormalityError(doubles(f.u), m, r), 1e-12)
            XCTAssertLessThan(orthonormalityError(transpose(doubles(f.vt), r, n), n, r), 1e-12)
            let exact = try SVD(md)
            XCTAssertLessThan(zip(f.s, exact.s).map { abs($0 - $1) }.max()!, 1e-10 * exact.s[0])
            let ff = try SVD.randomized(matrix(a, m, n, as: Float.self), rank: r, powerIterations: q, seed: 42)
            XCTAssertLessThan(relativeError(reconstruct(ff), a), 1e-5, "\(m)×\(n) rank \(r) Float")
        }
    }

    /// On a decaying spectrum the leading values match the exact ones, the error identity
    /// ‖A − U·S·Vt‖² = ‖A‖² − Σ s² holds, and a seed fixes the result.
    func testRandomizedSVDOnDecayingSpectrumIsAccurateAndSeeded() throws {
        let (m, n, r) = (200, 150, 10)
        let s = (0..<60).map { pow(0.5, Double($0)) }
        let a = try withSingularValues(s, m, n, seed: 3)
        let md = try matrix(a, m, n, as: Double.self)
        let f = try SVD.randomized(md, rank: r, seed: 7)
        XCTAssertLessThan(zip(f.s, s).map { abs($0 - $1) / $1 }.max()!, 1e-8)
        let error = zip(reconstruct(f), a).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let identity = a.reduce(0) { $0 + $1 * $1 } - f.s.reduce(0) { $0 + $1 * $1 }
        XCTAssertEqual(error, identity, accuracy: 1e-12)
        XCTAssertEqual(error, s[r...].reduce(0) { $0 + $1 * $1 }, accuracy: 1e-9)   // near optimal
        let again = try SVD.randomized(md, rank: r, seed: 7)
        XCTAssertEqual(again.s, f.s)
        XCTAssertEqual(again.u.values, f.u.values)
        XCTAssertEqual(again.vt.values, f.vt.values)
        let other = try SVD.randomized(md, rank: r, seed: 8)
        XCTAssertNotEqual(other.u.values, f.u.values)
        XCTAssertLessThan(zip(other.s, s).map { abs($0 - $1) / $1 }.max()!, 1e-8)
    }

    /// When the sketch would cover min(m, n), the exact SVD is truncated instead; a rank above
    /// min(m, n) is clamped.
    func testRandomizedSVDFallsBackToExactForWideSketches() throws {
        let (m, n) = (30, 20)
        let a = random(m, n, seed: 21)
        let md = try matrix(a, m, n, as: Double.self)
        let exact = try SVD(md)
        let f = try SVD.randomized(md, rank: 15)                     // 15 + 10 ≥ 20
        XCTAssertEqual(f.s, Array(exact.s[0..<15]))
        XCTAssertEqual(f.u.columns, 15)
        let all = try SVD.randomized(md, rank: 50, oversampling: 0)
        XCTAssertEqual(all.rank, 20)
        checkSVD(all, of: a, m, n, tolerance: 1e-12)
        let one = try SVD.randomized(matrix([2], 1, 1, as: Float.self), rank: 1)
        XCTAssertEqual(one.s, [2])
    }

    /// The automatic choice: only large matrices with a narrow sketch.
    func testPrefersRandomizedRule() {
        XCTAssertTrue(SVD<Double>.prefersRandomized(m: 2000, n: 1600, rank: 20))
        XCTAssertTrue(SVD<Float>.prefersRandomized(m: 1024, n: 4096, rank: 245))     // 255 < 256
        XCTAssertFalse(SVD<Float>.prefersRandomized(m: 1024, n: 4096, rank: 246))    // 256 is not < 256
        XCTAssertFalse(SVD<Double>.prefersRandomized(m: 1023, n: 100_000, rank: 1))  // too small
        XCTAssertFalse(SVD<Double>.prefersRandomized(m: 2000, n: 2000, rank: 600))
        XCTAssertFalse(SVD<Double>.prefersRandomized(m: 2000, n: 2000, rank: 100, oversampling: 500))
        XCTAssertFalse(SVD<Double>.prefersRandomized(m: 2000, n: 2000, rank: 0))
        XCTAssertFalse(SVD<Double>.prefersRandomized(m: 2000, n: 2000, rank: 10, oversampling: -1))
        XCTAssertFalse(SVD<Double>.prefersRandomized(m: 2000, n: 2000, rank: Int.max))
    }

    /// The generator is deterministic per seed and its Gaussians have mean 0 and variance 1.
    func testSeededRandomIsDeterministicAndGaussian() {
        var a = SeededRandom(seed: 1), b = SeededRandom(seed: 1), c = SeededRandom(seed: 2)
        let xa = (0..<8).map { _ in a.next() }
        XCTAssertEqual(xa, (0..<8).map { _ in b.next() })
        XCTAssertNotEqual(xa, (0..<8).map { _ in c.next() })
        var g = SeededRandom(seed: 99)
        let count = 200_000
        var sum = 0.0, squares = 0.0, fourth = 0.0
        for _ in 0..<count {
            let z = g.nextGaussian()
            XCTAssertTrue(z.isFinite)
            sum += z; squares += z * z; fourth += z * z * z * z
        }
        XCTAssertEqual(sum / Double(count), 0, accuracy: 0.01)
        XCTAssertEqual(squares / Double(count), 1, accuracy: 0.02)
        XCTAssertEqual(fourth / Double(count), 3, accuracy: 0.1)      // Gaussian kurtosis
        var u = SeededRandom(seed: 5)
        for _ in 0..<1000 {
            let x = u.nextUniform()
            XCTAssertTrue(x >= 0 && x < 1)
        }
    }
}
