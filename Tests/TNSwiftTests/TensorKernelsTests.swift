import XCTest
@testable import TNSwift

final class TensorKernelsTests: XCTestCase {
    /// Moves `shape` (source strides `srcStrides`, offset `srcBase`) into a destination laid out
    /// contiguously in the order `perm`, with `transfer` and with a plain index loop.
    func checkPermute(_ shape: [Int], perm: [Int], reverse: Int? = nil, accumulate: Bool = false,
                      file: StaticString = #filePath, line: UInt = #line) {
        let count = shape.reduce(1, *)
        var rng = TestRandom(state: UInt64(count &+ perm.count))
        let source = rng.array(count)
        var srcStrides = StridedView<Double>.contiguousStrides(shape)
        var srcOffset = 0
        if let r = reverse {
            srcOffset = (shape[r] - 1) * srcStrides[r]
            srcStrides[r] = -srcStrides[r]
        }
        let permutedStrides = StridedView<Double>.contiguousStrides(perm.map { shape[$0] })
        var dstStrides = [Int](repeating: 0, count: shape.count)
        for (position, d) in perm.enumerated() { dstStrides[d] = permutedStrides[position] }
        let initial = rng.array(count)
        var got = initial, want = initial
        var index = [Int](repeating: 0, count: shape.count)
        for _ in 0..<count {
            var s = srcOffset, t = 0
            for d in shape.indices { s += index[d] * srcStrides[d]; t += index[d] * dstStrides[d] }
            want[t] = accumulate ? want[t] + source[s] : source[s]
            var d = shape.count - 1
            while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
        }
        source.withUnsafeBufferPointer { src in
            got.withUnsafeMutableBufferPointer { dst in
                TensorKernels.transfer(sizes: shape, src: src.baseAddress! + srcOffset, srcStrides: srcStrides,
                                       dst: dst.baseAddress!, dstStrides: dstStrides, accumulate: accumulate)
            }
        }
        XCTAssertEqual(got, want, "\(shape) perm \(perm) reverse \(String(describing: reverse)) accumulate \(accumulate)",
                       file: file, line: line)
    }

    func testPermutesOfManySmallDimensions() {
        // W1's weight-gradient permutes (short innermost runs go through offset tables).
        checkPermute([8, 2, 8, 2, 8, 2, 8, 2], perm: [0, 2, 4, 6, 1, 3, 5, 7])
        checkPermute([8, 2, 8, 2, 8, 2, 8, 2], perm: [1, 3, 5, 7, 0, 2, 4, 6])
        checkPermute([3, 2, 5, 2, 7], perm: [4, 2, 0, 3, 1], reverse: 2)
        checkPermute([2, 3, 2, 3, 2, 3], perm: [5, 3, 1, 4, 2, 0], accumulate: true)
        // Short contiguous runs moved whole through the tables: W5b's TT-chain permutes (runs of
        // 4), and runs of 2, 8 and an odd length.
        checkPermute([224, 8, 4, 4], perm: [2, 1, 0, 3])
        checkPermute([4, 4, 2, 7, 4, 4, 4], perm: [4, 2, 3, 0, 1, 5, 6])
        checkPermute([9, 5, 7, 2], perm: [2, 0, 1, 3])
        checkPermute([3, 6, 5, 8], perm: [1, 2, 0, 3], reverse: 1)
        checkPermute([6, 4, 5, 11], perm: [2, 1, 0, 3])
    }

    func testBlockedPermutesOfShortRuns() {
        // W5b's batch-100 intermediates (batch 3 here; the second is large enough to be split
        // over the workers): runs of 4 in blocks that read and write whole lines.
        checkPermute([4, 4, 3, 2, 7, 8, 4, 4], perm: [6, 5, 0, 1, 2, 3, 4, 7])
        checkPermute([3, 4, 4, 2, 7, 8, 8, 4], perm: [0, 3, 4, 5, 6, 1, 2, 7])
        // W5a's weight-gradient permute (ten 4s there), single elements interleaved.
        checkPermute([4, 4, 4, 4, 4, 4, 4, 4], perm: [0, 4, 1, 5, 2, 6, 3, 7])
        // Prime sizes that cannot be split to fit a block, one of them larger than a block.
        checkPermute([31, 4, 37, 4], perm: [2, 0, 1, 3])
        checkPermute([1031, 3, 4], perm: [1, 0, 2])
        checkPermute([5, 1031, 3], perm: [2, 1, 0], reverse: 1)
        // Contiguous runs of 16 to 63 go through the tables too: W5a's weight gradient in the
        // order its reconstruction reads it (runs of 16), W4's dy (runs of 32), odd lengths.
        checkPermute([4, 4, 4, 4, 4, 4, 4, 4, 4, 4], perm: [0, 1, 5, 6, 2, 7, 3, 4, 8, 9])
        checkPermute([8, 32, 32], perm: [1, 0, 2])
        checkPermute([5, 6, 48], perm: [1, 0, 2])
        checkPermute([7, 3, 63], perm: [1, 0, 2], reverse: 0)
        checkPermute([3, 5, 2, 64], perm: [2, 1, 0, 3])
        XCTAssertEqual(TensorKernels.largestDivisor(of: 1400, atMost: 16), 14)
        XCTAssertEqual(TensorKernels.largestDivisor(of: 1031, atMost: 32), 1)
        XCTAssertEqual(TensorKernels.largestDivisor(of: 8, atMost: 32), 8)
        XCTAssertEqual(TensorKernels.largestDivisor(of: 1, atMost: 5), 1)
    }

    func testTransposesAndContiguousRuns() {
        // Transposes with a long write run and a contiguous read (copied in strips).
        checkPermute([32, 256, 32], perm: [0, 2, 1])
        checkPermute([64, 32, 32, 2], perm: [0, 2, 3, 1])
        checkPermute([17, 45], perm: [1, 0])
        checkPermute([40, 33], perm: [1, 0], reverse: 0)
        // Contiguous runs of every length (memmove).
        checkPermute([5, 3, 7], perm: [1, 0, 2])
        checkPermute([4, 6, 70], perm: [1, 0, 2], reverse: 1)
    }

    func testRandomPermutes() {
        var rng = TestRandom(state: 42)
        for _ in 0..<60 {
            let rank = rng.int(2...7)
            var shape = (0..<rank).map { _ in rng.int(1...9) }
            while shape.reduce(1, *) > 40_000 { shape[shape.firstIndex(of: shape.max()!)!] /= 2 }
            var perm = Array(0..<rank)
            for i in stride(from: rank - 1, to: 0, by: -1) { perm.swapAt(i, rng.int(0...i)) }
            checkPermute(shape, perm: perm, reverse: rng.int(0...1) == 0 ? rng.int(0...(rank - 1)) : nil,
                         accumulate: rng.int(0...3) == 0)
        }
    }

    /// `TensorKernels.direct` on two operands against a plain index loop. `aLabels`, `bLabels`
    /// and `outLabels` are orders (outermost first) of contiguous layouts; labels of neither
    /// output are summed.
    func checkDirect(sizes: [Int], aLabels: [Int], bLabels: [Int], outLabels: [Int],
                     file: StaticString = #filePath, line: UInt = #line) {
        let sumLabels = sizes.indices.filter { !outLabels.contains($0) }
        let order = outLabels + sumLabels
        let strides = { (labels: [Int]) -> [Int] in
            let contiguous = StridedView<Double>.contiguousStrides(labels.map { sizes[$0] })
            return order.map { l in labels.firstIndex(of: l).map { contiguous[$0] } ?? 0 }
        }
        var rng = TestRandom(state: UInt64(sizes.reduce(1, *) &+ 7 &* order.count))
        var a = rng.array(aLabels.reduce(1) { $0 * sizes[$1] }), b = rng.array(bLabels.reduce(1) { $0 * sizes[$1] })
        let (sa, sb, so) = (strides(aLabels), strides(bLabels), strides(outLabels))
        let outCount = outLabels.reduce(1) { $0 * sizes[$1] }
        var want = [Double](repeating: 0, count: outCount)
        var index = [Int](repeating: 0, count: order.count)
        for _ in 0..<order.reduce(1, { $0 * sizes[$1] }) {
            var (i, j, o) = (0, 0, 0)
            for d in order.indices { i += index[d] * sa[d]; j += index[d] * sb[d]; o += index[d] * so[d] }
            want[o] += a[i] * b[j]
            var d = order.count - 1
            while d >= 0 { index[d] += 1; if index[d] < sizes[order[d]] { break }; index[d] = 0; d -= 1 }
        }
        var got = [Double](repeating: .nan, count: outCount)
        a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                got.withUnsafeMutableBufferPointer { po in
                    var bases = [pa.baseAddress!, pb.baseAddress!]
                    bases.withUnsafeMutableBufferPointer { table in
                        TensorKernels.direct(outSizes: outLabels.map { sizes[$0] }, sumSizes: sumLabels.map { sizes[$0] },
                                             operands: [0, 1], bases: table.baseAddress!, operandStrides: [sa, sb],
                                             out: po.baseAddress!, outStrides: so)
                    }
                }
            }
        }
        for (g, w) in zip(got, want) {
            XCTAssertEqual(g, w, accuracy: 1e-12 * Swift.max(1, abs(w)),
                           "sizes \(sizes) a \(aLabels) b \(bLabels) out \(outLabels)", file: file, line: line)
        }
    }

    func testDirectLoops() {
        // W2's Khatri–Rao steps with the rank innermost (rows that vectorise): an outer
        // product, and sums around an accumulated row.
        let (r, a, b, c) = (0, 1, 2, 3)
        checkDirect(sizes: [100, 4, 4, 16], aLabels: [a, b, r], bLabels: [c, r], outLabels: [a, b, c, r])
        checkDirect(sizes: [100, 4, 4, 16], aLabels: [a, b, c, r], bLabels: [a, b, r], outLabels: [c, r])
        // The same with the rank outermost (strided), and a contiguous dot product.
        checkDirect(sizes: [100, 4, 4, 16], aLabels: [r, a, b], bLabels: [c, r], outLabels: [r, a, b, c])
        checkDirect(sizes: [100, 4, 4, 16], aLabels: [r, a, b, c], bLabels: [r, a, b], outLabels: [c, r])
        checkDirect(sizes: [9, 37, 5], aLabels: [0, 1, 2], bLabels: [0, 1, 2], outLabels: [0, 2])
        checkDirect(sizes: [6, 23], aLabels: [0, 1], bLabels: [1], outLabels: [0])
        var rng = TestRandom(state: 7)
        for _ in 0..<80 {
            let count = rng.int(1...5)
            var sizes = (0..<count).map { _ in rng.int(1...9) }
            while sizes.reduce(1, *) > 20_000 { sizes[sizes.firstIndex(of: sizes.max()!)!] /= 2 }
            let shuffled = { (labels: [Int], rng: inout TestRandom) -> [Int] in
                var l = labels
                for i in stride(from: l.count - 1, to: 0, by: -1) { l.swapAt(i, rng.int(0...i)) }
                return l
            }
            let all = Array(0..<count)
            let outLabels = Array(shuffled(all, &rng).prefix(rng.int(1...count)))
            let aLabels = shuffled(all.filter { _ in rng.int(0...3) > 0 }, &rng)
            let bLabels = shuffled(all.filter { _ in rng.int(0...3) > 0 }, &rng)
            checkDirect(sizes: sizes, aLabels: aLabels, bLabels: bLabels, outLabels: outLabels)
        }
    }

    /// W4's first step writes its result in the order the second step reads it (batch, i, k,
    /// b), so the forward program copies no intermediate.
    func testIntermediateIsLaidOutForItsReader() throws {
        let (n, m, r) = (64, 32, 2)
        let shapes = [[n, m, m], [m, m, r], [m, m, r]]
        var rng = TestRandom(state: 7)
        let ops = shapes.map { rng.array($0.reduce(1, *)) }
        let (x, a, b) = (ops[0], ops[1], ops[2])
        let e = try EinsumParser.parse("nij,aik,bjk->nab", ndims: [3, 3, 3])
        let plan = try ContractionPlan<Double>(expression: e, shapes: shapes, strategy: .auto)
        let got = try runPlan(plan, ops)
        // The same two steps as loops: t[z,i,q,k] = Σ_j x[z,i,j] b[q,j,k]; out = Σ_ik a[p,i,k] t[z,i,q,k].
        var t = [Double](repeating: 0, count: n * m * m * r)
        for z in 0..<n { for i in 0..<m { for q in 0..<m { for k in 0..<r {
            var s = 0.0
            for j in 0..<m { s += x[(z * m + i) * m + j] * b[(q * m + j) * r + k] }
            t[((z * m + i) * m + q) * r + k] = s
        } } } }
        var want = [Double](repeating: 0, count: n * m * m)
        for z in 0..<n { for p in 0..<m { for q in 0..<m {
            var s = 0.0
            for i in 0..<m { for k in 0..<r { s += a[(p * m + i) * r + k] * t[((z * m + i) * m + q) * r + k] } }
            want[(z * m + p) * m + q] = s
        } } }
        XCTAssertLessThan(maxRelativeError(got, want), 1e-12)
        var copied = 0
        for case .transfer(let sizes, _, _, _, _) in plan.forward!.instructions { copied += sizes.reduce(1, *) }
        XCTAssertLessThanOrEqual(copied, 2 * m * m * r, "the cores may be copied, not the \(n * m * m * r)-element intermediate")
    }

    /// `StridedView.allFinite` checks dimensions that continue each other as one run: every
    /// element of the view is seen, and none outside it.
    func testAllFiniteOverMergedAndStridedDimensions() throws {
        let shape = [3, 4, 1, 4, 4]
        var data = [Float](repeating: 1, count: 2 * 192)
        try data.withUnsafeMutableBufferPointer { buffer in
            let p = buffer.baseAddress!
            let whole = StridedView(contiguous: p, shape: shape)
            XCTAssertTrue(whole.allFinite())
            for position in [0, 1, 63, 64, 100, 191] {
                for bad in [Float.nan, .infinity, -.infinity] {
                    p[position] = bad
                    XCTAssertFalse(whole.allFinite(), "\(bad) at \(position)")
                    p[position] = 1
                }
            }
            // Every other element along the last dimension, and a reversed first dimension.
            let strided = try StridedView(base: p, shape: [3, 4, 4, 2], strides: [64, 16, 4, 2])
            let reversed = try StridedView(base: p + 128, shape: [3, 64], strides: [-64, 1])
            p[1] = .nan                 // outside the strided view
            p[192] = .nan               // past both views
            XCTAssertTrue(strided.allFinite())
            XCTAssertFalse(reversed.allFinite())   // p[1] is in row 2 of the reversed view
            p[1] = 1
            XCTAssertTrue(reversed.allFinite())
            p[6] = .infinity            // element (0, 0, 1, 1) of the strided view
            XCTAssertFalse(strided.allFinite())
            XCTAssertFalse(reversed.allFinite())
        }
    }

    /// The run a copy reads and writes in step, which prices copies when plans are bound.
    func testCommonRunOfACopy() {
        // W5a's weight gradient into the reconstruction's order: (o4, o5) run on together.
        let sizes = [Int](repeating: 4, count: 10)
        let src = [262144, 65536, 256, 64, 16384, 16, 4096, 1024, 4, 1]
        let dst = [262144, 65536, 16384, 4096, 1024, 256, 64, 16, 4, 1]
        XCTAssertEqual(StepBinder.commonRun(sizes, src, dst), 16)
        XCTAssertEqual(StepBinder.copyCost(sizes, src, dst), 1 << 20)
        // The order it had before: o5 alone.
        let shortSrc = [262144, 65536, 256, 64, 16384, 16, 4096, 4, 1024, 1]
        XCTAssertEqual(StepBinder.commonRun(sizes, shortSrc, dst), 4)
        XCTAssertEqual(StepBinder.copyCost(sizes, shortSrc, dst), 3 << 19)
        // A transpose, a plain copy, sizes of 1 and a reversed run.
        XCTAssertEqual(StepBinder.commonRun([32, 32], [1, 32], [32, 1]), 0)
        XCTAssertEqual(StepBinder.copyCost([32, 32], [1, 32], [32, 1]), 2048)
        XCTAssertEqual(StepBinder.commonRun([3, 1, 5], [5, 99, 1], [5, 7, 1]), 15)
        XCTAssertEqual(StepBinder.commonRun([6], [-1], [1]), 6)
        XCTAssertEqual(StepBinder.commonRun([1, 1], [0, 0], [0, 0]), 1)
        // A dimension summed into a zero stride is not written along.
        XCTAssertEqual(StepBinder.commonRun([4, 8], [8, 1], [0, 1]), 8)
        XCTAssertEqual(StepBinder.commonRun([4, 8], [1, 4], [0, 1]), 0)
        XCTAssertEqual(StepBinder.commonRun([5], [1], [0]), 1)
    }
}
