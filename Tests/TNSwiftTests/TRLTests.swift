import XCTest
@testable import TNSwift

/// The tensor contraction layer (TCL) and the tensor regression layers (CP, Tucker and
/// TT-tensor weights) against dense references: W is rebuilt from the parameters by plain
/// loops written here for each format (not from the layer's equation), then y = x·W + b,
/// dx = dy·Wᵀ, db = Σ dy, and each parameter's gradient ⟨xᵀdy, ∂W/∂p⟩ — exact, since W is
/// linear in every single parameter array.
final class TRLTests: XCTestCase {
    /// A weight rebuilt from parameter arrays (W as (input modes…, output modes…), C order).
    typealias Rebuild = ([[Double]]) -> [Double]

    private func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
        var rest = flat, index = [Int](repeating: 0, count: shape.count)
        for k in shape.indices.reversed() { index[k] = rest % shape[k]; rest /= shape[k] }
        return index
    }

    /// TCL: W[(i_1..i_N), (r_1..r_N)] = Π_k U_k[r_k, i_k], U_k of shape (R_k, I_k).
    private func tclWeight(inputModes: [Int], ranks: [Int]) -> Rebuild {
        let shape = inputModes + ranks, n = inputModes.count
        return { u in
            (0..<shape.reduce(1, *)).map { flat in
                let idx = self.unravel(flat, shape)
                return (0..<n).reduce(1.0) { $0 * u[$1][idx[n + $1] * inputModes[$1] + idx[$1]] }
            }
        }
    }

    /// TT over all modes: W[m_1..m_D] = G_1[0, m_1, :] · G_2[:, m_2, :] ⋯ G_D[:, m_D, 0].
    private func ttWeight(modes: [Int], ranks: [Int]) -> Rebuild {
        { g in
            (0..<modes.reduce(1, *)).map { flat in
                let idx = self.unravel(flat, modes)
                var v = [1.0]
                for k in modes.indices {
                    let (m, r) = (modes[k], ranks[k + 1])
                    v = (0..<r).map { b in v.indices.reduce(0.0) { $0 + v[$1] * g[k][($1 * m + idx[k]) * r + b] } }
                }
                return v[0]
            }
        }
    }

    /// CP: W[m_1..m_D] = Σ_r λ_r Π_k A_k[m_k, r]; parameters λ then A_1 … A_D.
    private func cpWeight(modes: [Int], rank: Int) -> Rebuild {
        { p in
            (0..<modes.reduce(1, *)).map { flat in
                let idx = self.unravel(flat, modes)
                return (0..<rank).reduce(0.0) { acc, r in
                    acc + p[0][r] * modes.indices.reduce(1.0) { $0 * p[$1 + 1][idx[$1] * rank + r] }
                }
            }
        }
    }

    /// Tucker: W[m_1..m_D] = Σ_r core[r_1..r_D] Π_k U_k[m_k, r_k]; parameters core, U_1 … U_D.
    private func tuckerWeight(modes: [Int], ranks: [Int]) -> Rebuild {
        { p in
            (0..<modes.reduce(1, *)).map { flat in
                let idx = self.unravel(flat, modes)
                return (0..<ranks.reduce(1, *)).reduce(0.0) { acc, c in
                    let r = self.unravel(c, ranks)
                    return acc + p[0][c] * modes.indices.reduce(1.0) { $0 * p[$1 + 1][idx[$1] * ranks[$1] + r[$1]] }
                }
            }
        }
    }

    private func matmul(_ a: [Double], _ b: [Double], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for p in 0..<k { for j in 0..<n { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        return c
    }
    private func transpose(_ a: [Double], _ m: Int, _ n: Int) -> [Double] { (0..<(n * m)).map { a[($0 % m) * n + $0 / m] } }
    private func relative(_ x: [Double], _ y: [Double]) -> Double {
        XCTAssertEqual(x.count, y.count)
        let d = zip(x, y).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        return d / Swift.max(y.reduce(0.0) { $0 + $1 * $1 }.squareRoot(), 1e-300)
    }

    private func forward(_ layer: EinsumLayer<Double>, _ x: [Double], batch n: Int) throws -> [Double] {
        var x = x, y = [Double](repeating: .nan, count: n * layer.outFeatures)
        try x.withUnsafeMutableBufferPointer { px in
            try y.withUnsafeMutableBufferPointer { py in
                try layer.forward(StridedView(contiguous: px.baseAddress!, shape: [n] + layer.inputModes),
                                  into: StridedView(contiguous: py.baseAddress!, shape: [n] + layer.outputModes))
            }
        }
        return y
    }

    private func backward(_ layer: EinsumLayer<Double>, _ x: [Double], _ dy: [Double], batch n: Int) throws -> [Double] {
        var x = x, dy = dy, dx = [Double](repeating: .nan, count: n * layer.inFeatures)
        try x.withUnsafeMutableBufferPointer { px in
            try dy.withUnsafeMutableBufferPointer { pd in
                try dx.withUnsafeMutableBufferPointer { pdx in
                    try layer.backward(StridedView(contiguous: pd.baseAddress!, shape: [n, layer.outFeatures]),
                                       input: StridedView(contiguous: px.baseAddress!, shape: [n, layer.inFeatures]),
                                       inputGradient: StridedView(contiguous: pdx.baseAddress!, shape: [n] + layer.inputModes))
                }
            }
        }
        return dx
    }

    /// Output, dx, bias and parameter gradients of `layer` against the dense reference, for a
    /// small batch and one large enough that the layer may rebuild W.
    private func check(_ layer: EinsumLayer<Double>, _ rebuild: Rebuild, _ name: String, seed: UInt64) throws {
        var rng = TestRandom(state: seed)
        // Random parameters (not the init's scale) so every entry matters.
        for p in layer.parameterShapes.indices { layer.parameter(p).overwrite(with: rng.array(layer.parameter(p).count)) }
        if let b = layer.biasValues { b.overwrite(with: rng.array(b.count)) }
        let params = layer.parameterShapes.indices.map { Array(layer.parameter($0)) }
        let (i, o) = (layer.inFeatures, layer.outFeatures)
        let w = rebuild(params)
        XCTAssertEqual(w.count, i * o, name)
        XCTAssertLessThan(relative(try layer.denseWeight().values, w), 1e-12, "\(name) weight")
        for n in [3, 200] {
            let x = rng.array(n * i), dy = rng.array(n * o)
            var yRef = matmul(x, w, n, i, o)
            if let b = layer.biasValues { for r in 0..<n { for c in 0..<o { yRef[r * o + c] += b[c] } } }
            XCTAssertLessThan(relative(try forward(layer, x, batch: n), yRef), 1e-10, "\(name) forward, batch \(n)")
            let dx = try backward(layer, x, dy, batch: n)
            XCTAssertLessThan(relative(dx, matmul(dy, transpose(w, i, o), n, o, i)), 1e-10, "\(name) dx, batch \(n)")
            if let db = layer.biasGradientValues {
                let ref = (0..<o).map { c in (0..<n).reduce(0.0) { $0 + dy[$1 * o + c] } }
                XCTAssertLessThan(relative(Array(db), ref), 1e-10, "\(name) bias gradient")
            }
            let dW = matmul(transpose(x, n, i), dy, i, n, o)
            for p in params.indices {
                // ∂W/∂p[j] is W rebuilt with p = e_j (the others unchanged).
                let ref = (0..<params[p].count).map { j -> Double in
                    var unit = params
                    unit[p] = [Double](repeating: 0, count: params[p].count)
                    unit[p][j] = 1
                    return zip(dW, rebuild(unit)).reduce(0.0) { $0 + $1.0 * $1.1 }
                }
                XCTAssertLessThan(relative(Array(layer.gradient(p)), ref), 1e-10,
                                  "\(name) gradient of \(layer.parameterNames[p]), batch \(n)")
            }
        }
    }

    func testTCLMatchesDenseReference() throws {
        let cases: [([Int], [Int])] = [([3, 5, 2], [2, 7, 1]), ([7], [3]), ([1, 4, 1], [2, 1, 3]), ([2, 3, 2, 2], [3, 2, 2, 1]),
                                       ([5, 3], [5, 3]), ([1], [1])]
        for (k, (ins, ranks)) in cases.enumerated() {
            let layer = try TCL<Double>(inputModes: ins, ranks: ranks, bias: k % 2 == 0, seed: UInt64(k))
            XCTAssertEqual(layer.parameterNames, ins.indices.map { "factor_\($0)" })
            XCTAssertEqual(layer.parameterShapes, ins.indices.map { [ranks[$0], ins[$0]] })
            XCTAssertEqual(layer.outputModes, ranks)
            try check(layer, tclWeight(inputModes: ins, ranks: ranks), "TCL \(ins) → \(ranks)", seed: UInt64(10 + k))
        }
        XCTAssertEqual(try TCL<Double>(inputModes: [2, 3], rank: 4).ranks, [4, 4])
        XCTAssertFalse(try TCL<Double>(inputModes: [2, 3], rank: 4).hasBias, "no bias by default, as tltorch")
    }

    func testTTTensorLinearMatchesDenseReference() throws {
        let cases: [([Int], [Int], [Int])] = [([3, 2], [5], [2, 3]), ([1, 7], [3, 1], [1, 3, 2]), ([5], [2, 3], [2, 2]),
                                              ([2, 3, 2], [3, 2], [2, 3, 4, 2]), ([11], [13], [3])]
        for (k, (ins, outs, inner)) in cases.enumerated() {
            let layer = try TTTensorLinear<Double>(inputModes: ins, outputModes: outs, ranks: inner, bias: k % 2 == 1, seed: UInt64(k))
            let ranks = [1] + inner + [1], modes = ins + outs
            XCTAssertEqual(layer.ranks, ranks)
            XCTAssertEqual(layer.parameterShapes, modes.indices.map { [ranks[$0], modes[$0], ranks[$0 + 1]] })
            try check(layer, ttWeight(modes: modes, ranks: ranks), "TT tensor \(ins) → \(outs)", seed: UInt64(20 + k))
        }
    }

    /// The CP and Tucker TRLs are CPLinear / TuckerLinear over (input shape, output shape).
    func testCPAndTuckerRegressionMatchDenseReference() throws {
        let cases: [([Int], [Int])] = [([3, 5], [7]), ([1, 2, 3], [2, 1]), ([13], [2, 3])]
        for (k, (ins, outs)) in cases.enumerated() {
            let modes = ins + outs
            try check(CPLinear<Double>(inputModes: ins, outputModes: outs, rank: 3, bias: k != 1, seed: 1),
                      cpWeight(modes: modes, rank: 3), "CP \(ins) → \(outs)", seed: UInt64(30 + k))
            let ranks = modes.map { Swift.min(2, $0) }
            try check(TuckerLinear<Double>(inputModes: ins, outputModes: outs, ranks: ranks, bias: k == 1, seed: 2),
                      tuckerWeight(modes: modes, ranks: ranks), "Tucker \(ins) → \(outs)", seed: UInt64(40 + k))
        }
    }

    /// Fresh layers have the dense init's weight variance 1 / (3 in_features).
    func testInitialisationHasDenseVariance() throws {
        let tcl = try TCL<Double>(inputModes: [8, 8, 8], ranks: [8, 8, 8], seed: 3)
        let tt = try TTTensorLinear<Double>(inputModes: [8, 8], outputModes: [8, 8], rank: 6, seed: 4)
        for layer in [tcl, tt] as [EinsumLayer<Double>] {
            let w = try layer.denseWeight().values
            let variance = w.reduce(0.0) { $0 + $1 * $1 } / Double(w.count)
            let target = 1 / (3 * Double(layer.inFeatures))
            XCTAssertEqual(variance / target, 1, accuracy: 0.5, "\(type(of: layer))")
            XCTAssertTrue(layer.biasValues.map { $0.allSatisfy { $0 == 0 } } ?? true)
        }
    }

    func testTTTensorFromDense() throws {
        // A weight that is exactly a TT with ranks (1, 2, 3, 2, 1) over modes (3, 4 | 5, 2).
        let source = try TTTensorLinear<Double>(inputModes: [3, 4], outputModes: [5, 2], ranks: [2, 3, 2], bias: false, seed: 7)
        let w = try source.denseWeight()
        let bias = (0..<10).map { Double($0) / 3 }
        let exact = try TTTensorLinear<Double>.fromDense(weight: w, bias: bias, inputModes: [3, 4], outputModes: [5, 2], eps: 1e-12)
        XCTAssertLessThan(relative(try exact.denseWeight().values, w.values), 1e-10)
        XCTAssertEqual(Array(exact.biasValues!), bias)
        XCTAssertTrue(zip(exact.ranks, [1, 2, 3, 2, 1]).allSatisfy { $0 <= $1 }, "\(exact.ranks)")
        let capped = try TTTensorLinear<Double>.fromDense(weight: w, inputModes: [3, 4], outputModes: [5, 2], rank: 1)
        XCTAssertEqual(capped.ranks, [1, 1, 1, 1, 1])
        XCTAssertFalse(capped.hasBias)
        let budget = try TTTensorLinear<Double>.fromDense(weight: w, inputModes: [3, 4], outputModes: [5, 2], budget: 30)
        XCTAssertLessThanOrEqual(budget.parameterCount, 30)
        for (name, make) in [
            ("two targets", { try TTTensorLinear<Double>.fromDense(weight: w, inputModes: [3, 4], outputModes: [5, 2], rank: 2, eps: 0.1) }),
            ("no target", { try TTTensorLinear<Double>.fromDense(weight: w, inputModes: [3, 4], outputModes: [5, 2]) }),
            ("modes", { try TTTensorLinear<Double>.fromDense(weight: w, inputModes: [3, 5], outputModes: [5, 2], rank: 2) }),
            ("rank 0", { try TTTensorLinear<Double>.fromDense(weight: w, inputModes: [3, 4], outputModes: [5, 2], rank: 0) }),
        ] as [(String, () throws -> TTTensorLinear<Double>)] {
            XCTAssertThrowsError(try make(), name)
        }
    }

    func testBadConfigurationsThrow() {
        let cases: [(String, () throws -> Any)] = [
            ("TCL rank count", { try TCL<Double>(inputModes: [2, 3], ranks: [2]) }),
            ("TCL rank 0", { try TCL<Double>(inputModes: [2, 3], ranks: [2, 0]) }),
            ("TCL mode 0", { try TCL<Double>(inputModes: [2, 0], ranks: [2, 2]) }),
            ("TCL no modes", { try TCL<Double>(inputModes: [], ranks: []) }),
            ("TCL 13 modes", { try TCL<Double>(inputModes: [Int](repeating: 1, count: 13), rank: 1) }),
            ("TT tensor rank count", { try TTTensorLinear<Double>(inputModes: [2, 3], outputModes: [4], ranks: [2]) }),
            ("TT tensor rank 0", { try TTTensorLinear<Double>(inputModes: [2, 3], outputModes: [4], ranks: [2, 0]) }),
            ("TT tensor no output", { try TTTensorLinear<Double>(inputModes: [2, 3], outputModes: [], rank: 2) }),
        ]
        for (name, make) in cases {
            XCTAssertThrowsError(try make(), name) { XCTAssertTrue($0 is TNError, name) }
        }
        XCTAssertNoThrow(try TTTensorLinear<Double>(inputModes: [Int](repeating: 1, count: 12), outputModes: [Int](repeating: 1, count: 12), rank: 1),
                         "24 modes use 25 bond letters")
    }

    func testModelFileRoundTrip() throws {
        let tcl = try TCL<Double>(inputModes: [3, 4], ranks: [2, 5], bias: true, seed: 1)
        let tt = try TTTensorLinear<Double>(inputModes: [10], outputModes: [2, 3], ranks: [3, 2], seed: 2)
        tcl.biasValues!.overwrite(with: (0..<10).map { Double($0) / 9 })
        tt.biasValues!.overwrite(with: (0..<6).map { -Double($0) / 5 })
        let model = try Sequential<Double>([.layer(tcl), .activation(.tanh), .layer(tt)])
        let back = try Sequential<Double>.decode(SafeTensors.parse(model.serialized()))
        var rng = TestRandom(state: 3)
        let x = rng.array(4 * 12)
        XCTAssertEqual(try back.forward(x, batch: 4), try model.forward(x, batch: 4))
        guard case .layer(let l0) = back.stages[0], case .layer(let l2) = back.stages[2] else { return XCTFail("stages") }
        XCTAssertTrue(l0 is TCL<Double>)
        XCTAssertTrue(l2 is TTTensorLinear<Double>)
        XCTAssertEqual((l2 as? TTTensorLinear<Double>)?.ranks, [1, 3, 2, 1])
        XCTAssertEqual(l0.configuration["type"]?.stringValue, "TCL")
    }
}
