import XCTest
@testable import TNSwift

/// Factorized layers against independent references: the weight rebuilt by the loop-based
/// `referenceEinsum`, outputs and input gradients from plain matrix products, and parameter
/// gradients by central differences (exact here: the output is linear in each parameter).
final class LayerTests: XCTestCase {
    private func random(_ n: Int, _ rng: inout TestRandom) -> [Double] { rng.array(n) }

    /// W (in × out) from the layer's parameters by the reference einsum.
    private func referenceWeight(_ layer: EinsumLayer<Double>) -> [Double] {
        let e = layer.expression
        let params = EinsumExpression(inputs: Array(e.inputs.dropFirst()), output: layer.spec.inputLabels + layer.spec.outputLabels,
                                      labelNames: e.labelNames, labelDescriptions: e.labelDescriptions)
        let values = layer.parameterShapes.indices.map { Array(layer.parameter($0)) }
        return referenceEinsum(params, values, layer.parameterShapes).values
    }

    private func matmul(_ a: [Double], _ b: [Double], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for p in 0..<k { let x = a[i * k + p]; if x != 0 { for j in 0..<n { c[i * n + j] += x * b[p * n + j] } } } }
        return c
    }
    private func transpose(_ a: [Double], _ m: Int, _ n: Int) -> [Double] {
        (0..<(n * m)).map { a[($0 % m) * n + $0 / m] }
    }
    private func relative(_ x: [Double], _ y: [Double]) -> Double {
        let d = zip(x, y).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        return d / Swift.max(y.reduce(0.0) { $0 + $1 * $1 }.squareRoot(), 1e-300)
    }

    private func forward<T: LAPACKScalar>(_ layer: EinsumLayer<T>, _ x: [T], batch n: Int) throws -> [T] {
        var x = x
        var y = [T](repeating: .nan, count: n * layer.outFeatures)
        try x.withUnsafeMutableBufferPointer { px in
            try y.withUnsafeMutableBufferPointer { py in
                try layer.forward(StridedView(contiguous: px.baseAddress!, shape: [n, layer.inFeatures]),
                                  into: StridedView(contiguous: py.baseAddress!, shape: [n, layer.outFeatures]))
            }
        }
        return y
    }

    private func backward<T: LAPACKScalar>(_ layer: EinsumLayer<T>, _ x: [T], _ dy: [T], batch n: Int) throws -> [T] {
        var x = x, dy = dy
        var dx = [T](repeating: .nan, count: n * layer.inFeatures)
        try x.withUnsafeMutableBufferPointer { px in
            try dy.withUnsafeMutableBufferPointer { pd in
                try dx.withUnsafeMutableBufferPointer { pdx in
                    try layer.backward(StridedView(contiguous: pd.baseAddress!, shape: [n] + layer.outputModes),
                                       input: StridedView(contiguous: px.baseAddress!, shape: [n] + layer.inputModes),
                                       inputGradient: StridedView(contiguous: pdx.baseAddress!, shape: [n, layer.inFeatures]))
                }
            }
        }
        return dx
    }

    /// Checks forward, dx, the bias gradient and every parameter gradient of `layer`.
    private func check(_ layer: EinsumLayer<Double>, _ name: String, seed: UInt64) throws {
        var rng = TestRandom(state: seed)
        if let b = layer.biasValues { b.overwrite(with: random(b.count, &rng)) }
        let (n, i, o) = (3, layer.inFeatures, layer.outFeatures)
        let x = random(n * i, &rng), dy = random(n * o, &rng)
        let w = referenceWeight(layer)
        XCTAssertLessThan(relative(try layer.denseWeight().values, w), 1e-12, name)
        var yRef = matmul(x, w, n, i, o)
        if let b = layer.biasValues { for r in 0..<n { for c in 0..<o { yRef[r * o + c] += b[c] } } }
        XCTAssertLessThan(relative(try forward(layer, x, batch: n), yRef), 1e-12, "\(name) forward")
        let dx = try backward(layer, x, dy, batch: n)
        XCTAssertLessThan(relative(dx, matmul(dy, transpose(w, i, o), n, o, i)), 1e-12, "\(name) dx")
        if let db = layer.biasGradientValues {
            let ref = (0..<o).map { c in (0..<n).reduce(0.0) { $0 + dy[$1 * o + c] } }
            XCTAssertLessThan(relative(Array(db), ref), 1e-12, "\(name) bias gradient")
        }
        let loss = { () throws -> Double in zip(try self.forward(layer, x, batch: n), dy).reduce(0) { $0 + $1.0 * $1.1 } }
        for p in layer.parameterShapes.indices {
            let grad = Array(layer.gradient(p)), values = layer.parameter(p)
            var fd = [Double](), got = [Double]()
            for j in stride(from: 0, to: values.count, by: Swift.max(1, values.count / 7)) {
                let v = values[j]
                values[j] = v + 1; let up = try loss()
                values[j] = v - 1; let down = try loss()
                values[j] = v
                fd.append((up - down) / 2)
                got.append(grad[j])
            }
            XCTAssertLessThan(relative(got, fd), 1e-10, "\(name) gradient of \(layer.parameterNames[p])")
        }
    }

    func testEveryLayerKindMatchesDenseReferences() throws {
        let cases: [([Int], [Int])] = [([3, 2], [2, 5]), ([1, 7], [3, 1]), ([2, 3, 2], [3, 2, 2]), ([5, 1, 2, 2], [2, 2, 3, 1]),
                                       ([2, 2, 1, 2, 2], [1, 2, 2, 2, 1]), ([2, 1, 2, 1, 2, 1], [1, 2, 1, 2, 1, 2])]
        for (k, (ins, outs)) in cases.enumerated() {
            let seed = UInt64(100 + k)
            let d = ins.count
            try check(TTLinear<Double>(inputModes: ins, outputModes: outs, ranks: (0..<(d - 1)).map { 1 + ($0 % 3) }, seed: seed), "TT \(ins)", seed: seed)
            try check(CPLinear<Double>(inputModes: ins, outputModes: outs, rank: 3, bias: k % 2 == 0, seed: seed), "CP \(ins)", seed: seed)
            try check(TuckerLinear<Double>(inputModes: ins, outputModes: outs, rank: 2, seed: seed), "Tucker \(ins)", seed: seed)
        }
        try check(Linear<Double>(inFeatures: 7, outFeatures: 3), "Linear", seed: 1)
        // The TensorNetwork two-core layer, written as an equation.
        try check(EinsumLayer<Double>(equation: "nij,aik,bjk->nab", parameterShapes: [[4, 3, 2], [5, 2, 2]]), "TN layer", seed: 2)
        try check(EinsumLayer<Double>(equation: "...ij,aik,bjk->...ab", parameterShapes: [[4, 3, 2], [5, 2, 2]], bias: false), "TN ellipsis", seed: 3)
    }

    /// W of a 3-core TT layer with 4×4 modes and r_0 = r_3 = 1, by plain loops over the chain.
    private func ttWeight(_ g: [[Double]], rank r: Int) -> [Double] {
        var w = [Double](repeating: 0, count: 64 * 64)
        for i in 0..<64 { for o in 0..<64 {
            let (i1, i2, i3) = (i / 16, (i / 4) % 4, i % 4), (o1, o2, o3) = (o / 16, (o / 4) % 4, o % 4)
            var v = (0..<r).map { g[0][(i1 * 4 + o1) * r + $0] }
            v = (0..<r).map { b in (0..<r).reduce(0.0) { $0 + v[$1] * g[1][(($1 * 4 + i2) * 4 + o2) * r + b] } }
            w[i * 64 + o] = (0..<r).reduce(0.0) { $0 + v[$1] * g[2][($1 * 4 + i3) * 4 + o3] }
        } }
        return w
    }

    /// A batch large enough that rebuilding W wins: forward and backward through the cached
    /// weight match plain-loop references, and in-place edits of the factors are always seen.
    func testRebuiltWeightPathMatchesReferencesAndSeesEdits() throws {
        let r = 8
        let layer = try TTLinear<Double>(inputModes: [4, 4, 4], outputModes: [4, 4, 4], rank: r, seed: 11)
        XCTAssertTrue(try layer.planReport(batch: 256).reconstructsWeight)
        var rng = TestRandom(state: 12)
        let (n, f) = (256, 64)
        let x = random(n * f, &rng), dy = random(n * f, &rng)
        for round in 0..<3 {
            let g = (0..<3).map { Array(layer.parameter($0)) }
            let w = ttWeight(g, rank: r)
            XCTAssertLessThan(relative(try forward(layer, x, batch: n), matmul(x, w, n, f, f)), 1e-12, "round \(round)")
            let dx = try backward(layer, x, dy, batch: n)
            XCTAssertLessThan(relative(dx, matmul(dy, transpose(w, f, f), n, f, f)), 1e-12)
            // dG1[0, i1, o1, a] = Σ dW[(i1 i2 i3), (o1 o2 o3)] · (G2[a, i2, o2, :] · G3[:, i3, o3, 0]), dW = xᵀ dy.
            let dW = matmul(transpose(x, n, f), dy, f, n, f)
            var ref = [Double](repeating: 0, count: 16 * r)
            for i in 0..<64 { for o in 0..<64 {
                let (i1, i2, i3) = (i / 16, (i / 4) % 4, i % 4), (o1, o2, o3) = (o / 16, (o / 4) % 4, o % 4)
                for a in 0..<r {
                    let tail = (0..<r).reduce(0.0) { $0 + g[1][((a * 4 + i2) * 4 + o2) * r + $1] * g[2][($1 * 4 + i3) * 4 + o3] }
                    ref[(i1 * 4 + o1) * r + a] += dW[i * 64 + o] * tail
                }
            } }
            XCTAssertLessThan(relative(Array(layer.gradient(0)), ref), 1e-11)
            layer.parameter(round % 3)[5] += 0.5   // an edit the next forward must see
        }
    }

    /// Inference on unchanged parameters switches to the rebuilt weight: outputs and the
    /// gradients after it match a layer that only ran the factorized path, and edits are seen.
    func testRepeatedForwardReusesTheWeightCorrectly() throws {
        let make = { try CPLinear<Double>(inputModes: [4, 4, 16], outputModes: [4, 4, 8], rank: 100, seed: 21) }
        let layer = try make(), fresh = try make()
        XCTAssertTrue(try layer.planReport(batch: 32).reusesWeight)
        var rng = TestRandom(state: 22)
        let x = random(32 * 256, &rng), dy = random(32 * 128, &rng)
        let y1 = try forward(layer, x, batch: 32)
        let y2 = try forward(layer, x, batch: 32)   // builds W, then one GEMM
        let y3 = try forward(layer, x, batch: 32)
        XCTAssertLessThan(relative(y2, y1), 1e-12)
        XCTAssertLessThan(relative(y3, y1), 1e-12)
        let dx = try backward(layer, x, dy, batch: 32)
        _ = try forward(fresh, x, batch: 32)
        let dxRef = try backward(fresh, x, dy, batch: 32)
        XCTAssertLessThan(relative(dx, dxRef), 1e-12)
        for p in 0..<7 { XCTAssertLessThan(relative(Array(layer.gradient(p)), Array(fresh.gradient(p))), 1e-11) }
        // An edit between calls: the next forward sees it (and the one after, through a new W).
        layer.parameter(3)[7] += 1
        fresh.parameter(3)[7] += 1
        let want = try forward(fresh, x, batch: 32)
        XCTAssertLessThan(relative(try forward(layer, x, batch: 32), want), 1e-12)
        XCTAssertLessThan(relative(try forward(layer, x, batch: 32), want), 1e-12)
        XCTAssertLessThan(relative(try forward(layer, x, batch: 32), want), 1e-12)
    }

    func testFloatMatchesDouble() throws {
        let ins = [4, 3, 2], outs = [2, 3, 5]
        let f = try TTLinear<Float>(inputModes: ins, outputModes: outs, rank: 3, seed: 5)
        let dLayer = try TTLinear<Double>(inputModes: ins, outputModes: outs, rank: 3, seed: 5)
        for p in 0..<3 { dLayer.parameter(p).overwrite(with: f.parameter(p).map(Double.init)) }
        var rng = TestRandom(state: 9)
        let x = random(4 * 24, &rng), dy = random(4 * 30, &rng)
        let yf = try forward(f, x.map(Float.init), batch: 4).map(Double.init)
        XCTAssertLessThan(relative(yf, try forward(dLayer, x, batch: 4)), 1e-5)
        let dxf = try backward(f, x.map(Float.init), dy.map(Float.init), batch: 4).map(Double.init)
        XCTAssertLessThan(relative(dxf, try backward(dLayer, x, dy, batch: 4)), 1e-5)
        for p in 0..<3 { XCTAssertLessThan(relative(f.gradient(p).map(Double.init), Array(dLayer.gradient(p))), 1e-4) }
    }

    func testFromDenseRecoversExactlyLowRankWeights() throws {
        var rng = TestRandom(state: 21)
        let ins = [3, 4, 2], outs = [2, 3, 3]
        let x = random(5 * 24, &rng)
        let bias = random(18, &rng)
        let tt = try TTLinear<Double>(inputModes: ins, outputModes: outs, ranks: [2, 3], seed: 1)
        let ttW = try tt.denseWeight()
        let ttBack = try TTLinear<Double>.fromDense(weight: ttW, bias: bias, inputModes: ins, outputModes: outs, rank: 3)
        XCTAssertLessThan(relative(try ttBack.denseWeight().values, ttW.values), 1e-10)
        XCTAssertEqual(Array(ttBack.biasValues!), bias)
        let cp = try CPLinear<Double>(inputModes: ins, outputModes: outs, rank: 2, seed: 2)
        let cpW = try cp.denseWeight()
        let cpBack = try CPLinear<Double>.fromDense(weight: cpW, inputModes: ins, outputModes: outs, rank: 2, maxIterations: 3000, tolerance: 0)
        XCTAssertLessThan(relative(try forward(cpBack, x, batch: 5), try forward(cp, x, batch: 5)), 1e-10)
        let tk = try TuckerLinear<Double>(inputModes: ins, outputModes: outs, ranks: [2, 2, 2, 2, 2, 2], bias: false, seed: 3)
        let tkW = try tk.denseWeight()
        let tkBack = try TuckerLinear<Double>.fromDense(weight: tkW, inputModes: ins, outputModes: outs, rank: 2)
        XCTAssertLessThan(relative(try forward(tkBack, x, batch: 5), try forward(tk, x, batch: 5)), 1e-10)
    }

    func testFromDenseByEpsAndBudget() throws {
        var rng = TestRandom(state: 22)
        let ins = [4, 4, 4], outs = [4, 4, 2]
        let w = try Matrix<Double>(rows: 64, columns: 32, values: random(64 * 32, &rng))
        let norm = w.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for eps in [0.05, 0.3, 0.7] {
            let tt = try TTLinear<Double>.fromDense(weight: w, inputModes: ins, outputModes: outs, eps: eps)
            let err = zip(try tt.denseWeight().values, w.values).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            XCTAssertLessThanOrEqual(err, eps * norm * (1 + 1e-12))
            let tk = try TuckerLinear<Double>.fromDense(weight: w, inputModes: ins, outputModes: outs, eps: eps)
            let errT = zip(try tk.denseWeight().values, w.values).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            XCTAssertLessThanOrEqual(errT, eps * norm * (1 + 1e-12))
        }
        let cpEps = try CPLinear<Double>.fromDense(weight: w, inputModes: [8, 8], outputModes: [32], eps: 0.9, maxIterations: 50, tolerance: 1e-8)
        let errC = zip(try cpEps.denseWeight().values, w.values).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        XCTAssertLessThanOrEqual(errC, 0.9 * norm)
        for budget in [200, 600, 1500] {
            let tt = try TTLinear<Double>.fromDense(weight: w, inputModes: ins, outputModes: outs, budget: budget)
            XCTAssertLessThanOrEqual(tt.parameterCount, budget)
            let bigger = try? TTLinear<Double>.fromDense(weight: w, inputModes: ins, outputModes: outs, rank: tt.ranks.max()! + 1)
            if let bigger, bigger.ranks != tt.ranks { XCTAssertGreaterThan(bigger.parameterCount, budget) }
            XCTAssertLessThanOrEqual(try CPLinear<Double>.fromDense(weight: w, inputModes: ins, outputModes: outs, budget: budget, maxIterations: 5).parameterCount, budget)
            XCTAssertLessThanOrEqual(try TuckerLinear<Double>.fromDense(weight: w, inputModes: ins, outputModes: outs, budget: budget).parameterCount, budget)
        }
    }

    func testPlanReportPicksReconstructionOnlyWhenCheaper() throws {
        // W5a: 1024 → 1024 as 4^5 → 4^5, rank 8: at batch 256 rebuilding W is cheaper.
        let layer = try TTLinear<Float>(inputModes: [4, 4, 4, 4, 4], outputModes: [4, 4, 4, 4, 4], rank: 8)
        let big = try layer.planReport(batch: 256), one = try layer.planReport(batch: 1)
        XCTAssertTrue(big.reconstructsWeight, big.description)
        XCTAssertFalse(one.reconstructsWeight, one.description)
        XCTAssertLessThan(one.flops, one.denseFlops)
        XCTAssertEqual(big.denseFlops, 2 * 256 * 1024 * 1024)
        XCTAssertGreaterThan(layer.compression, 10)
    }

    func testInitialisationHasDenseVariance() throws {
        for layer in [try TTLinear<Double>(inputModes: [4, 8, 8], outputModes: [8, 8, 4], rank: 6, seed: 3) as EinsumLayer<Double>,
                      try CPLinear<Double>(inputModes: [16, 16], outputModes: [16, 16], rank: 20, seed: 4),
                      try TuckerLinear<Double>(inputModes: [16, 16], outputModes: [16, 16], rank: 6, seed: 5)] {
            let w = try layer.denseWeight().values
            let variance = w.reduce(0) { $0 + $1 * $1 } / Double(w.count)
            XCTAssertEqual(variance * 3 * Double(layer.inFeatures), 1, accuracy: 0.35, "\(type(of: layer))")
        }
    }

    func testBadConfigurationsAndInputsThrow() throws {
        let layer = try TTLinear<Double>(inputModes: [2, 3], outputModes: [3, 2], rank: 2)
        var x = [Double](repeating: 1, count: 10), y = [Double](repeating: 0, count: 12)
        let cases: [(String, () throws -> Any)] = [
            ("rank 0", { try TTLinear<Double>(inputModes: [2, 3], outputModes: [3, 2], rank: 0) }),
            ("mode count", { try TTLinear<Double>(inputModes: [2, 3], outputModes: [6], rank: 2) }),
            ("mode 0", { try CPLinear<Double>(inputModes: [0, 3], outputModes: [6], rank: 2) }),
            ("cp rank 0", { try CPLinear<Double>(inputModes: [2, 3], outputModes: [6], rank: 0) }),
            ("tucker rank", { try TuckerLinear<Double>(inputModes: [2, 3], outputModes: [6], ranks: [3, 1, 1]) }),
            ("modes vs weight", { try TTLinear<Double>.fromDense(weight: Matrix(rows: 6, columns: 6), inputModes: [2, 2], outputModes: [3, 2], rank: 1) }),
            ("two targets", { try TTLinear<Double>.fromDense(weight: Matrix(rows: 6, columns: 6), inputModes: [2, 3], outputModes: [3, 2], rank: 1, eps: 0.1) }),
            ("budget too small", { try TTLinear<Double>.fromDense(weight: Matrix(rows: 6, columns: 6), inputModes: [2, 3], outputModes: [3, 2], budget: 3) }),
            ("NaN weight", { try Linear<Double>(weight: Matrix(rows: 1, columns: 1, values: [.nan])) }),
            ("batch not leading", { try EinsumLayer<Double>(equation: "ij,jk->ki", parameterShapes: [[3, 4]]) }),
            ("input label unused", { try EinsumLayer<Double>(equation: "nij,jk->nk", parameterShapes: [[3, 4]]) }),
            ("output from input", { try EinsumLayer<Double>(equation: "nj,jk->njk", parameterShapes: [[3, 4]]) }),
            ("batch in parameter", { try EinsumLayer<Double>(equation: "ni,ni->n", parameterShapes: [[3, 4]]) }),
            ("no output", { try EinsumLayer<Double>(equation: "ni,ij", parameterShapes: [[3, 4]]) }),
            ("shape count", { try EinsumLayer<Double>(equation: "ni,ij->nj", parameterShapes: [[3, 4], [2]]) }),
            ("wrong width", {
                try x.withUnsafeMutableBufferPointer { px in try y.withUnsafeMutableBufferPointer { py in
                    try layer.forward(StridedView(contiguous: px.baseAddress!, shape: [2, 5]), into: StridedView(contiguous: py.baseAddress!, shape: [2, 6]))
                } }
            }),
        ]
        for (name, body) in cases {
            XCTAssertThrowsError(try body(), name) { XCTAssertFalse(($0 as? TNError)?.message.isEmpty ?? true, name) }
        }
        var dy = [Double](repeating: .nan, count: 6), x6 = [Double](repeating: 1, count: 6)
        XCTAssertThrowsError(try dy.withUnsafeMutableBufferPointer { pd in try x6.withUnsafeMutableBufferPointer { px in
            try layer.backward(StridedView(contiguous: pd.baseAddress!, shape: [1, 6]), input: StridedView(contiguous: px.baseAddress!, shape: [1, 6]), inputGradient: nil)
        } }) { XCTAssertEqual(($0 as? TNError)?.message, "dy has a NaN or an infinity") }
    }
}
