import XCTest
@testable import TNSwift

final class PathOptimizerTests: XCTestCase {
    /// Brute force over every pairwise order, with the optimizer's cost rules.
    func bruteForce(_ inputs: [LabelSet], _ output: LabelSet, _ sizes: [Double]) -> Double {
        func go(_ nodes: [LabelSet]) -> Double {
            if nodes.count == 1 { return 0 }
            var best = Double.infinity
            for i in 0..<nodes.count {
                for j in (i + 1)..<nodes.count {
                    var rest = nodes
                    rest.remove(at: j); rest.remove(at: i)
                    let outside = rest.reduce(output) { $0.union($1) }
                    let all = nodes[i].union(nodes[j])
                    let keep = all.intersection(outside)
                    let cost = all.size(sizes) * (all.subtracting(keep).isEmpty ? 1 : 2)
                    best = min(best, cost + go(rest + [keep]))
                }
            }
            return best
        }
        return go(inputs)
    }

    func testOptimalEqualsBruteForceOnRandomNetworks() throws {
        var rng = TestRandom(state: 7)
        for _ in 0..<60 {
            let n = rng.int(2...5)
            let labelCount = rng.int(3...7)
            let sizes = (0..<labelCount).map { _ in Double(rng.int(1...6)) }
            var inputs: [LabelSet] = []
            for _ in 0..<n { inputs.append(LabelSet((0..<labelCount).filter { _ in rng.next() > 0.2 })) }
            let output = LabelSet((0..<labelCount).filter { _ in rng.next() > 0.7 }.filter { l in inputs.contains { $0.contains(l) } })
            let opt = try PathOptimizer(inputs: inputs, output: output, sizes: sizes, memoryLimit: nil).path(.optimal)
            XCTAssertEqual(opt.optimizedFlops, bruteForce(inputs, output, sizes), accuracy: 1e-9)
            let greedy = try PathOptimizer(inputs: inputs, output: output, sizes: sizes, memoryLimit: nil).path(.greedy)
            XCTAssertGreaterThanOrEqual(greedy.optimizedFlops, opt.optimizedFlops - 1e-9)
        }
    }

    func testSeedTensorTrainCostMatchesOptEinsum() throws {
        // opt_einsum's optimal path for the seed TT layer costs 3.5e7 FLOPs at batch 256.
        let plan = try ContractionPlan<Float>("aei,bfij,cgjk,dhk,nabcd->nefgh",
                                              shapes: [[8, 2, 8], [8, 2, 8, 8], [8, 2, 8, 8], [8, 2, 8], [256, 8, 8, 8, 8]])
        XCTAssertEqual(plan.path.optimizedFlops, 3.5e7, accuracy: 0.1e7)
        XCTAssertTrue(plan.report.contains("GEMM"))
        XCTAssertEqual(plan.path.positionalSteps.count, 4)
    }

    func testMemoryLimitIsEnforced() throws {
        let shapes = [[8, 12], [12, 14], [14, 16]]
        let free = try ContractionPlan<Double>("ab,bc,cd->ad", shapes: shapes)
        XCTAssertEqual(free.largestIntermediate, 8 * 16)
        // The cheapest path makes an 8x14 intermediate; 12x16 is the only other choice.
        XCTAssertEqual(free.path.nodeLabels[3].size(free.labelSizes.map(Double.init)), 8 * 14)
        let tight = try ContractionPlan<Double>("ab,bc,cd->ad", shapes: shapes, memoryLimit: 100)
        XCTAssertTrue(tight.path.isDirect)   // both possible intermediates exceed 100 elements
        let fits = try ContractionPlan<Double>("ab,bc,cd->ad", shapes: [[8, 12], [12, 4], [4, 16]], memoryLimit: 40)
        XCTAssertFalse(fits.path.isDirect)
        XCTAssertLessThanOrEqual(fits.path.nodeLabels[3].size(fits.labelSizes.map(Double.init)), 40)
        // Nothing fits: the direct loop, still correct.
        let none = try ContractionPlan<Double>("ab,bc,cd->ad", shapes: shapes, memoryLimit: 10)
        XCTAssertTrue(none.path.isDirect)
        var rng = TestRandom(state: 3)
        let ops = shapes.map { rng.array($0.reduce(1, *)) }
        let e = try EinsumParser.parse("ab,bc,cd->ad", ndims: [2, 2, 2])
        XCTAssertLessThan(maxRelativeError(try runPlan(none, ops), referenceEinsum(e, ops, shapes).values), 1e-12)
    }

    func testUnknownStrategyListsValidOnes() {
        XCTAssertThrowsError(try PathStrategy(name: "fastest")) { error in
            XCTAssertTrue("\(error)".contains("auto, optimal, greedy, none"))
        }
    }
}
