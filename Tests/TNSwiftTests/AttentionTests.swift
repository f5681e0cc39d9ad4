import XCTest
@testable import TNSwift
#if canImport(Glibc)
import Glibc
#endif

/// `TTFeedForward` and `MultiLinearAttention` against plain loop references, every gradient
/// against central differences of L = Σ y ⊙ R, and their error cases.
final class AttentionTests: XCTestCase {
    /// Memory a test owns, seen as views or an array.
    final class Buffer {
        let pointer: UnsafeMutablePointer<Double>
        let count: Int
        init(_ values: [Double]) {
            count = values.count
            pointer = .allocate(capacity: Swift.max(count, 1))
            pointer.initialize(from: values, count: count)
        }
        convenience init(count: Int) { self.init([Double](repeating: .nan, count: count)) }
        deinit { pointer.deallocate() }
        func view(_ shape: [Int]) -> StridedView<Double> { StridedView(contiguous: pointer, shape: shape) }
        func view(_ shape: [Int], strides: [Int]) -> StridedView<Double> {
            try! StridedView(base: pointer, shape: shape, strides: strides)
        }
        var array: [Double] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    }

    private func relative(_ x: [Double], _ y: [Double]) -> Double {
        XCTAssertEqual(x.count, y.count)
        let d = zip(x, y).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        return d / Swift.max(y.reduce(0.0) { $0 + $1 * $1 }.squareRoot(), 1e-300)
    }

    private func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    /// Central differences of `loss` with respect to the `count` values `poke` changes.
    private func numeric(_ count: Int, _ loss: () throws -> Double, _ poke: (Int, Double) -> Void) rethrows -> [Double] {
        let eps = 1e-5
        return try (0..<count).map { i in
            poke(i, eps); let up = try loss()
            poke(i, -2 * eps); let down = try loss()
            poke(i, eps)
            return (up - down) / (2 * eps)
        }
    }

    private func assertThrows(_ what: String, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line,
                              _ check: (TNError) -> Bool) {
        do {
            try body()
            XCTFail("\(what): no error", file: file, line: line)
        } catch let e as TNError {
            XCTAssertTrue(check(e), "\(what): \(e)", file: file, line: line)
        } catch {
            XCTFail("\(what): \(error)", file: file, line: line)
        }
    }

    // MARK: - TTFeedForward

    static func activate(_ v: Double, _ a: Activation) -> Double {
        switch a {
        case .relu: return Swift.max(v, 0)
        case .gelu: return 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
        default: fatalError("not used")
        }
    }

    /// y = act(x W₁ + b₁) W₂ + b₂ row by row with loops.
    static func feedForwardReference(x: [Double], rows: Int, w1: [Double], b1: [Double], w2: [Double], b2: [Double],
                                     model: Int, hidden: Int, activation: Activation) -> [Double] {
        var y = [Double](repeating: 0, count: rows * model)
        for n in 0..<rows {
            var h = [Double](repeating: 0, count: hidden)
            for j in 0..<hidden {
                var s = b1.isEmpty ? 0 : b1[j]
                for i in 0..<model { s += x[n * model + i] * w1[i * hidden + j] }
                h[j] = activate(s, activation)
            }
            for o in 0..<model {
                var s = b2.isEmpty ? 0 : b2[o]
                for j in 0..<hidden { s += h[j] * w2[j * model + o] }
                y[n * model + o] = s
            }
        }
        return y
    }

    private func feedForwards() throws -> [(String, TTFeedForward<Double>)] {
        [("relu 2 modes", try TTFeedForward<Double>(modelModes: [3, 5], hiddenModes: [7, 3], ranks: [3], activation: .relu, seed: 3)),
         ("gelu 3 modes", try TTFeedForward<Double>(modelModes: [3, 1, 3], hiddenModes: [5, 2, 3], ranks: [2, 3], activation: .gelu, seed: 4)),
         ("gelu no bias", try TTFeedForward<Double>(modelModes: [5], hiddenModes: [7], rank: 1, activation: .gelu, bias: false, seed: 5))]
    }

    /// Random biases (they start at zero) so that the reference checks them.
    private func randomiseBiases(_ layer: TTFeedForward<Double>, _ rng: inout TestRandom) {
        for (i, name) in layer.parameterNames.enumerated() where name.hasSuffix("bias") {
            let p = layer.parameter(i)
            for j in p.indices { p[j] = rng.next() }
        }
    }

    private func biases(_ layer: TTFeedForward<Double>) -> ([Double], [Double]) {
        guard layer.hasBias else { return ([], []) }
        let i1 = layer.parameterNames.firstIndex(of: "ff1.bias")!, i2 = layer.parameterNames.firstIndex(of: "ff2.bias")!
        return (Array(layer.parameter(i1)), Array(layer.parameter(i2)))
    }

    func testFeedForwardParameters() throws {
        let layer = try TTFeedForward<Double>(modelModes: [3, 5], hiddenModes: [7, 3], ranks: [3], seed: 3)
        XCTAssertEqual(layer.parameterNames, ["ff1.core_0", "ff1.core_1", "ff1.bias", "ff2.core_0", "ff2.core_1", "ff2.bias"])
        XCTAssertEqual(layer.parameterShapes, [[1, 3, 7, 3], [3, 5, 3, 1], [21], [1, 7, 3, 3], [3, 3, 5, 1], [15]])
        XCTAssertEqual(layer.parameterCount, 63 + 45 + 21 + 63 + 45 + 15)
        XCTAssertEqual([layer.modelDim, layer.hiddenDim], [15, 21])
        XCTAssertEqual(layer.ranks, [1, 3, 1])
        for i in layer.parameterShapes.indices { XCTAssertEqual(layer.parameter(i).count, layer.parameterShapes[i].reduce(1, *)) }
        let before = Array(layer.parameter(3))
        layer.parameter(3)[0] += 1
        try layer.initialize(seed: 3)
        XCTAssertEqual(Array(layer.parameter(3)), before)
        XCTAssertNotEqual(Array(layer.parameter(0).prefix(9)), Array(layer.parameter(3).prefix(9)))
        let plain = try TTFeedForward<Double>(modelModes: [3, 5], hiddenModes: [7, 3], rank: 3, bias: false)
        XCTAssertEqual(plain.parameterNames, ["ff1.core_0", "ff1.core_1", "ff2.core_0", "ff2.core_1"])
    }

    func testFeedForwardMatchesReference() throws {
        var rng = TestRandom(state: 17)
        for (name, layer) in try feedForwards() {
            randomiseBiases(layer, &rng)
            let (m, h) = (layer.modelDim, layer.hiddenDim)
            let (w1, w2) = try layer.denseWeights()
            let (b1, b2) = biases(layer)
            // (batch, d_model), (batch, seq, d_model), and a (2, 3, d_model) view whose leading
            // axes do not merge (staged through a copy).
            let x = rng.array(6 * m)
            let ref = Self.feedForwardReference(x: x, rows: 6, w1: w1.values, b1: b1, w2: w2.values, b2: b2, model: m,
                                                hidden: h, activation: layer.activation)
            for shape in [[6, m], [2, 3, m]] {
                let xb = Buffer(x), y = Buffer(count: 6 * m)
                try layer.forward(xb.view(shape), into: y.view(shape))
                withExtendedLifetime(xb) {}
                XCTAssertLessThanOrEqual(relative(y.array, ref), 1e-10, "\(name) \(shape)")
            }
            // Row (a, b) of the transposed view is row b · 2 + a of the buffer.
            let y = Buffer(count: 6 * m)
            let xs = Buffer(x)
            try layer.forward(xs.view([2, 3, m], strides: [m, 2 * m, 1]), into: y.view([2, 3, m], strides: [m, 2 * m, 1]))
            XCTAssertLessThanOrEqual(relative(y.array, ref), 1e-10, "\(name) transposed")
            // Output strided in its last axis too.
            let wide = Buffer(count: 12 * m)
            try layer.forward(xs.view([6, m]), into: wide.view([6, m], strides: [2 * m, 2]))
            let picked = (0..<(6 * m)).map { wide.array[2 * $0] }
            XCTAssertLessThanOrEqual(relative(picked, ref), 1e-10, "\(name) strided output")
            withExtendedLifetime(xs) {}
        }
    }

    func testFeedForwardGradientsMatchFiniteDifferences() throws {
        var rng = TestRandom(state: 23)
        for (name, layer) in try feedForwards() {
            randomiseBiases(layer, &rng)
            let m = layer.modelDim
            let shape = [2, 3, m]
            var x = rng.array(6 * m)
            let r = rng.array(6 * m)
            func loss() throws -> Double {
                let xb = Buffer(x), y = Buffer(count: 6 * m)
                try layer.forward(xb.view(shape), into: y.view(shape))
                withExtendedLifetime(xb) {}
                return dot(y.array, r)
            }
            let dx = Buffer(count: 6 * m)
            // x through a non-mergeable view, dx likewise: the staging paths.
            let xb = Buffer(x)
            let dyb = Buffer(r)
            let t = [m, 2 * m, 1]
            let xT = xb.view(shape, strides: t), dyT = dyb.view(shape, strides: t), dxT = dx.view(shape, strides: t)
            try layer.backward(dyT, input: xT, inputGradient: dxT)
            withExtendedLifetime((xb, dyb)) {}
            let grads = layer.parameterShapes.indices.map { Array(layer.gradient($0)) }
            // The transposed views hold the same rows in another order, so dx is the plain one.
            XCTAssertLessThanOrEqual(relative(dx.array, try numeric(x.count, loss) { x[$0] += $1 }), 1e-6, "\(name) dx")
            for (i, g) in grads.enumerated() {
                let p = layer.parameter(i)
                XCTAssertLessThanOrEqual(relative(g, try numeric(p.count, loss) { p[$0] += $1 }), 1e-6,
                                         "\(name) \(layer.parameterNames[i])")
            }
            // Without dx, the same parameter gradients.
            let rb = Buffer(r), xb2 = Buffer(x)
            try layer.backward(rb.view(shape), input: xb2.view(shape), inputGradient: nil)
            withExtendedLifetime((rb, xb2)) {}
            for (i, g) in grads.enumerated() {
                XCTAssertLessThanOrEqual(relative(Array(layer.gradient(i)), g), 1e-12, "\(name) \(layer.parameterNames[i]) no dx")
            }
        }
    }

    func testFeedForwardErrors() throws {
        let layer = try TTFeedForward<Double>(modelModes: [3, 5], hiddenModes: [7, 3], ranks: [3], seed: 3)
        let isShape = { (e: TNError) -> Bool in if case .shape = e { return true }; return false }
        let isValue = { (e: TNError) -> Bool in if case .value = e { return true }; return false }
        assertThrows("rank count", { _ = try TTFeedForward<Double>(modelModes: [3, 5], hiddenModes: [7, 3], ranks: [3, 3]) }, isShape)
        assertThrows("mode count", { _ = try TTFeedForward<Double>(modelModes: [3, 5], hiddenModes: [21], ranks: []) }, isShape)
        assertThrows("zero mode", { _ = try TTFeedForward<Double>(modelModes: [0, 5], hiddenModes: [7, 3], ranks: [3]) }, isShape)
        assertThrows("zero rank", { _ = try TTFeedForward<Double>(modelModes: [3, 5], hiddenModes: [7, 3], ranks: [0]) }, isValue)
        let x = Buffer(count: 4 * 15), y = Buffer(count: 4 * 15)
        assertThrows("features", { try layer.forward(x.view([4, 14]), into: y.view([4, 14])) }, isShape)
        assertThrows("output shape", { try layer.forward(x.view([4, 15]), into: y.view([2, 2, 15])) }, isShape)
        assertThrows("scalar input", { try layer.forward(x.view([]), into: y.view([])) }, isShape)
        let r = Buffer([Double](repeating: 0.5, count: 60))
        let xv = Buffer([Double](repeating: 0.1, count: 60))
        assertThrows("dy shape", { try layer.backward(r.view([2, 15]), input: xv.view([4, 15]), inputGradient: nil) }, isShape)
        assertThrows("dx shape", { try layer.backward(r.view([4, 15]), input: xv.view([4, 15]), inputGradient: y.view([60])) }, isShape)
        r.pointer[7] = .nan
        assertThrows("NaN dy", { try layer.backward(r.view([4, 15]), input: xv.view([4, 15]), inputGradient: nil) }, isValue)
        // An empty batch is fine: nothing to write, zero gradients.
        try layer.forward(xv.view([0, 15]), into: y.view([0, 15]))
        try layer.backward(xv.view([0, 15]), input: xv.view([0, 15]), inputGradient: y.view([0, 15]))
        XCTAssertTrue(layer.gradient(0).allSatisfy { $0 == 0 })
    }

    /// A TT layer's backward before its first forward, then a forward (TTFeedForward's
    /// backward does this to its second map): the plan used to trap on its address list.
    func testBackwardBeforeFirstForward() throws {
        let layer = try TTLinear<Double>(inputModes: [7, 3], outputModes: [3, 5], ranks: [3], seed: 4)
        var rng = TestRandom(state: 5)
        let x = Buffer(rng.array(6 * 21)), dy = Buffer(rng.array(6 * 15)), y = Buffer(count: 6 * 15)
        try layer.backward(dy.view([6, 15]), input: x.view([6, 21]), inputGradient: nil)
        let g = Array(layer.gradient(0))
        try layer.forward(x.view([6, 21]), into: y.view([6, 15]))
        try layer.backward(dy.view([6, 15]), input: x.view([6, 21]), inputGradient: nil)
        XCTAssertLessThanOrEqual(relative(Array(layer.gradient(0)), g), 1e-12)
    }

    // MARK: - MultiLinearAttention

    /// The paper's definition with loops: Q̂ = Q W_q + b_q (likewise K̂, V̂), the n × N × N
    /// tensor T̄[i, j, k] = (1/H) Σ_h Σ_r g_h[r] Q̂[i, r] K̂[j, r] V̂[k, r], split along the
    /// query mode and concatenated to n × N², times W_o, plus b_o.
    static func attentionReference(_ layer: MultiLinearAttention<Double>, q: [Double], k: [Double], v: [Double],
                                   batch: Int, queries n: Int) -> [Double] {
        let (d, nk, h, r) = (layer.modelDim, layer.keyLength, layer.blocks, layer.rank)
        func param(_ name: String) -> [Double] {
            guard let i = layer.parameterNames.firstIndex(of: name) else { return [] }
            return Array(layer.parameter(i))
        }
        func project(_ x: [Double], rows: Int, _ name: String) -> [Double] {
            let w = param("\(name).weight"), b = param("\(name).bias")
            var out = [Double](repeating: 0, count: rows * r)
            for row in 0..<rows {
                for c in 0..<r {
                    var s = b.isEmpty ? 0 : b[c]
                    for i in 0..<d { s += x[row * d + i] * w[i * r + c] }
                    out[row * r + c] = s
                }
            }
            return out
        }
        var g = param("cores")
        if layer.softmaxCores {
            for b in 0..<h {
                let e = (0..<r).map { exp(g[b * r + $0]) }
                let total = e.reduce(0, +)
                for c in 0..<r { g[b * r + c] = e[c] / total }
            }
        }
        let qh = project(q, rows: batch * n, "query"), kh = project(k, rows: batch * nk, "key"), vh = project(v, rows: batch * nk, "value")
        let wo = param("output.weight"), bo = param("output.bias")
        var y = [Double](repeating: 0, count: batch * n * d)
        for b in 0..<batch {
            var t = [Double](repeating: 0, count: n * nk * nk)
            for i in 0..<n {
                for j in 0..<nk {
                    for kk in 0..<nk {
                        var s = 0.0
                        for blk in 0..<h {
                            for c in 0..<r {
                                s += g[blk * r + c] * qh[(b * n + i) * r + c] * kh[(b * nk + j) * r + c] * vh[(b * nk + kk) * r + c]
                            }
                        }
                        t[(i * nk + j) * nk + kk] = s / Double(h)
                    }
                }
            }
            for i in 0..<n {
                for o in 0..<d {
                    var s = bo.isEmpty ? 0 : bo[o]
                    for jk in 0..<(nk * nk) { s += t[i * nk * nk + jk] * wo[jk * d + o] }
                    y[(b * n + i) * d + o] = s
                }
            }
        }
        return y
    }

    private func attentions() throws -> [(String, MultiLinearAttention<Double>)] {
        [("bias", try MultiLinearAttention<Double>(modelDim: 5, keyLength: 3, blocks: 3, rank: 4, seed: 2)),
         ("softmax cores, no bias", try MultiLinearAttention<Double>(modelDim: 3, keyLength: 5, blocks: 2, rank: 3, bias: false,
                                                                     softmaxCores: true, seed: 3)),
         ("softmax cores, one block", try MultiLinearAttention<Double>(modelDim: 7, keyLength: 1, blocks: 1, rank: 5,
                                                                       softmaxCores: true, seed: 4))]
    }

    private func randomiseBiases(_ layer: MultiLinearAttention<Double>, _ rng: inout TestRandom) {
        for (i, name) in layer.parameterNames.enumerated() where name.hasSuffix("bias") {
            let p = layer.parameter(i)
            for j in p.indices { p[j] = rng.next() }
        }
    }

    func testAttentionParameters() throws {
        let layer = try MultiLinearAttention<Double>(modelDim: 5, keyLength: 3, blocks: 3, rank: 4, seed: 2)
        XCTAssertEqual(layer.parameterNames, ["query.weight", "query.bias", "key.weight", "key.bias", "value.weight", "value.bias",
                                              "cores", "output.weight", "output.bias"])
        XCTAssertEqual(layer.parameterShapes, [[5, 4], [4], [5, 4], [4], [5, 4], [4], [3, 4], [9, 5], [5]])
        XCTAssertEqual(layer.parameterCount, 3 * 24 + 12 + 50)
        for i in layer.parameterShapes.indices { XCTAssertEqual(layer.parameter(i).count, layer.parameterShapes[i].reduce(1, *)) }
        XCTAssertTrue(layer.parameter(6).allSatisfy { $0 > 0 && $0 < 1 })   // rand(0, 1) cores
        XCTAssertNotEqual(Array(layer.parameter(0)), Array(layer.parameter(2)))
        let before = (0..<9).map { Array(layer.parameter($0)) }
        layer.parameter(6)[0] = 7
        try layer.initialize(seed: 2)
        XCTAssertEqual((0..<9).map { Array(layer.parameter($0)) }, before)
        let plain = try MultiLinearAttention<Double>(modelDim: 5, keyLength: 3, blocks: 3, rank: 4, bias: false, softmaxCores: true)
        XCTAssertEqual(plain.parameterNames, ["query.weight", "key.weight", "value.weight", "cores", "output.weight"])
        let g = plain.coreValues()
        for h in 0..<3 { XCTAssertEqual(g[(h * 4)..<(h * 4 + 4)].reduce(0, +), 1, accuracy: 1e-12) }
    }

    func testAttentionMatchesReference() throws {
        var rng = TestRandom(state: 31)
        for (name, layer) in try attentions() {
            randomiseBiases(layer, &rng)
            let (d, nk) = (layer.modelDim, layer.keyLength)
            for (batch, n) in [(2, 4), (3, nk), (1, 1)] {
                let q = rng.array(batch * n * d), k = rng.array(batch * nk * d), v = rng.array(batch * nk * d)
                let ref = Self.attentionReference(layer, q: q, k: k, v: v, batch: batch, queries: n)
                let qb = Buffer(q), kb = Buffer(k), vb = Buffer(v), y = Buffer(count: batch * n * d)
                try layer.forward(query: qb.view([batch, n, d]), key: kb.view([batch, nk, d]), value: vb.view([batch, nk, d]),
                                  into: y.view([batch, n, d]))
                XCTAssertLessThanOrEqual(relative(y.array, ref), 1e-10, "\(name) batch \(batch) n \(n)")
                withExtendedLifetime((qb, kb, vb)) {}
            }
            // Self-attention on one buffer, and a query whose (batch, seq) axes are swapped in
            // memory (staged through a copy), into a strided output.
            let x = rng.array(2 * nk * d)
            let ref = Self.attentionReference(layer, q: x, k: x, v: x, batch: 2, queries: nk)
            let xb = Buffer(x), y = Buffer(count: 2 * 2 * nk * d)
            try layer.forward(query: xb.view([2, nk, d]), key: xb.view([2, nk, d]), value: xb.view([2, nk, d]),
                              into: y.view([2, nk, d], strides: [2 * nk * d, 2 * d, 2]))
            XCTAssertLessThanOrEqual(relative((0..<(2 * nk * d)).map { y.array[2 * $0] }, ref), 1e-10, "\(name) self-attention")
            // Q given as (seq, batch) in memory: element (b, i) at row i · 2 + b.
            var swapped = [Double](repeating: 0, count: x.count)
            for b in 0..<2 { for i in 0..<nk { for o in 0..<d { swapped[(i * 2 + b) * d + o] = x[(b * nk + i) * d + o] } } }
            let sb = Buffer(swapped), y2 = Buffer(count: 2 * nk * d)
            try layer.forward(query: sb.view([2, nk, d], strides: [d, 2 * d, 1]), key: xb.view([2, nk, d]), value: xb.view([2, nk, d]),
                              into: y2.view([2, nk, d]))
            XCTAssertLessThanOrEqual(relative(y2.array, ref), 1e-10, "\(name) swapped query")
            withExtendedLifetime((xb, sb)) {}
        }
    }

    func testAttentionGradientsMatchFiniteDifferences() throws {
        var rng = TestRandom(state: 37)
        for (name, layer) in try attentions() {
            randomiseBiases(layer, &rng)
            let (d, nk, batch, n) = (layer.modelDim, layer.keyLength, 2, 3)
            var q = rng.array(batch * n * d), k = rng.array(batch * nk * d), v = rng.array(batch * nk * d)
            let r = rng.array(batch * n * d)
            let (qs, ks) = ([batch, n, d], [batch, nk, d])
            func loss() throws -> Double {
                let qb = Buffer(q), kb = Buffer(k), vb = Buffer(v), y = Buffer(count: batch * n * d)
                try layer.forward(query: qb.view(qs), key: kb.view(ks), value: vb.view(ks), into: y.view(qs))
                withExtendedLifetime((qb, kb, vb)) {}
                return dot(y.array, r)
            }
            let qb = Buffer(q), kb = Buffer(k), vb = Buffer(v), rb = Buffer(r)
            let dq = Buffer(count: q.count), dk = Buffer(count: k.count), dv = Buffer(count: v.count)
            try layer.backward(rb.view(qs), query: qb.view(qs), key: kb.view(ks), value: vb.view(ks),
                               queryGradient: dq.view(qs), keyGradient: dk.view(ks), valueGradient: dv.view(ks))
            withExtendedLifetime((qb, kb, vb, rb)) {}
            let grads = layer.parameterShapes.indices.map { Array(layer.gradient($0)) }
            XCTAssertLessThanOrEqual(relative(dq.array, try numeric(q.count, loss) { q[$0] += $1 }), 1e-6, "\(name) dQ")
            XCTAssertLessThanOrEqual(relative(dk.array, try numeric(k.count, loss) { k[$0] += $1 }), 1e-6, "\(name) dK")
            XCTAssertLessThanOrEqual(relative(dv.array, try numeric(v.count, loss) { v[$0] += $1 }), 1e-6, "\(name) dV")
            for (i, g) in grads.enumerated() {
                let p = layer.parameter(i)
                XCTAssertLessThanOrEqual(relative(g, try numeric(p.count, loss) { p[$0] += $1 }), 1e-6,
                                         "\(name) \(layer.parameterNames[i])")
            }
            // Without input gradients: the same parameter gradients.
            let qb2 = Buffer(q), kb2 = Buffer(k), vb2 = Buffer(v), rb2 = Buffer(r)
            try layer.backward(rb2.view(qs), query: qb2.view(qs), key: kb2.view(ks), value: vb2.view(ks))
            withExtendedLifetime((qb2, kb2, vb2, rb2)) {}
            for (i, g) in grads.enumerated() {
                XCTAssertLessThanOrEqual(relative(Array(layer.gradient(i)), g), 1e-9, "\(name) \(layer.parameterNames[i]) again")
            }
        }
    }

    func testAttentionErrors() throws {
        let isShape = { (e: TNError) -> Bool in if case .shape = e { return true }; return false }
        let isValue = { (e: TNError) -> Bool in if case .value = e { return true }; return false }
        for (m, n, h, r) in [(0, 3, 2, 2), (4, 0, 2, 2), (4, 3, 0, 2), (4, 3, 2, 0), (4, -1, 2, 2)] {
            assertThrows("sizes \((m, n, h, r))", { _ = try MultiLinearAttention<Double>(modelDim: m, keyLength: n, blocks: h, rank: r) }, isValue)
        }
        assertThrows("N² overflow", { _ = try MultiLinearAttention<Double>(modelDim: 4, keyLength: 1 << 40, blocks: 1, rank: 1) }) {
            if case .memory = $0 { return true }; return false
        }
        let layer = try MultiLinearAttention<Double>(modelDim: 4, keyLength: 3, blocks: 2, rank: 2)
        let a = Buffer([Double](repeating: 0.3, count: 64)), y = Buffer(count: 64)
        let q = a.view([2, 5, 4]), kv = a.view([2, 3, 4]), out = y.view([2, 5, 4])
        assertThrows("query rank", { try layer.forward(query: a.view([10, 4]), key: kv, value: kv, into: out) }, isShape)
        assertThrows("query d_model", { try layer.forward(query: a.view([2, 5, 3]), key: kv, value: kv, into: out) }, isShape)
        assertThrows("key length", { try layer.forward(query: q, key: a.view([2, 4, 4]), value: kv, into: out) }, isShape)
        assertThrows("value batch", { try layer.forward(query: q, key: kv, value: a.view([1, 3, 4]), into: out) }, isShape)
        assertThrows("output shape", { try layer.forward(query: q, key: kv, value: kv, into: y.view([2, 3, 4])) }, isShape)
        assertThrows("dy shape", { try layer.backward(y.view([2, 4, 4]), query: q, key: kv, value: kv) }, isShape)
        assertThrows("dK shape", { try layer.backward(out, query: q, key: kv, value: kv, keyGradient: y.view([2, 3, 2])) }, isShape)
        let dy = Buffer([Double](repeating: 1, count: 40))
        dy.pointer[11] = .infinity
        assertThrows("infinite dy", { try layer.backward(dy.view([2, 5, 4]), query: q, key: kv, value: kv) }, isValue)
        // Empty batches and queries are fine: nothing to write, zero gradients, zero dK.
        try layer.forward(query: a.view([2, 0, 4]), key: kv, value: kv, into: y.view([2, 0, 4]))
        let dk = Buffer(count: 24)
        try layer.backward(y.view([2, 0, 4]), query: a.view([2, 0, 4]), key: kv, value: kv, keyGradient: dk.view([2, 3, 4]))
        XCTAssertTrue(dk.array.allSatisfy { $0 == 0 })
        XCTAssertTrue(layer.parameterShapes.indices.allSatisfy { layer.gradient($0).allSatisfy { $0 == 0 } })
    }
}
