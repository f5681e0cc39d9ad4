import XCTest
@testable import TNSwift

/// Tucker tensors, HOSVD and HOOI against plain-loop references over Double.
final class TuckerTests: XCTestCase {
    /// Σ_{r} G[r_1..r_d] Π_k U_k[i_k, r_k], one multi-index at a time.
    private func reference(_ core: [Double], _ ranks: [Int], _ factors: [[Double]], _ shape: [Int]) -> [Double] {
        func unravel(_ flat: Int, _ dims: [Int]) -> [Int] {
            var index = [Int](repeating: 0, count: dims.count)
            var rest = flat
            for a in stride(from: dims.count - 1, through: 0, by: -1) { index[a] = rest % dims[a]; rest /= dims[a] }
            return index
        }
        return (0..<shape.reduce(1, *)).map { flat in
            let i = unravel(flat, shape)
            var sum = 0.0
            for (c, g) in core.enumerated() {
                let r = unravel(c, ranks)
                var p = g
                for k in shape.indices { p *= factors[k][i[k] * ranks[k] + r[k]] }
                sum += p
            }
            return sum
        }
    }

    private func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
    private func relativeError(_ x: [Double], _ y: [Double]) -> Double { norm(zip(x, y).map { $0 - $1 }) / norm(x) }

    private func lowRank(_ shape: [Int], _ ranks: [Int], seed: UInt64) -> [Double] {
        var rng = TestRandom(state: seed)
        let core = rng.array(ranks.reduce(1, *))
        return reference(core, ranks, shape.indices.map { rng.array(shape[$0] * ranks[$0]) }, shape)
    }

    private func tucker<T: LAPACKScalar>(_ x: [T], _ shape: [Int], ranks: [Int]?, eps: Double? = nil, method: TuckerMethod = .hooi,
                                         iterations: Int = 20, tolerance: Double = 0,
                                         progress: DecompositionProgressHandler? = nil) throws -> TuckerTensor<T> {
        try x.withUnsafeBufferPointer {
            try TuckerTensor(decomposing: $0.baseAddress!, shape: shape, ranks: ranks, eps: eps, method: method,
                             maxIterations: iterations, tolerance: tolerance, progress: progress)
        }
    }

    func testToDenseMatchesReference() throws {
        var rng = TestRandom(state: 1)
        let (shape, ranks) = ([3, 1, 4], [2, 1, 2])
        let core = rng.array(4), factors = shape.indices.map { rng.array(shape[$0] * ranks[$0]) }
        let t = try TuckerTensor(core: core, factors: factors, shape: shape, ranks: ranks)
        XCTAssertLessThan(relativeError(reference(core, ranks, factors, shape), try t.toDense()), 1e-14)
        XCTAssertEqual(t.parameterCount, 4 + 6 + 1 + 8)
    }

    func testExactLowRankIsRecovered() throws {
        for (shape, ranks, seed) in [([6, 7, 8], [2, 3, 4], UInt64(2)), ([5, 4, 3, 6], [2, 2, 3, 3], 3), ([9, 5], [3, 3], 4),
                                     ([3, 2, 4, 2, 3], [2, 2, 2, 1, 2], 5), ([7], [1], 6)] {
            let x = lowRank(shape, ranks, seed: seed)
            for method in [TuckerMethod.hosvd, .hooi] {
                let t = try tucker(x, shape, ranks: ranks, method: method, iterations: 5)
                XCTAssertEqual(t.ranks, ranks)
                XCTAssertLessThan(relativeError(x, try t.toDense()), 1e-10, "\(shape) \(method)")
                // Orthonormal factor columns.
                for k in shape.indices {
                    let g = ModeKernels.gram(t.factors[k], rows: shape[k], columns: ranks[k])
                    for i in 0..<ranks[k] { for j in 0..<ranks[k] { XCTAssertEqual(g[i * ranks[k] + j], i == j ? 1 : 0, accuracy: 1e-12) } }
                }
            }
            let f = try tucker(x.map(Float.init), shape, ranks: ranks, iterations: 3)
            XCTAssertLessThan(relativeError(x, try f.toDense().map(Double.init)), 1e-5)
        }
    }

    func testHOOIIsNoWorseThanHOSVDAndErrorsAreExact() throws {
        var rng = TestRandom(state: 7)
        let shape = [8, 7, 6]
        let x = rng.array(shape.reduce(1, *))
        let hosvd = try tucker(x, shape, ranks: [3, 3, 3], method: .hosvd)
        let hooi = try tucker(x, shape, ranks: [3, 3, 3], iterations: 15)
        let eHosvd = relativeError(x, try hosvd.toDense()), eHooi = relativeError(x, try hooi.toDense())
        XCTAssertLessThanOrEqual(eHooi, eHosvd + 1e-12)
        XCTAssertEqual(hosvd.errors.count, 1)
        XCTAssertEqual(hosvd.errors[0], eHosvd, accuracy: 1e-9)
        XCTAssertEqual(hooi.errors.last!, eHooi, accuracy: 1e-9)
        for i in 1..<hooi.errors.count { XCTAssertLessThanOrEqual(hooi.errors[i], hooi.errors[i - 1] + 1e-12) }
    }

    func testEpsGuaranteeOnGeneratedTensors() throws {
        var rng = TestRandom(state: 8)
        var checked = 0
        for _ in 0..<80 {
            let d = rng.int(1...5)
            var shape = (0..<d).map { _ in rng.int(1...7) }
            while shape.reduce(1, *) > 1500 { shape[shape.firstIndex(of: shape.max()!)!] -= 1 }
            let ranks = shape.map { rng.int(1...$0) }
            // Low rank plus noise, so eps has something to cut.
            let noise = [1e-1, 1e-3, 1e-6][rng.int(0...2)]
            let x = zip(lowRank(shape, ranks, seed: UInt64(checked + 100)), rng.array(shape.reduce(1, *))).map { $0 + noise * $1 }
            let eps = [0.0, 1e-4, 1e-2, 0.1, 0.5][rng.int(0...4)]
            for method in [TuckerMethod.hosvd, .hooi] {
                let t = try tucker(x, shape, ranks: nil, eps: eps, method: method, iterations: 3)
                XCTAssertLessThanOrEqual(relativeError(x, try t.toDense()), eps * (1 + 1e-9) + 1e-12, "\(shape) eps \(eps)")
            }
            checked += 1
        }
        XCTAssertEqual(checked, 80)
    }

    func testProgressAndInterruption() throws {
        let x = lowRank([5, 5, 5], [2, 2, 2], seed: 9)
        var steps: [Int] = []
        XCTAssertThrowsError(try tucker(x, [5, 5, 5], ranks: [2, 2, 2], iterations: 10) { steps.append($0.step); return $0.step < 2 }) {
            XCTAssertEqual($0 as? TNError, .interrupted("HOOI was interrupted after step 2 of 10"))
        }
        XCTAssertEqual(steps, [1, 2])
    }

    func testBadInputThrows() throws {
        let x = [Double](repeating: 1, count: 24)
        let cases: [(String, () throws -> Any)] = [
            ("no ranks or eps", { try self.tucker(x, [2, 3, 4], ranks: nil) }),
            ("rank 0", { try self.tucker(x, [2, 3, 4], ranks: [0, 1, 1]) }),
            ("rank above mode", { try self.tucker(x, [2, 3, 4], ranks: [3, 1, 1]) }),
            ("rank above others", { try self.tucker(x, [2, 3, 4], ranks: [1, 1, 2]) }),
            ("rank count", { try self.tucker(x, [2, 3, 4], ranks: [1, 1]) }),
            ("eps negative", { try self.tucker(x, [2, 3, 4], ranks: nil, eps: -1) }),
            ("eps NaN", { try self.tucker(x, [2, 3, 4], ranks: nil, eps: .nan) }),
            ("infinity", { try self.tucker([Double.infinity] + x.dropFirst(), [2, 3, 4], ranks: [1, 1, 1]) }),
            ("mode 0", { try self.tucker(x, [0, 3, 4], ranks: nil, eps: 0.1) }),
            ("core size", { try TuckerTensor<Double>(core: [1, 2], factors: [[1], [1]], shape: [1, 1], ranks: [1, 1]) }),
        ]
        for (name, body) in cases {
            XCTAssertThrowsError(try body(), name) { XCTAssertFalse(($0 as? TNError)?.message.isEmpty ?? true, name) }
        }
    }
}
