import XCTest
@testable import TNSwift

/// `TTLSTM` and `TTGRU` against a loop-based reference of PyTorch's equations (with W_ih
/// rebuilt from the TT cores), and every gradient against central differences.
final class RecurrentTests: XCTestCase {
    /// Memory a test owns, seen as a view or an array.
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
        var array: [Double] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    }

    /// Shapes of one test case.
    struct Sizes { let batch: Int, steps: Int, input: Int, hidden: Int }

    /// Either cell behind one interface: forward returns (output, h_n, c_n); backward returns
    /// (dx, dh0, dc0); c_n and dc0 are empty for a GRU.
    struct Cell {
        let gates: Int
        let layer: TTRecurrentLayer<Double>
        let forward: (Buffer, Buffer?, Buffer?, Sizes) throws -> ([Double], [Double], [Double])
        let backward: (Buffer?, Buffer?, Buffer?, Sizes) throws -> ([Double], [Double], [Double])
    }

    static func lstm(_ inputModes: [Int], hidden: Int, outputModes: [Int], ranks: [Int], seed: UInt64) throws -> Cell {
        let layer = try TTLSTM<Double>(inputModes: inputModes, hiddenSize: hidden, outputModes: outputModes, ranks: ranks, seed: seed)
        return Cell(gates: 4, layer: layer, forward: { x, h0, c0, s in
            let out = Buffer(count: s.batch * s.steps * s.hidden), hn = Buffer(count: s.batch * s.hidden), cn = Buffer(count: s.batch * s.hidden)
            try layer.forward(x.view([s.batch, s.steps, s.input]), initialHidden: h0?.view([s.batch, s.hidden]),
                              initialCell: c0?.view([1, s.batch, s.hidden]), output: out.view([s.batch, s.steps, s.hidden]),
                              finalHidden: hn.view([s.batch, s.hidden]), finalCell: cn.view([s.batch, s.hidden]))
            return (out.array, hn.array, cn.array)
        }, backward: { dOut, dhn, dcn, s in
            let dx = Buffer(count: s.batch * s.steps * s.input), dh0 = Buffer(count: s.batch * s.hidden), dc0 = Buffer(count: s.batch * s.hidden)
            try layer.backward(outputGradient: dOut?.view([s.batch, s.steps, s.hidden]), finalHiddenGradient: dhn?.view([s.batch, s.hidden]),
                               finalCellGradient: dcn?.view([s.batch, s.hidden]), inputGradient: dx.view([s.batch, s.steps, s.input]),
                               initialHiddenGradient: dh0.view([s.batch, s.hidden]), initialCellGradient: dc0.view([s.batch, s.hidden]))
            return (dx.array, dh0.array, dc0.array)
        })
    }

    static func gru(_ inputModes: [Int], hidden: Int, outputModes: [Int], ranks: [Int], seed: UInt64) throws -> Cell {
        let layer = try TTGRU<Double>(inputModes: inputModes, hiddenSize: hidden, outputModes: outputModes, ranks: ranks, seed: seed)
        return Cell(gates: 3, layer: layer, forward: { x, h0, _, s in
            let out = Buffer(count: s.batch * s.steps * s.hidden), hn = Buffer(count: s.batch * s.hidden)
            try layer.forward(x.view([s.batch, s.steps, s.input]), initialHidden: h0?.view([1, s.batch, s.hidden]),
                              output: out.view([s.batch, s.steps, s.hidden]), finalHidden: hn.view([s.batch, s.hidden]))
            return (out.array, hn.array, [])
        }, backward: { dOut, dhn, _, s in
            let dx = Buffer(count: s.batch * s.steps * s.input), dh0 = Buffer(count: s.batch * s.hidden)
            try layer.backward(outputGradient: dOut?.view([s.batch, s.steps, s.hidden]), finalHiddenGradient: dhn?.view([s.batch, s.hidden]),
                               inputGradient: dx.view([s.batch, s.steps, s.input]), initialHiddenGradient: dh0.view([s.batch, s.hidden]))
            return (dx.array, dh0.array, [])
        })
    }

    private static func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }

    /// PyTorch's equations with explicit loops: W_ih (in × G·H), W_hh (H × G·H), gate-major
    /// columns. Returns (output, h_n, c_n).
    static func reference(gates: Int, x: [Double], h0: [Double], c0: [Double], wih: [Double], bih: [Double],
                          whh: [Double], bhh: [Double], _ s: Sizes) -> ([Double], [Double], [Double]) {
        let (n, steps, inp, h) = (s.batch, s.steps, s.input, s.hidden)
        let w = gates * h
        var hState = h0, cState = c0
        var out = [Double](repeating: 0, count: n * steps * h)
        for t in 0..<steps {
            var newH = hState, newC = cState
            for b in 0..<n {
                var ax = bih, ah = bhh
                for k in 0..<w {
                    for i in 0..<inp { ax[k] += x[(b * steps + t) * inp + i] * wih[i * w + k] }
                    for j in 0..<h { ah[k] += hState[b * h + j] * whh[j * w + k] }
                }
                for j in 0..<h {
                    if gates == 4 {
                        let i = sigmoid(ax[j] + ah[j]), f = sigmoid(ax[h + j] + ah[h + j])
                        let g = tanh(ax[2 * h + j] + ah[2 * h + j]), o = sigmoid(ax[3 * h + j] + ah[3 * h + j])
                        newC[b * h + j] = f * cState[b * h + j] + i * g
                        newH[b * h + j] = o * tanh(newC[b * h + j])
                    } else {
                        let r = sigmoid(ax[j] + ah[j]), z = sigmoid(ax[h + j] + ah[h + j])
                        let nn = tanh(ax[2 * h + j] + r * ah[2 * h + j])
                        newH[b * h + j] = (1 - z) * nn + z * hState[b * h + j]
                    }
                    out[(b * steps + t) * h + j] = newH[b * h + j]
                }
            }
            hState = newH
            cState = newC
        }
        return (out, hState, gates == 4 ? cState : [])
    }

    private func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
        XCTAssertEqual(a.count, b.count)
        return zip(a, b).reduce(0) { Swift.max($0, abs($1.0 - $1.1)) }
    }

    private func relative(_ x: [Double], _ y: [Double]) -> Double {
        let d = zip(x, y).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        return d / Swift.max(y.reduce(0.0) { $0 + $1 * $1 }.squareRoot(), 1e-300)
    }

    private func cells(seed: UInt64) throws -> [(String, Cell)] {
        [("TTLSTM", try Self.lstm([3, 2], hidden: 5, outputModes: [4, 5], ranks: [2], seed: seed)),
         ("TTGRU", try Self.gru([3, 2], hidden: 5, outputModes: [3, 5], ranks: [2], seed: seed)),
         ("TTLSTM 3 modes", try Self.lstm([2, 1, 3], hidden: 3, outputModes: [2, 3, 2], ranks: [3, 2], seed: seed + 1)),
         ("TTGRU 1 mode", try Self.gru([7], hidden: 2, outputModes: [6], ranks: [], seed: seed + 2))]
    }

    func testForwardMatchesReference() throws {
        var rng = TestRandom(state: 11)
        for (name, cell) in try cells(seed: 3) {
            let layer = cell.layer
            let s = Sizes(batch: 3, steps: 4, input: layer.inputSize, hidden: layer.hiddenSize)
            let d = layer.inputModes.count
            let wih = try layer.denseInputWeight()
            XCTAssertEqual([wih.rows, wih.columns], [s.input, cell.gates * s.hidden], name)
            let wihValues = wih.values
            let x = rng.array(s.batch * s.steps * s.input), h0 = rng.array(s.batch * s.hidden), c0 = rng.array(s.batch * s.hidden)
            let (out, hn, cn) = try cell.forward(Buffer(x), Buffer(h0), cell.gates == 4 ? Buffer(c0) : nil, s)
            let ref = Self.reference(gates: cell.gates, x: x, h0: h0, c0: c0, wih: wihValues, bih: Array(layer.parameter(d)),
                                     whh: Array(layer.parameter(d + 1)), bhh: Array(layer.parameter(d + 2)), s)
            XCTAssertLessThanOrEqual(maxDifference(out, ref.0), 1e-10, name)
            XCTAssertLessThanOrEqual(maxDifference(hn, ref.1), 1e-10, name)
            XCTAssertLessThanOrEqual(maxDifference(cn, ref.2), 1e-10, name)
            for b in 0..<s.batch {
                XCTAssertEqual(Array(hn[(b * s.hidden)..<((b + 1) * s.hidden)]),
                               Array(out[((b * s.steps + s.steps - 1) * s.hidden)..<((b + 1) * s.steps * s.hidden)]), name)
            }
            // Zero initial states by default.
            let zero = [Double](repeating: 0, count: s.batch * s.hidden)
            let (out0, _, _) = try cell.forward(Buffer(x), nil, nil, s)
            let ref0 = Self.reference(gates: cell.gates, x: x, h0: zero, c0: zero, wih: wihValues, bih: Array(layer.parameter(d)),
                                      whh: Array(layer.parameter(d + 1)), bhh: Array(layer.parameter(d + 2)), s)
            XCTAssertLessThanOrEqual(maxDifference(out0, ref0.0), 1e-10, name)
        }
    }

    func testInitialisationFollowsPyTorch() throws {
        let layer = try TTLSTM<Double>(inputModes: [8, 8], hiddenSize: 16, outputModes: [8, 8], rank: 8, seed: 5)
        let names = layer.parameterNames
        XCTAssertEqual(names, ["core_0", "core_1", "bias_ih", "weight_hh", "bias_hh"])
        XCTAssertEqual(layer.parameterShapes, [[1, 8, 8, 8], [8, 8, 8, 1], [64], [16, 64], [64]])
        XCTAssertEqual(layer.parameterCount, 512 + 512 + 64 + 1024 + 64)
        let bound = 0.25
        for i in 2...4 { XCTAssertTrue(layer.parameter(i).allSatisfy { abs($0) <= bound }, names[i]) }
        let w = try layer.denseInputWeight()
        let variance = w.values.reduce(0) { $0 + $1 * $1 } / Double(w.rows * w.columns)
        XCTAssertEqual(variance, 1 / 48, accuracy: 0.5 / 48)   // uniform(±1/√16) has variance 1/48
        let before = Array(layer.parameter(3))
        try layer.initialize(seed: 5)
        XCTAssertEqual(Array(layer.parameter(3)), before)
    }

    /// Every gradient against central differences of L = Σ out·R + Σ h_n·S (+ Σ c_n·Q).
    func testGradientsMatchFiniteDifferences() throws {
        var rng = TestRandom(state: 29)
        for (k, (name, cell)) in try cells(seed: 7).enumerated() {
            let layer = cell.layer
            // batch ≤ seq and batch > seq take different GEMM loops for dW_hh.
            let s = Sizes(batch: k < 2 ? 3 : 4, steps: k < 2 ? 4 : 2, input: layer.inputSize, hidden: layer.hiddenSize)
            let lstm = cell.gates == 4
            var x = rng.array(s.batch * s.steps * s.input), h0 = rng.array(s.batch * s.hidden), c0 = rng.array(s.batch * s.hidden)
            let r = rng.array(s.batch * s.steps * s.hidden), sw = rng.array(s.batch * s.hidden), q = rng.array(s.batch * s.hidden)
            func loss() throws -> Double {
                let (out, hn, cn) = try cell.forward(Buffer(x), Buffer(h0), lstm ? Buffer(c0) : nil, s)
                var l = zip(out, r).reduce(0) { $0 + $1.0 * $1.1 } + zip(hn, sw).reduce(0) { $0 + $1.0 * $1.1 }
                if lstm { l += zip(cn, q).reduce(0) { $0 + $1.0 * $1.1 } }
                return l
            }
            _ = try loss()
            let (dx, dh0, dc0) = try cell.backward(Buffer(r), Buffer(sw), lstm ? Buffer(q) : nil, s)
            let grads = layer.parameterShapes.indices.map { Array(layer.gradient($0)) }
            let eps = 1e-5
            func numeric(_ count: Int, _ poke: (Int, Double) -> Void) throws -> [Double] {
                try (0..<count).map { i in
                    poke(i, eps); let up = try loss()
                    poke(i, -2 * eps); let down = try loss()
                    poke(i, eps)
                    return (up - down) / (2 * eps)
                }
            }
            XCTAssertLessThanOrEqual(relative(dx, try numeric(x.count) { x[$0] += $1 }), 1e-6, "\(name) dx")
            XCTAssertLessThanOrEqual(relative(dh0, try numeric(h0.count) { h0[$0] += $1 }), 1e-6, "\(name) dh0")
            if lstm { XCTAssertLessThanOrEqual(relative(dc0, try numeric(c0.count) { c0[$0] += $1 }), 1e-6, "\(name) dc0") }
            for (i, g) in grads.enumerated() {
                let p = layer.parameter(i)
                let fd = try numeric(p.count) { p[$0] += $1 }
                XCTAssertLessThanOrEqual(relative(g, fd), 1e-6, "\(name) \(layer.parameterNames[i])")
            }
            // Backward again (after a forward that may now take the TT part's rebuilt-weight
            // path: equal up to rounding).
            _ = try loss()
            let again = try cell.backward(Buffer(r), Buffer(sw), lstm ? Buffer(q) : nil, s)
            XCTAssertLessThanOrEqual(maxDifference(again.0, dx), 1e-12, name)
            for (i, g) in grads.enumerated() { XCTAssertLessThanOrEqual(maxDifference(Array(layer.gradient(i)), g), 1e-12, name) }
            // Without d_h_n the gradient is that of Σ out·R alone.
            let (dxOut, _, _) = try cell.backward(Buffer(r), nil, nil, s)
            let fdOut = try (0..<x.count).map { i -> Double in
                x[i] += eps; let up = try cell.forward(Buffer(x), Buffer(h0), lstm ? Buffer(c0) : nil, s).0
                x[i] -= 2 * eps; let down = try cell.forward(Buffer(x), Buffer(h0), lstm ? Buffer(c0) : nil, s).0
                x[i] += eps
                return zip(zip(up, down), r).reduce(0) { $0 + ($1.0.0 - $1.0.1) * $1.1 } / (2 * eps)
            }
            XCTAssertLessThanOrEqual(relative(dxOut, fdOut), 1e-6, "\(name) dx without d_h_n")
        }
    }

    /// A strided input (seq-major memory seen batch first) and float32 give the same output.
    func testStridedInputAndFloat32() throws {
        var rng = TestRandom(state: 41)
        let (n, steps, inp, h) = (2, 3, 6, 5)
        let layer = try TTGRU<Double>(inputModes: [3, 2], hiddenSize: h, outputModes: [3, 5], rank: 2, seed: 1)
        let x = rng.array(n * steps * inp)
        let contiguous = Buffer(x), seqMajor = Buffer(count: x.count)
        for b in 0..<n { for t in 0..<steps { for i in 0..<inp { seqMajor.pointer[(t * n + b) * inp + i] = x[(b * steps + t) * inp + i] } } }
        let out1 = Buffer(count: n * steps * h), out2 = Buffer(count: n * steps * h)
        try layer.forward(contiguous.view([n, steps, inp]), output: out1.view([n, steps, h]))
        try layer.forward(try StridedView(base: seqMajor.pointer, shape: [n, steps, inp], strides: [inp, n * inp, 1]),
                          output: out2.view([n, steps, h]))
        XCTAssertLessThanOrEqual(maxDifference(out1.array, out2.array), 1e-12)

        let single = try TTLSTM<Float>(inputModes: [3, 2], hiddenSize: h, outputModes: [4, 5], rank: 2, seed: 1)
        let double = try TTLSTM<Double>(inputModes: [3, 2], hiddenSize: h, outputModes: [4, 5], rank: 2, seed: 1)
        var xf = x.map(Float.init), yf = [Float](repeating: .nan, count: n * steps * h), dxf = [Float](repeating: .nan, count: x.count)
        var dy = [Float](repeating: 1, count: n * steps * h)
        try xf.withUnsafeMutableBufferPointer { px in
            try yf.withUnsafeMutableBufferPointer { py in
                try single.forward(StridedView(contiguous: px.baseAddress!, shape: [n, steps, inp]),
                                   output: StridedView(contiguous: py.baseAddress!, shape: [n, steps, h]))
            }
        }
        try dy.withUnsafeMutableBufferPointer { pd in
            try dxf.withUnsafeMutableBufferPointer { pdx in
                try single.backward(outputGradient: StridedView(contiguous: pd.baseAddress!, shape: [n, steps, h]),
                                    inputGradient: StridedView(contiguous: pdx.baseAddress!, shape: [n, steps, inp]))
            }
        }
        let yd = Buffer(count: n * steps * h)
        try double.forward(contiguous.view([n, steps, inp]), output: yd.view([n, steps, h]))
        XCTAssertLessThanOrEqual(maxDifference(yf.map(Double.init), yd.array), 1e-5)
        XCTAssertTrue(dxf.allSatisfy { $0.isFinite })
    }

    func testErrors() throws {
        func expect(_ message: String, _ body: () throws -> Void) {
            XCTAssertThrowsError(try body(), message) { error in
                guard let e = error as? TNError else { return XCTFail("not a TNError: \(error)") }
                XCTAssertTrue(e.message.contains(message), "\(e.message) lacks \(message)")
            }
        }
        expect("multiply to 21 but 4 gates") { _ = try TTLSTM<Double>(inputModes: [3, 2], hiddenSize: 5, outputModes: [3, 7], rank: 2) }
        expect("hidden_size must be at least 1") { _ = try TTGRU<Double>(inputModes: [3], hiddenSize: 0, outputModes: [3], ranks: []) }
        expect("1 TT bonds but 2 ranks") { _ = try TTGRU<Double>(inputModes: [3, 2], hiddenSize: 5, outputModes: [3, 5], ranks: [2, 2]) }
        expect("TT ranks must be at least 1") { _ = try TTGRU<Double>(inputModes: [3, 2], hiddenSize: 5, outputModes: [3, 5], ranks: [0]) }

        let lstm = try TTLSTM<Double>(inputModes: [3, 2], hiddenSize: 5, outputModes: [4, 5], rank: 2)
        let gru = try TTGRU<Double>(inputModes: [3, 2], hiddenSize: 5, outputModes: [3, 5], rank: 2)
        let x = Buffer(count: 3 * 4 * 6), out = Buffer(count: 3 * 4 * 5), state = Buffer(count: 3 * 5)
        for i in 0..<x.count { x.pointer[i] = Double(i % 7) / 7 }
        expect("backward needs a forward first") { try lstm.backward(outputGradient: out.view([3, 4, 5])) }
        expect("backward needs a forward first") { try gru.backward(outputGradient: out.view([3, 4, 5])) }
        expect("expects (batch, seq, 6)") { try gru.forward(x.view([3, 4, 3]), output: out.view([3, 4, 5])) }
        expect("expects (batch, seq, 6)") { try gru.forward(x.view([12, 6]), output: out.view([3, 4, 5])) }
        expect("has length 0") { try gru.forward(x.view([3, 0, 6]), output: out.view([3, 0, 5])) }
        expect("empty batch") { try lstm.forward(x.view([0, 4, 6]), output: out.view([0, 4, 5])) }
        expect("h0 has shape [5, 3]") { try gru.forward(x.view([3, 4, 6]), initialHidden: state.view([5, 3]), output: out.view([3, 4, 5])) }
        expect("c0 has shape [2, 3, 5]") {
            try lstm.forward(x.view([3, 4, 6]), initialCell: try StridedView(base: state.pointer, shape: [2, 3, 5], strides: [0, 5, 1]),
                             output: out.view([3, 4, 5]))
        }
        expect("the output has shape [3, 5, 4]") { try lstm.forward(x.view([3, 4, 6]), output: out.view([3, 5, 4])) }
        expect("h_n has shape [3, 4]") { try lstm.forward(x.view([3, 4, 6]), output: out.view([3, 4, 5]), finalHidden: state.view([3, 4])) }

        try lstm.forward(x.view([3, 4, 6]), output: out.view([3, 4, 5]))
        try gru.forward(x.view([3, 4, 6]), output: out.view([3, 4, 5]))
        let dOut = Buffer([Double](repeating: 1, count: out.count)), dx = Buffer(count: x.count)
        expect("d_output has shape [3, 5, 4]") { try lstm.backward(outputGradient: dOut.view([3, 5, 4])) }
        expect("dx has shape [3, 4, 5]") { try gru.backward(outputGradient: dOut.view([3, 4, 5]), inputGradient: dx.view([3, 4, 5])) }
        expect("dc0 has shape [5, 3]") {
            try lstm.backward(outputGradient: dOut.view([3, 4, 5]), initialCellGradient: state.view([5, 3]))
        }
        dOut.pointer[17] = .nan
        expect("d_output has a NaN or an infinity") { try lstm.backward(outputGradient: dOut.view([3, 4, 5])) }
        expect("d_output has a NaN or an infinity") { try gru.backward(outputGradient: dOut.view([3, 4, 5])) }
        dOut.pointer[17] = 1
        state.pointer.update(repeating: .infinity, count: state.count)
        expect("d_c_n has a NaN or an infinity") { try lstm.backward(outputGradient: nil, finalCellGradient: state.view([3, 5])) }
        // A failed call leaves the layer usable.
        try lstm.backward(outputGradient: dOut.view([3, 4, 5]), inputGradient: dx.view([3, 4, 6]))
        XCTAssertTrue(dx.array.allSatisfy { $0.isFinite })
    }
}
