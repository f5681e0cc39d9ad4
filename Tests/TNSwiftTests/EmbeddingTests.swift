import XCTest
@testable import TNSwift

/// TTEmbedding against independent references: each table entry summed over all bond
/// values by plain loops over the cores, and core gradients by central differences of
/// sum(output ⊙ R) through that same loop reference.
final class EmbeddingTests: XCTestCase {
    /// E[row, col] by explicit loops: the product of the core slices, one bond path at a time.
    static func entry(_ cores: [[Double]], shapes: [[Int]], row: Int, col: Int) -> Double {
        let d = shapes.count
        var rowDigits = [Int](repeating: 0, count: d), colDigits = [Int](repeating: 0, count: d)
        var r = row, c = col
        for k in stride(from: d - 1, through: 0, by: -1) {
            rowDigits[k] = r % shapes[k][1]; r /= shapes[k][1]
            colDigits[k] = c % shapes[k][2]; c /= shapes[k][2]
        }
        // vector over the current bond, multiplied core by core
        var v = [1.0]
        for k in 0..<d {
            let s = shapes[k]
            var next = [Double](repeating: 0, count: s[3])
            for a in 0..<s[0] { for b in 0..<s[3] {
                next[b] += v[a] * cores[k][((a * s[1] + rowDigits[k]) * s[2] + colDigits[k]) * s[3] + b]
            } }
            v = next
        }
        return v[0]
    }

    static func reference(_ layer: TTEmbedding<Double>, _ indices: [Int64], cores: [[Double]]? = nil,
                          bags: EmbeddingBags? = nil) -> [Double] {
        let cores = cores ?? layer.parameterShapes.indices.map { Array(layer.parameter($0)) }
        let dim = layer.embeddingDim
        var rows = [Double]()
        for i in indices {
            for c in 0..<dim {
                rows.append(Int(i) == layer.paddingIndex ? 0 : entry(cores, shapes: layer.parameterShapes, row: Int(i), col: c))
            }
        }
        guard let bags else { return rows }
        var out = [Double]()
        for b in 0..<bags.offsets.count {
            let range = bags.range(b, lookups: indices.count)
            let members = range.filter { Int(indices[$0]) != layer.paddingIndex }
            for c in 0..<dim {
                let s = members.reduce(0.0) { $0 + rows[$1 * dim + c] }
                out.append(bags.mode == .mean && members.count > 1 ? s / Double(members.count) : s)
            }
        }
        return out
    }

    func check(rowModes: [Int], columnModes: [Int], ranks: [Int], numEmbeddings: Int, indices: [Int64],
               padding: Int? = nil, bags: EmbeddingBags? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let layer = try TTEmbedding<Double>(numEmbeddings: numEmbeddings, embeddingDim: columnModes.reduce(1, *), ranks: ranks,
                                            rowModes: rowModes, columnModes: columnModes, paddingIndex: padding, seed: 7)
        let outRows = bags?.offsets.count ?? indices.count
        var out = [Double](repeating: .nan, count: outRows * layer.embeddingDim)
        try indices.withUnsafeBufferPointer { p in try layer.forward(indices: p, output: &out, bags: bags) }
        let expected = EmbeddingTests.reference(layer, indices, bags: bags)
        let scale = expected.map(abs).max() ?? 1
        for (a, b) in zip(out, expected) { XCTAssertEqual(a, b, accuracy: 1e-12 * Swift.max(scale, 1), file: file, line: line) }
        // Gradients of L = sum(out ⊙ R) against central differences of the loop reference.
        var random = SeededRandom(seed: 3)
        let weights = (0..<out.count).map { _ in random.nextGaussian() }
        try indices.withUnsafeBufferPointer { p in try layer.backward(indices: p, outputGradient: weights, bags: bags) }
        var cores = layer.parameterShapes.indices.map { Array(layer.parameter($0)) }
        let loss = { (c: [[Double]]) in zip(EmbeddingTests.reference(layer, indices, cores: c, bags: bags), weights).reduce(0.0) { $0 + $1.0 * $1.1 } }
        let h = 1e-5
        for k in cores.indices {
            let grad = Array(layer.gradient(k))
            for i in cores[k].indices {
                let v = cores[k][i]
                cores[k][i] = v + h; let up = loss(cores)
                cores[k][i] = v - h; let down = loss(cores)
                cores[k][i] = v
                XCTAssertEqual(grad[i], (up - down) / (2 * h), accuracy: 1e-6 * Swift.max(1, abs(grad[i])),
                               "core \(k) entry \(i)", file: file, line: line)
            }
        }
    }

    func testOrdersAndOddShapes() throws {
        try check(rowModes: [7], columnModes: [5], ranks: [], numEmbeddings: 6, indices: [0, 5, 3, 5])
        try check(rowModes: [3, 5], columnModes: [2, 3], ranks: [4], numEmbeddings: 15, indices: [14, 0, 7, 7, 3, 12, 0])
        try check(rowModes: [3, 1, 4], columnModes: [2, 1, 3], ranks: [2, 3], numEmbeddings: 11,
                  indices: [10, 0, 3, 3, 7, 8, 1, 10, 2])
        try check(rowModes: [2, 3, 2, 2], columnModes: [2, 2, 1, 3], ranks: [3, 2, 4], numEmbeddings: 23,
                  indices: [22, 0, 5, 17, 5, 9, 12, 13, 1, 22, 22])
    }

    func testPaddingAndBags() throws {
        let idx: [Int64] = [4, 2, 9, 4, 4, 0, 11, 2]
        try check(rowModes: [3, 4], columnModes: [3, 2], ranks: [3], numEmbeddings: 12, indices: idx, padding: 4)
        try check(rowModes: [2, 3, 2], columnModes: [2, 1, 2], ranks: [2, 2], numEmbeddings: 12, indices: idx, padding: 2,
                  bags: EmbeddingBags(offsets: [0, 3, 3, 6], mode: .mean))
        try check(rowModes: [2, 3, 2], columnModes: [2, 1, 2], ranks: [2, 2], numEmbeddings: 12, indices: idx,
                  bags: EmbeddingBags(offsets: [0, 1, 5], mode: .sum))
    }

    /// Large batches take the parallel paths; the output matches the dense table's rows.
    func testLargeBatchMatchesDenseTable() throws {
        let layer = try TTEmbedding<Double>(numEmbeddings: 1000, embeddingDim: 24, rank: 6, order: 3, seed: 1)
        XCTAssertEqual(layer.rowModes, [10, 10, 10])
        let table = try layer.denseTable()
        var random = SeededRandom(seed: 9)
        let indices = (0..<5000).map { _ in Int64(random.next() % 1000) }
        var out = [Double](repeating: 0, count: indices.count * 24)
        try indices.withUnsafeBufferPointer { try layer.forward(indices: $0, output: &out) }
        for (j, i) in indices.enumerated() {
            for c in 0..<24 { XCTAssertEqual(out[j * 24 + c], table[Int(i) * 24 + c], accuracy: 1e-12) }
        }
        for c in [0, 37, 999] {
            XCTAssertEqual(table[c * 24 + 5], EmbeddingTests.entry(layer.parameterShapes.indices.map { Array(layer.parameter($0)) },
                                                                  shapes: layer.parameterShapes, row: c, col: 5), accuracy: 1e-12)
        }
        // Backward with all of them: the gradient of sum(out) w.r.t. core 0 equals the dense
        // table gradient pulled back, checked through linearity: <dG, G> · d = Σ rows (each
        // entry is multilinear of degree 1 in every core).
        let ones = [Double](repeating: 1, count: out.count)
        try indices.withUnsafeBufferPointer { try layer.backward(indices: $0, outputGradient: ones) }
        for k in 0..<3 {
            let g = layer.gradient(k), p = layer.parameter(k)
            let inner = zip(g, p).reduce(0.0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(inner, out.reduce(0, +), accuracy: 1e-9 * out.map(abs).reduce(0, +))
        }
    }

    func testFromDenseExactAndEps() throws {
        let exact = try TTEmbedding<Double>(numEmbeddings: 30, embeddingDim: 12, rank: 2, rowModes: [2, 3, 5], columnModes: [2, 3, 2], seed: 4)
        let table = try exact.denseTable()
        let fitted = try TTEmbedding<Double>.fromDense(table: table, numEmbeddings: 30, embeddingDim: 12, rowModes: [2, 3, 5],
                                                       columnModes: [2, 3, 2], rank: 2)
        for (a, b) in zip(try fitted.denseTable(), table) { XCTAssertEqual(a, b, accuracy: 1e-10) }
        var random = SeededRandom(seed: 2)
        let noisy = (0..<(29 * 10)).map { _ in random.nextGaussian() }
        let approx = try TTEmbedding<Double>.fromDense(table: noisy, numEmbeddings: 29, embeddingDim: 10, order: 2, eps: 0.3)
        let err = zip(try approx.denseTable(), noisy).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        XCTAssertLessThanOrEqual(err, 0.3 * noisy.reduce(0.0) { $0 + $1 * $1 }.squareRoot() * (1 + 1e-9))
    }

    func testBadInputThrows() throws {
        let layer = try TTEmbedding<Float>(numEmbeddings: 10, embeddingDim: 4, rank: 2, order: 2, paddingIndex: 0)
        var out = [Float](repeating: 0, count: 8)
        for bad: [Int64] in [[1, 10], [-1, 2]] {
            XCTAssertThrowsError(try bad.withUnsafeBufferPointer { try layer.forward(indices: $0, output: &out) }) { e in
                XCTAssertTrue("\(e)".contains("out of range"), "\(e)")
            }
        }
        XCTAssertThrowsError(try [Int64(1)].withUnsafeBufferPointer {
            try layer.forward(indices: $0, output: &out, bags: EmbeddingBags(offsets: [1], mode: .sum)) })
        XCTAssertThrowsError(try [Int64(1), 2].withUnsafeBufferPointer {
            try layer.backward(indices: $0, outputGradient: [Float.nan, 0, 0, 0, 0, 0, 0, 0]) })
        XCTAssertThrowsError(try TTEmbedding<Float>(numEmbeddings: 10, embeddingDim: 4, rank: 2, rowModes: [3, 3]))
        XCTAssertThrowsError(try TTEmbedding<Float>(numEmbeddings: 10, embeddingDim: 4, rank: 0))
        XCTAssertThrowsError(try TTEmbedding<Float>(numEmbeddings: 10, embeddingDim: 4, rank: 2, paddingIndex: 10))
        XCTAssertThrowsError(try TTEmbedding<Float>(numEmbeddings: 10, embeddingDim: 4, rank: 2, columnModes: [3, 2]))
        XCTAssertThrowsError(try TTEmbedding<Float>(numEmbeddings: 0, embeddingDim: 4, rank: 2))
    }

    func testFiniteCheck() {
        for n in [1, 7, 4096, 4099] {
            var f = [Float](repeating: 1, count: n), g = [Double](repeating: -2, count: n)
            XCTAssertTrue(allFinite(f, count: n) && allFinite(g, count: n))
            f[n - 1] = .greatestFiniteMagnitude; g[0] = .leastNonzeroMagnitude
            XCTAssertTrue(allFinite(f, count: n) && allFinite(g, count: n))
            for bad: Float in [.nan, .infinity, -.infinity] {
                var h = f; h[n / 2] = bad
                XCTAssertFalse(allFinite(h, count: n))
            }
            for bad: Double in [.nan, .infinity, -.infinity] {
                var h = g; h[n - 1] = bad
                XCTAssertFalse(allFinite(h, count: n))
            }
        }
    }

    /// Ten million rows in a few hundred kilobytes of cores; a lookup touches only the batch.
    func testTenMillionRows() throws {
        let layer = try TTEmbedding<Float>(numEmbeddings: 10_000_000, embeddingDim: 64, rank: 16, order: 3)
        XCTAssertLessThan(layer.parameterCount * 4, 4_000_000)
        let indices: [Int64] = [0, 9_999_999, 1_234_567, 1_234_567]
        var out = [Float](repeating: 0, count: 4 * 64)
        try indices.withUnsafeBufferPointer { try layer.forward(indices: $0, output: &out) }
        let cores = layer.parameterShapes.indices.map { layer.parameter($0).map(Double.init) }
        for c in [0, 63] {
            XCTAssertEqual(Double(out[64 + c]), EmbeddingTests.entry(cores, shapes: layer.parameterShapes, row: 9_999_999, col: c),
                           accuracy: 1e-4)
        }
        XCTAssertEqual(Array(out[128..<192]), Array(out[192..<256]))
    }
}
