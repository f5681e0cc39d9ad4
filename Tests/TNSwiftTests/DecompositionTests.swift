import XCTest
@testable import TNSwift

/// TT-SVD, TT rounding, TT norms/inner products/sums and TT-matrices, checked against
/// independent references: dense tensors rebuilt here from the cores with plain loops over
/// Double, errors measured densely, and the eps guarantee as a property over generated inputs.
final class DecompositionTests: XCTestCase {
    // MARK: - References (plain loops over Double)

    /// Random cores for `shape` with bond ranks `bonds` (d − 1 values), uniform in [-1, 1).
    private func randomCores(_ shape: [Int], _ bonds: [Int], _ rng: inout TestRandom) -> (cores: [[Double]], shapes: [[Int]]) {
        let ranks = [1] + bonds + [1]
        let shapes = shape.indices.map { [ranks[$0], shape[$0], ranks[$0 + 1]] }
        return (shapes.map { rng.array($0.reduce(1, *)) }, shapes)
    }

    /// X[i_1..i_d] = G_1[:, i_1, :] ⋯ G_d[:, i_d, :], one multi-index at a time.
    private func dense(_ cores: [[Double]], _ shapes: [[Int]]) -> [Double] {
        let shape = shapes.map { $0[1] }
        let total = shape.reduce(1, *)
        var out = [Double](repeating: 0, count: total)
        for flat in 0..<total {
            var index = [Int](repeating: 0, count: shape.count)
            var rest = flat
            for a in stride(from: shape.count - 1, through: 0, by: -1) { index[a] = rest % shape[a]; rest /= shape[a] }
            var v: [Double] = [1]
            for k in shape.indices {
                let (r0, n, r1) = (shapes[k][0], shapes[k][1], shapes[k][2])
                var w = [Double](repeating: 0, count: r1)
                for a in 0..<r0 { for b in 0..<r1 { w[b] += v[a] * cores[k][(a * n + index[k]) * r1 + b] } }
                v = w
            }
            out[flat] = v[0]
        }
        return out
    }

    private func dense<T: LAPACKScalar>(_ tt: TTTensor<T>) -> [Double] {
        dense(tt.cores.map { $0.map(Double.init) }, (0..<tt.order).map { tt.coreShape($0) })
    }

    private func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
    private func distance(_ x: [Double], _ y: [Double]) -> Double { norm(zip(x, y).map { $0 - $1 }) }

    private func decompose(_ x: [Double], _ shape: [Int], maxRanks: [Int]? = nil, eps: Double? = nil) throws -> TTTensor<Double> {
        try x.withUnsafeBufferPointer { p in
            if let caps = maxRanks { return try TTTensor(decomposing: p.baseAddress!, shape: shape, maxRanks: caps, eps: eps) }
            return try TTTensor(decomposing: p.baseAddress!, shape: shape, eps: eps)
        }
    }

    private let sizes = [1, 2, 3, 5, 7, 11, 13]

    /// A dense tensor of `order` modes (sizes from `sizes`, at most 4,000 elements) built from
    /// random TT cores with bond ranks 1–3: (order, shape, ranks, values).
    private func randomLowRankTensor(order d: Int, _ rng: inout TestRandom) -> (Int, [Int], [Int], [Double]) {
        var shape = (0..<d).map { _ in sizes[rng.int(0...sizes.count - 1)] }
        while shape.reduce(1, *) > 4000 { shape[shape.firstIndex(of: shape.max()!)!] = 3 }
        let bonds = (0..<(d - 1)).map { _ in rng.int(1...3) }
        let (cores, shapes) = randomCores(shape, bonds, &rng)
        return (d, shape, bonds, dense(cores, shapes))
    }

    // MARK: - TT-SVD

    func testExactLowRankRecoveryDouble() throws {
        var rng = TestRandom(state: 11)
        for trial in 0..<40 {
            let (d, shape, bonds, x) = randomLowRankTensor(order: 2 + trial % 4, &rng)
            let tt = try decompose(x, shape, maxRanks: bonds, eps: 0)
            XCTAssertEqual(tt.shape, shape)
            XCTAssertLessThanOrEqual(distance(dense(tt), x), 1e-10 * norm(x), "shape \(shape) ranks \(bonds)")
            for k in 0..<(d - 1) { XCTAssertLessThanOrEqual(tt.ranks[k + 1], bonds[k], "shape \(shape)") }
            // Generous caps and no eps: still exact.
            let loose = try decompose(x, shape, maxRanks: bonds.map { $0 + 2 })
            XCTAssertLessThanOrEqual(distance(dense(loose), x), 1e-10 * norm(x))
            XCTAssertEqual(loose.parameterCount, (0..<d).map { loose.coreShape($0).reduce(1, *) }.reduce(0, +))
        }
    }

    func testExactLowRankRecoveryFloat() throws {
        var rng = TestRandom(state: 12)
        for trial in 0..<20 {
            let (d, shape, bonds, x) = randomLowRankTensor(order: 2 + trial % 4, &rng)
            let xf = x.map(Float.init)
            let tt = try xf.withUnsafeBufferPointer {
                try TTTensor<Float>(decomposing: $0.baseAddress!, shape: shape, maxRanks: bonds, eps: 0)
            }
            let xr = xf.map(Double.init)
            XCTAssertLessThanOrEqual(distance(dense(tt), xr), 1e-5 * norm(xr), "shape \(shape) ranks \(bonds)")
            for k in 0..<(d - 1) { XCTAssertLessThanOrEqual(tt.ranks[k + 1], bonds[k]) }
        }
    }

    func testRandomizedPathRecoversLowRankMatrix() throws {
        // 1024×1024 of rank 5 with a cap of 5 and no eps: not wide enough for the Gram route,
        // so SVD.prefersRandomized picks the sketch.
        XCTAssertTrue(SVD<Double>.prefersRandomized(m: 1024, n: 1024, rank: 5))
        XCTAssertFalse(SVD<Double>.prefersGram(m: 1024, n: 1024, relativeTolerance: nil))
        var rng = TestRandom(state: 13)
        let (cores, shapes) = randomCores([1024, 1024], [5], &rng)
        let x = dense(cores, shapes)
        let tt = try decompose(x, [1024, 1024], maxRanks: [5])
        XCTAssertEqual(tt.ranks, [1, 5, 1])
        XCTAssertLessThanOrEqual(distance(dense(tt), x), 1e-10 * norm(x))
    }

    /// The eps guarantee on ≥ 200 generated tensors, for TT-SVD and for rounding X + X.
    func testEpsGuaranteeProperty() throws {
        var rng = TestRandom(state: 14)
        var checked = 0, compressed = 0
        var worst = 0.0   // the largest error / (eps · ‖X‖): the bound is exercised, not vacuous
        for trial in 0..<220 {
            let d = 2 + trial % 5
            let maxSize = [0, 0, 24, 12, 6, 4, 3][d]
            let shape = (0..<d).map { _ in rng.int(1...maxSize) }
            var x: [Double]
            if trial % 2 == 0 {
                x = rng.array(shape.reduce(1, *))
            } else {
                let (cores, shapes) = randomCores(shape, (0..<(d - 1)).map { _ in rng.int(1...3) }, &rng)
                x = dense(cores, shapes)
                let noise = 1e-3 * Double(rng.int(0...100))
                x = x.map { $0 + noise * rng.next() }
            }
            let eps = 1e-3 + (0.5 - 1e-3) * (rng.next() + 1) / 2
            let tt = try decompose(x, shape, eps: eps)
            let nx = norm(x)
            XCTAssertLessThanOrEqual(distance(dense(tt), x), eps * nx + 1e-12 * nx, "shape \(shape) eps \(eps)")

            // X + X in TT format (ranks doubled), rounded: error bound and ranks ≤ those of tt.
            let doubled = try tt + tt
            XCTAssertEqual(doubled.ranks[1..<d].map { $0 }, tt.ranks[1..<d].map { 2 * $0 })
            let r = try doubled.rounded(eps: eps)
            let twice = dense(tt).map { 2 * $0 }
            let nt = norm(twice)
            XCTAssertLessThanOrEqual(distance(dense(r), twice), eps * nt + 1e-12 * nt, "shape \(shape) eps \(eps)")
            for k in 1..<d { XCTAssertLessThanOrEqual(r.ranks[k], tt.ranks[k], "shape \(shape) eps \(eps)") }

            // Rounding a dense-rank TT (exact TT-SVD) to eps: the same guarantee.
            let exact = try decompose(x, shape)
            let re = try exact.rounded(eps: eps)
            XCTAssertLessThanOrEqual(distance(dense(re), x), eps * nx + 1e-12 * nx, "rounded, shape \(shape) eps \(eps)")
            if tt.parameterCount < exact.parameterCount { compressed += 1 }
            worst = max(worst, distance(dense(tt), x) / (eps * nx))
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 200)
        XCTAssertGreaterThanOrEqual(compressed, 100, "eps truncated too few of the generated tensors")
        XCTAssertGreaterThan(worst, 0.5)
        XCTAssertLessThanOrEqual(worst, 1 + 1e-12)
    }

    func testEpsGuaranteeFloatAndOrderOne() throws {
        var rng = TestRandom(state: 19)
        for trial in 0..<50 {
            let d = 2 + trial % 4
            let shape = (0..<d).map { _ in rng.int(1...6) }
            let x = rng.array(shape.reduce(1, *)).map(Float.init)
            let eps = 0.01 + 0.4 * (rng.next() + 1) / 2
            let tt = try x.withUnsafeBufferPointer { try TTTensor<Float>(decomposing: $0.baseAddress!, shape: shape, eps: eps) }
            let xd = x.map(Double.init), nx = norm(xd)
            XCTAssertLessThanOrEqual(distance(dense(tt), xd), eps * nx + 1e-5 * nx, "shape \(shape) eps \(eps)")
            let r = try (tt + tt).rounded(eps: eps)
            let twice = dense(tt).map { 2 * $0 }
            XCTAssertLessThanOrEqual(distance(dense(r), twice), eps * norm(twice) + 1e-5 * norm(twice))
        }
        // Order 1: the tensor is its own single core, whatever eps.
        let v: [Double] = [3, -1, 4, 1, -5]
        let tt = try decompose(v, [5], eps: 0.5)
        XCTAssertEqual(tt.ranks, [1, 1])
        XCTAssertEqual(try tt.toDense(), v)
        XCTAssertEqual(try tt.rounded(eps: 0.5).cores, [v])
    }

    func testRoundingWithRankCap() throws {
        var rng = TestRandom(state: 15)
        let shape = [4, 5, 6, 3]
        let (cores, shapes) = randomCores(shape, [3, 4, 2], &rng)
        let tt = try TTTensor(cores: cores, coreShapes: shapes)
        let capped = try (tt + tt).rounded(maxRank: 2)
        XCTAssertTrue(capped.ranks.allSatisfy { $0 <= 2 })
        let exact = try (tt + tt).rounded(eps: 1e-12)
        XCTAssertEqual(exact.ranks, [1, 3, 4, 2, 1])
        let x2 = dense(cores, shapes).map { 2 * $0 }
        XCTAssertLessThanOrEqual(distance(dense(exact), x2), 1e-10 * norm(x2))
        let perBond = try tt.rounded(maxRanks: [1, 2, 2])
        XCTAssertEqual(perBond.ranks, [1, 1, 2, 2, 1])
    }

    // MARK: - Norm, inner product, sum

    func testNormInnerAndSumAgainstDense() throws {
        var rng = TestRandom(state: 16)
        for trial in 0..<20 {
            let d = 1 + trial % 5
            let shape = (0..<d).map { _ in rng.int(1...5) }
            let a = randomCores(shape, (0..<(d - 1)).map { _ in rng.int(1...3) }, &rng)
            let b = randomCores(shape, (0..<(d - 1)).map { _ in rng.int(1...3) }, &rng)
            let x = try TTTensor(cores: a.cores, coreShapes: a.shapes)
            let y = try TTTensor(cores: b.cores, coreShapes: b.shapes)
            let dx = dense(a.cores, a.shapes), dy = dense(b.cores, b.shapes)
            let dot = zip(dx, dy).map { $0 * $1 }.reduce(0, +)
            XCTAssertEqual(try x.inner(y), dot, accuracy: 1e-12 * (1 + norm(dx) * norm(dy)))
            XCTAssertEqual(x.norm(), norm(dx), accuracy: 1e-12 * (1 + norm(dx)))
            let sum = try x + y
            XCTAssertLessThanOrEqual(distance(dense(sum), zip(dx, dy).map { $0 + $1 }), 1e-12 * (1 + norm(dx) + norm(dy)))
            let toDense = try x.toDense()
            XCTAssertLessThanOrEqual(distance(toDense, dx), 1e-12 * (1 + norm(dx)))
        }
    }

    // MARK: - TT-matrix

    /// W[(i…), (j…)] from TT-matrix cores by loops.
    private func denseMatrix(_ cores: [[Double]], _ shapes: [[Int]]) -> [Double] {
        let m = shapes.map { $0[1] }, n = shapes.map { $0[2] }
        let rows = m.reduce(1, *), cols = n.reduce(1, *)
        var w = [Double](repeating: 0, count: rows * cols)
        for row in 0..<rows {
            for col in 0..<cols {
                var i = [Int](repeating: 0, count: m.count), j = i
                var (ri, rj) = (row, col)
                for a in stride(from: m.count - 1, through: 0, by: -1) {
                    i[a] = ri % m[a]; ri /= m[a]; j[a] = rj % n[a]; rj /= n[a]
                }
                var v: [Double] = [1]
                for k in cores.indices {
                    let (r0, mk, nk, r1) = (shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3])
                    var u = [Double](repeating: 0, count: r1)
                    for a in 0..<r0 { for b in 0..<r1 { u[b] += v[a] * cores[k][((a * mk + i[k]) * nk + j[k]) * r1 + b] } }
                    _ = mk
                    v = u
                }
                w[row * cols + col] = v[0]
            }
        }
        return w
    }

    func testTTMatrixLowRankRoundTrip() throws {
        var rng = TestRandom(state: 17)
        let (m, n, bonds) = ([3, 2, 5], [2, 7, 1], [2, 3])
        let ranks = [1] + bonds + [1]
        let shapes = (0..<3).map { [ranks[$0], m[$0], n[$0], ranks[$0 + 1]] }
        let cores = shapes.map { rng.array($0.reduce(1, *)) }
        let w = denseMatrix(cores, shapes)
        let given = try TTMatrix(cores: cores, coreShapes: shapes)
        XCTAssertLessThanOrEqual(distance(try given.toMatrix().values, w), 1e-12 * norm(w))
        let mat = try Matrix(rows: 30, columns: 14, values: w)
        let tt = try TTMatrix(decomposing: mat, rowModes: m, columnModes: n, maxRank: 3, eps: 1e-12)
        XCTAssertTrue(zip(tt.ranks, ranks).allSatisfy { $0 <= $1 }, "\(tt.ranks)")
        XCTAssertLessThanOrEqual(distance(try tt.toMatrix().values, w), 1e-10 * norm(w))
        let shapesOut = (0..<3).map { [tt.ranks[$0], m[$0], n[$0], tt.ranks[$0 + 1]] }
        XCTAssertLessThanOrEqual(distance(denseMatrix(tt.cores, shapesOut), w), 1e-10 * norm(w))
        XCTAssertEqual(tt.parameterCount, shapesOut.map { $0.reduce(1, *) }.reduce(0, +))
        let perBond = try w.withUnsafeBufferPointer {
            try TTMatrix(decomposing: $0.baseAddress!, rows: 30, columns: 14, rowModes: m, columnModes: n, maxRanks: [2, 3])
        }
        XCTAssertLessThanOrEqual(distance(try perBond.toMatrix().values, w), 1e-10 * norm(w))
    }

    func testTTMatrixDenseRandomIsExactWithFullRanks() throws {
        var rng = TestRandom(state: 18)
        let w = rng.array(64 * 64)
        let tt = try TTMatrix(decomposing: try Matrix(rows: 64, columns: 64, values: w), rowModes: [4, 4, 4], columnModes: [4, 4, 4])
        XCTAssertEqual(tt.ranks, [1, 16, 16, 1])
        let shapes = (0..<3).map { [tt.ranks[$0], 4, 4, tt.ranks[$0 + 1]] }
        XCTAssertLessThanOrEqual(distance(denseMatrix(tt.cores, shapes), w), 1e-10 * norm(w))
        XCTAssertLessThanOrEqual(distance(try tt.toMatrix().values, w), 1e-10 * norm(w))
        // With eps, the relative error bound holds.
        let approx = try TTMatrix(decomposing: try Matrix(rows: 64, columns: 64, values: w), rowModes: [4, 4, 4], columnModes: [4, 4, 4], eps: 0.3)
        XCTAssertLessThanOrEqual(distance(try approx.toMatrix().values, w), 0.3 * norm(w) * (1 + 1e-12))
        XCTAssertLessThan(approx.parameterCount, tt.parameterCount)
    }

    // MARK: - balancedModes

    func testBalancedModes() throws {
        XCTAssertEqual(try balancedModes(1024, order: 5), [4, 4, 4, 4, 4])
        XCTAssertEqual(try balancedModes(4096, order: 4), [8, 8, 8, 8])
        XCTAssertEqual(try balancedModes(12, order: 2), [4, 3])
        XCTAssertEqual(try balancedModes(13, order: 3), [13, 1, 1])
        XCTAssertEqual(try balancedModes(1, order: 2), [1, 1])
        XCTAssertEqual(try balancedModes(784, order: 2), [28, 28])
        for n in 1...300 {
            for order in 1...4 { XCTAssertEqual(try balancedModes(n, order: order).reduce(1, *), n) }
        }
        XCTAssertThrowsError(try balancedModes(0, order: 2))
        XCTAssertThrowsError(try balancedModes(8, order: 0))
    }

    // MARK: - Errors

    private func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch let e as TNError { return e.message } catch { return "\(error)" }
    }

    func testErrorMessages() throws {
        let x = [Double](repeating: 1, count: 24)
        XCTAssertTrue(message { _ = try TTTensor<Double>(cores: [[1, 2], [1, 2, 3, 4, 5, 6]], coreShapes: [[1, 2, 1], [2, 3, 1]]) }
            .contains("TT core 0 has right rank 1 but TT core 1 has left rank 2"))
        XCTAssertTrue(message { _ = try TTTensor<Double>(cores: [[1, 2, 3]], coreShapes: [[1, 2, 1]]) }
            .contains("TT core 0 has shape [1, 2, 1] (2 values) but 3 values"))
        XCTAssertTrue(message { _ = try TTTensor<Double>(cores: [[1, 2]], coreShapes: [[2, 1, 1]]) }.contains("left rank 1"))
        XCTAssertTrue(message { _ = try TTTensor<Double>(cores: [[]], coreShapes: [[1, 0, 1]]) }.contains("at least 1"))
        XCTAssertTrue(message { _ = try self.decompose(x, [2, 3, 4], maxRanks: [2]) }.contains("2 bonds but 1 rank caps"))
        XCTAssertTrue(message { _ = try self.decompose(x, [2, 3, 4], maxRanks: [2, 0]) }.contains("bond 1 must be at least 1"))
        XCTAssertTrue(message { _ = try self.decompose(x, [2, 3, 4], eps: -1) }.contains("eps must be finite and non-negative"))
        XCTAssertTrue(message { _ = try self.decompose(x, [2, 0, 4]) }.contains("mode 1"))
        XCTAssertTrue(message { _ = try self.decompose(x, []) }.contains("at least one mode"))
        var bad = x
        bad[5] = .nan
        XCTAssertThrowsError(try decompose(bad, [2, 3, 4]))
        let w = try Matrix<Double>(rows: 6, columns: 4)
        XCTAssertTrue(message { _ = try TTMatrix(decomposing: w, rowModes: [2, 2], columnModes: [2, 2]) }
            .contains("the row modes [2, 2] multiply to 4 but the matrix has 6 rows"))
        XCTAssertTrue(message { _ = try TTMatrix(decomposing: w, rowModes: [2, 3], columnModes: [4]) }.contains("as many row modes"))
        XCTAssertTrue(message { _ = try TTMatrix(decomposing: w, rowModes: [2, 3], columnModes: [2, 3]) }.contains("multiply to 6 but the matrix has 4 columns"))
        let a = try TTTensor<Double>(cores: [[1, 2]], coreShapes: [[1, 2, 1]])
        let b = try TTTensor<Double>(cores: [[1, 2, 3]], coreShapes: [[1, 3, 1]])
        XCTAssertThrowsError(try a + b)
        XCTAssertThrowsError(try a.inner(b))
        XCTAssertThrowsError(try a.rounded(maxRank: 0))
    }
}
