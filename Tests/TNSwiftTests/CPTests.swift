import XCTest
@testable import TNSwift

/// CP tensors and CP-ALS against plain-loop references over Double.
final class CPTests: XCTestCase {
    /// Σ_r w_r Π_k U_k[i_k, r], one multi-index at a time.
    private func reference(_ weights: [Double], _ factors: [[Double]], _ shape: [Int]) -> [Double] {
        let rank = weights.count
        let total = shape.reduce(1, *)
        return (0..<total).map { flat in
            var index = [Int](repeating: 0, count: shape.count)
            var rest = flat
            for a in stride(from: shape.count - 1, through: 0, by: -1) { index[a] = rest % shape[a]; rest /= shape[a] }
            var sum = 0.0
            for r in 0..<rank {
                var p = weights[r]
                for k in shape.indices { p *= factors[k][index[k] * rank + r] }
                sum += p
            }
            return sum
        }
    }

    private func relativeError(_ x: [Double], _ y: [Double]) -> Double {
        let diff = zip(x, y).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        return (diff / x.reduce(0.0) { $0 + $1 * $1 }).squareRoot()
    }

    private func lowRank(_ shape: [Int], rank: Int, seed: UInt64) -> (weights: [Double], factors: [[Double]], values: [Double]) {
        var rng = TestRandom(state: seed)
        let weights = (0..<rank).map { _ in 1 + rng.next() * 0.5 }
        let factors = shape.map { rng.array($0 * rank) }
        return (weights, factors, reference(weights, factors, shape))
    }

    private func als<T: LAPACKScalar>(_ x: [T], _ shape: [Int], rank: Int, _ initialization: CPInitialization<T> = .svd,
                                      iterations: Int = 100, tolerance: Double = 1e-8,
                                      progress: DecompositionProgressHandler? = nil) throws -> CPTensor<T> {
        try x.withUnsafeBufferPointer {
            try CPTensor(decomposing: $0.baseAddress!, shape: shape, rank: rank, initialization: initialization,
                         maxIterations: iterations, tolerance: tolerance, progress: progress)
        }
    }

    func testToDenseMatchesReference() throws {
        let (w, f, x) = lowRank([3, 1, 4, 2], rank: 3, seed: 1)
        let cp = try CPTensor(weights: w, factors: f, shape: [3, 1, 4, 2])
        XCTAssertLessThan(relativeError(x, try cp.toDense()), 1e-14)
        XCTAssertEqual(cp.parameterCount, 3 * (1 + 3 + 1 + 4 + 2))
    }

    func testExactLowRankIsRecoveredInDouble() throws {
        for (shape, rank, seed) in [([6, 7, 8], 3, UInt64(2)), ([4, 5, 3, 6], 2, 3), ([9, 5], 4, 4), ([3, 4, 2, 3, 2], 2, 5)] {
            let (_, _, x) = lowRank(shape, rank: rank, seed: seed)
            let cp = try als(x, shape, rank: rank, iterations: 2000, tolerance: 0)
            let error = relativeError(x, try cp.toDense())
            XCTAssertLessThan(error, 1e-10, "shape \(shape) rank \(rank)")
            // Unit-norm columns, the scale in the weights.
            for (k, n) in shape.enumerated() {
                for r in 0..<rank {
                    let s = (0..<n).reduce(0.0) { $0 + cp.factors[k][$1 * rank + r] * cp.factors[k][$1 * rank + r] }
                    XCTAssertEqual(s, 1, accuracy: 1e-12)
                }
            }
            XCTAssertEqual(cp.errors.count, 2000)
        }
    }

    func testExactLowRankIsRecoveredInFloat() throws {
        let shape = [6, 5, 7]
        let (_, _, x) = lowRank(shape, rank: 3, seed: 6)
        let cp = try als(x.map(Float.init), shape, rank: 3, iterations: 500, tolerance: 0)
        XCTAssertLessThan(relativeError(x, try cp.toDense().map(Double.init)), 1e-5)
    }

    func testErrorsMatchDenseResidualAndDecrease() throws {
        var rng = TestRandom(state: 7)
        let shape = [5, 6, 4]
        let x = rng.array(120)
        let cp = try als(x, shape, rank: 3, .random(seed: 9), iterations: 30, tolerance: 0)
        XCTAssertEqual(cp.errors.last!, relativeError(x, try cp.toDense()), accuracy: 1e-9)
        for i in 1..<cp.errors.count { XCTAssertLessThanOrEqual(cp.errors[i], cp.errors[i - 1] + 1e-12) }
    }

    func testRankAboveModeSizesAndGivenInitialisation() throws {
        let shape = [3, 4, 2]
        let (w, f, x) = lowRank(shape, rank: 5, seed: 8)
        let start = try CPTensor(weights: w, factors: f, shape: shape)
        let cp = try als(x, shape, rank: 5, .given(start), iterations: 3, tolerance: 0)
        XCTAssertLessThan(cp.errors.last!, 1e-6)   // starting at the answer
        let svdStart = try als(x, shape, rank: 5, iterations: 50)
        XCTAssertEqual(svdStart.rank, 5)
        XCTAssertTrue(svdStart.errors.allSatisfy { $0.isFinite })
    }

    /// Collinear starting factors make the Gram product singular: the pseudo-inverse path
    /// takes over and ALS still converges.
    func testSingularNormalEquationsFallBackToPseudoInverse() throws {
        let shape = [4, 5, 3]
        let (_, _, x) = lowRank(shape, rank: 1, seed: 13)
        let column = shape.map { n in (0..<n).map { Double($0 + 1) } }
        let start = try CPTensor(weights: [1, 1], factors: column.map { c in c.flatMap { [$0, $0] } }, shape: shape)
        XCTAssertNil(CPTensor<Double>.choleskyInverse([1, 1, 1, 1], size: 2))
        let cp = try als(x, shape, rank: 2, .given(start), iterations: 50, tolerance: 0)
        XCTAssertTrue(cp.errors.allSatisfy { $0.isFinite })
        XCTAssertLessThan(relativeError(x, try cp.toDense()), 1e-8)
        let inverse = try XCTUnwrap(CPTensor<Double>.choleskyInverse([4, 2, 2, 3], size: 2))
        for (a, b) in zip(inverse, [0.375, -0.25, -0.25, 0.5]) { XCTAssertEqual(a, b, accuracy: 1e-15) }
    }

    func testToleranceStopsEarly() throws {
        let (_, _, x) = lowRank([5, 5, 5], rank: 2, seed: 10)
        let cp = try als(x, [5, 5, 5], rank: 2, iterations: 1000, tolerance: 1e-6)
        XCTAssertLessThan(cp.errors.count, 1000)
        let last = cp.errors.count - 1
        XCTAssertLessThan(abs(cp.errors[last] - cp.errors[last - 1]), 1e-6)
    }

    func testZeroTensorAndZeroIterations() throws {
        let zero = try als([Double](repeating: 0, count: 24), [2, 3, 4], rank: 2)
        XCTAssertEqual(zero.weights, [0, 0])
        XCTAssertEqual(try zero.toDense(), [Double](repeating: 0, count: 24))
        let (_, _, x) = lowRank([2, 3, 4], rank: 2, seed: 11)
        XCTAssertTrue(try als(x, [2, 3, 4], rank: 2, iterations: 0).errors.isEmpty)
    }

    func testProgressIsReportedAndCanStop() throws {
        let (_, _, x) = lowRank([4, 4, 4], rank: 2, seed: 12)
        var seen: [DecompositionProgress] = []
        XCTAssertThrowsError(try als(x, [4, 4, 4], rank: 2, iterations: 10, tolerance: 0) { p in
            seen.append(p)
            return p.step < 3
        }) { XCTAssertEqual($0 as? TNError, .interrupted("CP-ALS was interrupted after step 3 of 10")) }
        XCTAssertEqual(seen.map(\.step), [1, 2, 3])
        XCTAssertTrue(seen.allSatisfy { $0.totalSteps == 10 && $0.relativeError != nil })
    }

    func testBadInputThrows() throws {
        let x = [Double](repeating: 1, count: 24)
        let cases: [(String, () throws -> Any)] = [
            ("rank 0", { try self.als(x, [2, 3, 4], rank: 0) }),
            ("rank too large", { try self.als(x, [2, 3, 4], rank: 25) }),
            ("order 1", { try self.als(x, [24], rank: 1) }),
            ("mode 0", { try self.als(x, [0, 3, 4], rank: 1) }),
            ("negative tolerance", { try self.als(x, [2, 3, 4], rank: 1, tolerance: -1) }),
            ("negative iterations", { try self.als(x, [2, 3, 4], rank: 1, iterations: -1) }),
            ("NaN", { try self.als([Double.nan] + x.dropFirst(), [2, 3, 4], rank: 1) }),
            ("wrong init shape", { try self.als(x, [2, 3, 4], rank: 1, .given(try CPTensor(weights: [1], factors: [[1, 1], [1, 1, 1], [1, 1, 1, 1, 1]], shape: [2, 3, 5]))) }),
            ("factor size", { try CPTensor<Double>(weights: [1, 2], factors: [[1, 1], [1]], shape: [2, 1]) }),
            ("no weights", { try CPTensor<Double>(weights: [], factors: [[]], shape: [2]) }),
        ]
        for (name, body) in cases {
            XCTAssertThrowsError(try body(), name) { XCTAssertFalse(($0 as? TNError)?.message.isEmpty ?? true, name) }
        }
    }
}
