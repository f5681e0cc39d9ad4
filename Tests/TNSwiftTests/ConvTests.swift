import XCTest
@testable import TNSwift

/// The convolution layers against independent references: the kernel rebuilt from the
/// parameters by the loop-based `referenceEinsum`, a direct-loop dense convolution in Double
/// (output, dx, dK), parameter gradients as ⟨dK, ∂K/∂θ⟩ (exact: K is linear in each
/// parameter), and central differences through the layer itself.
final class ConvTests: XCTestCase {
    /// Padding as the reference applies it: top, bottom, left, right.
    struct Pads { var t: Int, b: Int, l: Int, r: Int }

    static func pads(_ p: ConvPadding, kernel: [Int], dilation: [Int]) -> Pads {
        switch p {
        case .explicit(let h, let w): return Pads(t: h, b: h, l: w, r: w)
        case .valid: return Pads(t: 0, b: 0, l: 0, r: 0)
        case .same:
            let th = dilation[0] * (kernel[0] - 1), tw = dilation[1] * (kernel[1] - 1)
            return Pads(t: th / 2, b: th - th / 2, l: tw / 2, r: tw - tw / 2)
        }
    }

    /// Plain loops over every output element and kernel tap.
    struct Reference {
        let n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int
        let sh: Int, sw: Int, dh: Int, dw: Int, p: Pads
        var oh: Int { (h + p.t + p.b - dh * (kh - 1) - 1) / sh + 1 }
        var ow: Int { (w + p.l + p.r - dw * (kw - 1) - 1) / sw + 1 }

        /// Calls body(n, o, c, y, x, i, j, input row, input column) for every valid tap.
        func taps(_ body: (Int, Int, Int, Int, Int, Int, Int, Int, Int) -> Void) {
            for b in 0..<n { for oc in 0..<o { for y in 0..<oh { for x in 0..<ow {
                for ic in 0..<c { for i in 0..<kh { for j in 0..<kw {
                    let hh = y * sh - p.t + i * dh, ww = x * sw - p.l + j * dw
                    if hh < 0 || hh >= h || ww < 0 || ww >= w { continue }
                    body(b, oc, ic, y, x, i, j, hh, ww)
                } } }
            } } } }
        }
        func xi(_ b: Int, _ ic: Int, _ hh: Int, _ ww: Int) -> Int { ((b * c + ic) * h + hh) * w + ww }
        func yi(_ b: Int, _ oc: Int, _ y: Int, _ x: Int) -> Int { ((b * o + oc) * oh + y) * ow + x }
        func ki(_ oc: Int, _ ic: Int, _ i: Int, _ j: Int) -> Int { ((oc * c + ic) * kh + i) * kw + j }

        func forward(_ xv: [Double], _ k: [Double], _ bias: [Double]?) -> [Double] {
            var y = [Double](repeating: 0, count: n * o * oh * ow)
            taps { b, oc, ic, yy, xx, i, j, hh, ww in y[yi(b, oc, yy, xx)] += k[ki(oc, ic, i, j)] * xv[xi(b, ic, hh, ww)] }
            if let bias { for b in 0..<n { for oc in 0..<o { for s in 0..<(oh * ow) { y[(b * o + oc) * oh * ow + s] += bias[oc] } } } }
            return y
        }
        func inputGradient(_ dy: [Double], _ k: [Double]) -> [Double] {
            var dx = [Double](repeating: 0, count: n * c * h * w)
            taps { b, oc, ic, yy, xx, i, j, hh, ww in dx[xi(b, ic, hh, ww)] += k[ki(oc, ic, i, j)] * dy[yi(b, oc, yy, xx)] }
            return dx
        }
        func kernelGradient(_ dy: [Double], _ xv: [Double]) -> [Double] {
            var dk = [Double](repeating: 0, count: o * c * kh * kw)
            taps { b, oc, ic, yy, xx, i, j, hh, ww in dk[ki(oc, ic, i, j)] += xv[xi(b, ic, hh, ww)] * dy[yi(b, oc, yy, xx)] }
            return dk
        }
    }

    /// K (O, C, kh, kw) from parameter values by the reference einsum of `equation`.
    static func referenceKernel(_ equation: String, _ values: [[Double]], _ shapes: [[Int]]) throws -> [Double] {
        let e = try EinsumParser.parse(equation, ndims: shapes.map(\.count))
        return referenceEinsum(e, values, shapes).values
    }

    /// The kernel equation of each layer kind, written here from the definitions.
    static func kernelEquation(_ layer: ConvLayer<Double>) -> String {
        switch layer {
        case let l as CPConv2d<Double>:
            let o = "ABCD".prefix(l.outputModes.count), c = "EFGH".prefix(l.inputModes.count)
            let terms = ["r"] + (o + c).map { "\($0)r" } + ["ur", "vr"]
            return terms.joined(separator: ",") + "->" + o + c + "uv"
        case is TuckerConv2d<Double>:
            return "pquv,Op,Iq->OIuv"
        case let l as TTConv2d<Double>:
            let d = l.inputModes.count
            let bonds = Array("pqrst"), ins = Array("ABCD"), outs = Array("EFGH")
            let cores = (0..<d).map { String([bonds[$0], ins[$0], outs[$0], bonds[$0 + 1]]) }
            return (["uvp"] + cores).joined(separator: ",") + "->" + String(outs.prefix(d)) + String(ins.prefix(d)) + "uv"
        default:
            return "OIuv->OIuv"
        }
    }

    static func parameterValues(_ layer: ConvLayer<Double>) -> [[Double]] {
        layer.parameterShapes.indices.map { Array(layer.parameter($0)) }
    }

    static func view(_ a: inout [Double], _ shape: [Int]) -> StridedView<Double> {
        a.withUnsafeMutableBufferPointer { StridedView(contiguous: $0.baseAddress!, shape: shape) }
    }

    /// Output, dx, every parameter gradient and the bias gradient against the references.
    func check(_ layer: ConvLayer<Double>, input: [Int], padding: ConvPadding, seed: UInt64,
               file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = TestRandom(state: seed)
        // Random parameters of order one (the default init is fine too, but larger values
        // make relative errors more telling), and a random bias.
        for i in layer.parameterShapes.indices {
            let p = layer.parameter(i)
            for k in 0..<p.count { p[k] = rng.next() }
        }
        if let b = layer.biasValues { for k in 0..<b.count { b[k] = rng.next() } }
        let values = ConvTests.parameterValues(layer)
        let equation = ConvTests.kernelEquation(layer)
        let k = try ConvTests.referenceKernel(equation, values, layer.parameterShapes)
        XCTAssertLessThanOrEqual(maxRelativeError(try layer.denseKernel(), k), 1e-12, "dense kernel", file: file, line: line)

        let r = Reference(n: input[0], c: input[1], h: input[2], w: input[3], o: layer.outChannels, kh: layer.kernelSize[0],
                          kw: layer.kernelSize[1], sh: layer.stride[0], sw: layer.stride[1], dh: layer.dilation[0],
                          dw: layer.dilation[1], p: ConvTests.pads(padding, kernel: layer.kernelSize, dilation: layer.dilation))
        let yShape = [r.n, r.o, r.oh, r.ow]
        XCTAssertEqual(try layer.outputShape(forInput: input), yShape, file: file, line: line)
        var x = rng.array(input.reduce(1, *))
        var dy = rng.array(yShape.reduce(1, *))
        let bias = layer.biasValues.map { Array($0) }
        let yRef = r.forward(x, k, bias)
        let dxRef = r.inputGradient(dy, k)
        let dkRef = r.kernelGradient(dy, x)
        // dθ = ⟨dK, ∂K/∂θ⟩, and ∂K/∂θ_e is K with θ replaced by the unit vector e.
        var gradRefs: [[Double]] = []
        for i in values.indices {
            var g = [Double](repeating: 0, count: values[i].count)
            for e in 0..<values[i].count {
                var v = values
                v[i] = [Double](repeating: 0, count: values[i].count)
                v[i][e] = 1
                let part = try ConvTests.referenceKernel(equation, v, layer.parameterShapes)
                g[e] = zip(part, dkRef).reduce(0) { $0 + $1.0 * $1.1 }
            }
            gradRefs.append(g)
        }
        let choices: [ConvPathChoice] = layer.factorizedStages == nil ? [.rebuilt] : [.factorized, .rebuilt]
        for choice in choices {
            layer.forcedChoice = choice
            var y = [Double](repeating: .nan, count: yRef.count)
            var dx = [Double](repeating: .nan, count: x.count)
            try layer.forward(ConvTests.view(&x, input), into: ConvTests.view(&y, yShape))
            XCTAssertLessThanOrEqual(maxRelativeError(y, yRef), 1e-9, "\(choice) y", file: file, line: line)
            try layer.backward(ConvTests.view(&dy, yShape), input: ConvTests.view(&x, input), inputGradient: ConvTests.view(&dx, input))
            XCTAssertLessThanOrEqual(maxRelativeError(dx, dxRef), 1e-9, "\(choice) dx", file: file, line: line)
            for i in values.indices {
                XCTAssertLessThanOrEqual(maxRelativeError(Array(layer.gradient(i)), gradRefs[i]), 1e-9,
                                         "\(choice) d\(layer.parameterNames[i])", file: file, line: line)
            }
            if let db = layer.biasGradientValues {
                var dbRef = [Double](repeating: 0, count: r.o)
                for b in 0..<r.n { for oc in 0..<r.o { for s in 0..<(r.oh * r.ow) { dbRef[oc] += dy[(b * r.o + oc) * r.oh * r.ow + s] } } }
                XCTAssertLessThanOrEqual(maxRelativeError(Array(db), dbRef), 1e-12, "\(choice) dbias", file: file, line: line)
            }
            // Without dx: the parameter gradients are the same.
            let before = values.indices.map { Array(layer.gradient($0)) }
            try layer.backward(ConvTests.view(&dy, yShape), input: ConvTests.view(&x, input), inputGradient: nil)
            for i in values.indices { XCTAssertEqual(Array(layer.gradient(i)), before[i], file: file, line: line) }
        }
        layer.forcedChoice = nil
    }

    func testDenseConv() throws {
        try check(Conv2d<Double>(inChannels: 3, outChannels: 4, kernelSize: [3, 2], stride: [2, 1], padding: .explicit(1, 0),
                                 dilation: [1, 2]), input: [2, 3, 7, 6], padding: .explicit(1, 0), seed: 1)
        try check(Conv2d<Double>(inChannels: 2, outChannels: 3, kernelSize: [4, 3], padding: .same, dilation: [1, 2], bias: false),
                  input: [1, 2, 5, 9], padding: .same, seed: 2)
        try check(Conv2d<Double>(inChannels: 5, outChannels: 2, kernelSize: [1, 1]), input: [3, 5, 4, 3], padding: .explicit(0, 0), seed: 3)
        try check(Conv2d<Double>(inChannels: 2, outChannels: 3, kernelSize: [3, 3], stride: [2, 2], padding: .valid),
                  input: [2, 2, 7, 8], padding: .valid, seed: 4)
    }

    func testCPConv() throws {
        try check(CPConv2d<Double>(inputModes: [2, 3], outputModes: [2, 2], kernelSize: [3, 3], rank: 3, padding: .same,
                                   dilation: [2, 1]), input: [2, 6, 7, 5], padding: .same, seed: 5)
        try check(CPConv2d<Double>(inChannels: 3, outChannels: 2, kernelSize: [2, 3], rank: 1, stride: [2, 2], padding: .valid),
                  input: [1, 3, 7, 9], padding: .valid, seed: 6)
        try check(CPConv2d<Double>(inChannels: 4, outChannels: 5, kernelSize: [3, 1], rank: 4, stride: [1, 2],
                                   padding: .explicit(2, 1), dilation: [2, 2], bias: false),
                  input: [3, 4, 5, 6], padding: .explicit(2, 1), seed: 7)
    }

    func testTuckerConv() throws {
        try check(TuckerConv2d<Double>(inChannels: 5, outChannels: 4, kernelSize: [3, 3], ranks: [2, 3], stride: [2, 2],
                                       padding: .explicit(1, 1)), input: [2, 5, 7, 6], padding: .explicit(1, 1), seed: 8)
        try check(TuckerConv2d<Double>(inChannels: 3, outChannels: 2, kernelSize: [2, 2], rank: 1, padding: .same, dilation: [2, 1],
                                       bias: false), input: [1, 3, 5, 5], padding: .same, seed: 9)
    }

    func testTTConv() throws {
        try check(TTConv2d<Double>(inputModes: [2, 2], outputModes: [3, 2], kernelSize: [2, 3], ranks: [2, 3], stride: [1, 2],
                                   padding: .explicit(0, 1), dilation: [2, 1]), input: [2, 4, 6, 7], padding: .explicit(0, 1), seed: 10)
        try check(TTConv2d<Double>(inputModes: [3], outputModes: [2], kernelSize: [3, 3], rank: 1, padding: .same, bias: false),
                  input: [1, 3, 5, 4], padding: .same, seed: 11)
        try check(TTConv2d<Double>(inputModes: [2, 1, 2], outputModes: [1, 2, 2], kernelSize: [3, 2], ranks: [3, 2, 2],
                                   stride: [2, 1], padding: .valid), input: [2, 4, 7, 5], padding: .valid, seed: 12)
    }

    /// Shapes large enough that images are split over the workers (per-worker im2col scratch
    /// and partial kernel gradients), with 3 workers.
    func testParallelImages() throws {
        let previous = ThreadSettings.setThreads(3)
        defer { ThreadSettings.setThreads(previous) }
        try check(Conv2d<Double>(inChannels: 8, outChannels: 8, kernelSize: [3, 3], stride: [1, 2], padding: .explicit(1, 1)),
                  input: [5, 8, 16, 17], padding: .explicit(1, 1), seed: 13)
        try check(CPConv2d<Double>(inChannels: 8, outChannels: 6, kernelSize: [3, 3], rank: 3, padding: .same),
                  input: [4, 8, 17, 16], padding: .same, seed: 14)
        try check(TTConv2d<Double>(inputModes: [2, 4], outputModes: [4, 4], kernelSize: [3, 3], ranks: [3, 2],
                                   padding: .explicit(1, 1)), input: [3, 8, 15, 16], padding: .explicit(1, 1), seed: 15)
    }

    /// Central differences of L = Σ y · dy through the layer itself, for every parameter
    /// element and some input elements (float64; L is linear in each, so the difference is
    /// exact up to rounding).
    func testFiniteDifferences() throws {
        let layer = try CPConv2d<Double>(inChannels: 3, outChannels: 2, kernelSize: [3, 2], rank: 2, stride: [2, 1],
                                         padding: .explicit(1, 1), dilation: [1, 2])
        var rng = TestRandom(state: 21)
        let input = [2, 3, 6, 5]
        var x = rng.array(input.reduce(1, *))
        let yShape = try layer.outputShape(forInput: input)
        var dy = rng.array(yShape.reduce(1, *))
        let loss = { () throws -> Double in
            var y = [Double](repeating: 0, count: dy.count)
            try layer.forward(ConvTests.view(&x, input), into: ConvTests.view(&y, yShape))
            return zip(y, dy).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var dx = [Double](repeating: 0, count: x.count)
        try layer.backward(ConvTests.view(&dy, yShape), input: ConvTests.view(&x, input), inputGradient: ConvTests.view(&dx, input))
        let h = 1e-3
        for i in layer.parameterShapes.indices {
            let p = layer.parameter(i), g = Array(layer.gradient(i))
            for e in 0..<p.count {
                let v = p[e]
                p[e] = v + h; let up = try loss()
                p[e] = v - h; let down = try loss()
                p[e] = v
                XCTAssertEqual((up - down) / (2 * h), g[e], accuracy: 1e-7 * Swift.max(1, abs(g[e])), "\(layer.parameterNames[i])[\(e)]")
            }
        }
        for e in stride(from: 0, to: x.count, by: 7) {
            let v = x[e]
            x[e] = v + h; let up = try loss()
            x[e] = v - h; let down = try loss()
            x[e] = v
            XCTAssertEqual((up - down) / (2 * h), dx[e], accuracy: 1e-8 * Swift.max(1, abs(dx[e])), "x[\(e)]")
        }
    }

    /// Strided (non-contiguous) x, y, dy and dx give the same values as contiguous ones.
    func testStridedViews() throws {
        let layer = try TuckerConv2d<Double>(inChannels: 3, outChannels: 4, kernelSize: [3, 3], ranks: [2, 2], padding: .same)
        var rng = TestRandom(state: 31)
        let input = [2, 3, 5, 4]
        var x = rng.array(input.reduce(1, *))
        let yShape = try layer.outputShape(forInput: input)
        var y = [Double](repeating: 0, count: yShape.reduce(1, *))
        var dy = rng.array(y.count)
        var dx = [Double](repeating: 0, count: x.count)
        try layer.forward(ConvTests.view(&x, input), into: ConvTests.view(&y, yShape))
        try layer.backward(ConvTests.view(&dy, yShape), input: ConvTests.view(&x, input), inputGradient: ConvTests.view(&dx, input))
        let grads = layer.parameterShapes.indices.map { Array(layer.gradient($0)) }
        // The same arrays stored with the batch axis last (a transposed layout).
        func transposed(_ a: [Double], _ shape: [Int]) -> [Double] {
            let n = shape[0], rest = a.count / Swift.max(n, 1)
            var t = [Double](repeating: 0, count: a.count)
            for b in 0..<n { for s in 0..<rest { t[s * n + b] = a[b * rest + s] } }
            return t
        }
        func stridedView(_ a: inout [Double], _ shape: [Int]) throws -> StridedView<Double> {
            let inner = StridedView<Double>.contiguousStrides(Array(shape.dropFirst())).map { $0 * shape[0] }
            return try a.withUnsafeMutableBufferPointer { try StridedView(base: $0.baseAddress!, shape: shape, strides: [1] + inner) }
        }
        var xt = transposed(x, input), dyt = transposed(dy, yShape)
        var yt = [Double](repeating: 0, count: y.count), dxt = [Double](repeating: 0, count: x.count)
        try layer.forward(stridedView(&xt, input), into: stridedView(&yt, yShape))
        XCTAssertEqual(yt, transposed(y, yShape))
        try layer.backward(stridedView(&dyt, yShape), input: stridedView(&xt, input), inputGradient: stridedView(&dxt, input))
        XCTAssertEqual(dxt, transposed(dx, input))
        for i in grads.indices { XCTAssertLessThanOrEqual(maxRelativeError(Array(layer.gradient(i)), grads[i]), 1e-14) }
    }

    /// The default initialisation gives the reconstructed kernel the variance of PyTorch's
    /// dense init, 1 / (3 · C · kh · kw), for every kind.
    func testInitialVariance() throws {
        // Averaged over seeds: products of Gaussian factors are heavy-tailed.
        let makers: [(UInt64) throws -> ConvLayer<Double>] = [
            { try Conv2d(inChannels: 32, outChannels: 64, kernelSize: [3, 3], seed: $0) },
            { try CPConv2d(inputModes: [4, 8], outputModes: [8, 8], kernelSize: [3, 3], rank: 16, seed: $0) },
            { try TuckerConv2d(inChannels: 32, outChannels: 64, kernelSize: [3, 3], ranks: [16, 8], seed: $0) },
            { try TTConv2d(inputModes: [4, 8], outputModes: [8, 8], kernelSize: [3, 3], ranks: [4, 6], seed: $0) },
        ]
        for make in makers {
            var variance = 0.0
            let seeds: [UInt64] = Array(1...16)
            for seed in seeds {
                let k = try make(seed).denseKernel()
                variance += k.reduce(0) { $0 + $1 * $1 } / Double(k.count) / Double(seeds.count)
            }
            let target = 1 / (3.0 * 32 * 9)
            let name = String(describing: type(of: try make(0)))
            XCTAssertEqual(variance / target, 1, accuracy: 0.25, name)
        }
    }

    /// from_dense: an exact low-rank kernel is recovered, eps is honoured, and stride,
    /// padding and dilation are kept.
    func testFromDense() throws {
        var rng = TestRandom(state: 41)
        // A CP-rank-2 kernel (4, 6, 3, 3) with channel modes (2, 2) and (2, 3).
        let source = try CPConv2d<Double>(inputModes: [2, 3], outputModes: [2, 2], kernelSize: [3, 3], rank: 2)
        for i in source.parameterShapes.indices { let p = source.parameter(i); for e in 0..<p.count { p[e] = rng.next() } }
        let kernel = try source.denseKernel(), shape = [4, 6, 3, 3]
        let bias = rng.array(4)
        let cp = try CPConv2d<Double>.fromDense(kernel: kernel, shape: shape, bias: bias, inputModes: [2, 3], outputModes: [2, 2],
                                                rank: 2, stride: [2, 1], padding: .explicit(1, 0), dilation: [1, 2])
        XCTAssertLessThanOrEqual(maxRelativeError(try cp.denseKernel(), kernel), 1e-8)
        XCTAssertEqual(cp.stride, [2, 1])
        XCTAssertEqual(cp.padding, .explicit(1, 0))
        XCTAssertEqual(cp.dilation, [1, 2])
        XCTAssertEqual(Array(cp.biasValues!), bias)
        let byEps = try CPConv2d<Double>.fromDense(kernel: kernel, shape: shape, eps: 1e-6)
        XCTAssertLessThanOrEqual(byEps.rank, 2)
        XCTAssertLessThanOrEqual(maxRelativeError(try byEps.denseKernel(), kernel), 1e-5)

        let random = rng.array(4 * 6 * 3 * 3)
        let norm = random.reduce(0) { $0 + $1 * $1 }.squareRoot()
        func relError(_ k: [Double]) -> Double { zip(k, random).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() / norm }
        let tucker = try TuckerConv2d<Double>.fromDense(kernel: random, shape: shape, eps: 0.3, padding: .explicit(1, 2))
        XCTAssertLessThanOrEqual(relError(try tucker.denseKernel()), 0.3)
        XCTAssertEqual(tucker.padding, .explicit(1, 2))
        let full = try TuckerConv2d<Double>.fromDense(kernel: random, shape: shape, ranks: [4, 6])
        XCTAssertLessThanOrEqual(relError(try full.denseKernel()), 1e-12)
        let tt = try TTConv2d<Double>.fromDense(kernel: random, shape: shape, inputModes: [2, 3], outputModes: [2, 2], eps: 0.25)
        XCTAssertLessThanOrEqual(relError(try tt.denseKernel()), 0.25)
        let ttFull = try TTConv2d<Double>.fromDense(kernel: random, shape: shape, inputModes: [2, 3], outputModes: [2, 2], rank: 64)
        XCTAssertLessThanOrEqual(relError(try ttFull.denseKernel()), 1e-12)
        let dense = try Conv2d<Double>(kernel: random, shape: shape, stride: [1, 2])
        XCTAssertEqual(try dense.denseKernel(), random)
    }

    func testBadInputs() throws {
        func expect(_ kind: String, _ body: () throws -> Void, line: UInt = #line) {
            do {
                try body()
                XCTFail("no error", line: line)
            } catch let e as TNError {
                let got: String
                switch e {
                case .shape: got = "shape"
                case .value: got = "value"
                case .memory: got = "memory"
                default: got = "\(e)"
                }
                XCTAssertEqual(got, kind, e.message, line: line)
                XCTAssertFalse(e.message.isEmpty, line: line)
            } catch {
                XCTFail("\(error)", line: line)
            }
        }
        expect("value") { _ = try Conv2d<Double>(inChannels: 3, outChannels: 4, kernelSize: [3, 3], stride: [0, 1]) }
        expect("value") { _ = try Conv2d<Double>(inChannels: 3, outChannels: 4, kernelSize: [3, 3], dilation: [1, -1]) }
        expect("value") { _ = try Conv2d<Double>(inChannels: 3, outChannels: 4, kernelSize: [0, 3]) }
        expect("value") { _ = try Conv2d<Double>(inChannels: 0, outChannels: 4, kernelSize: [3, 3]) }
        expect("value") { _ = try Conv2d<Double>(inChannels: 3, outChannels: 4, kernelSize: [3, 3], padding: .explicit(-1, 0)) }
        expect("value") { _ = try Conv2d<Double>(inChannels: 3, outChannels: 4, kernelSize: [3, 3], stride: [2, 2], padding: .same) }
        expect("value") { _ = try CPConv2d<Double>(inChannels: 3, outChannels: 4, kernelSize: [3, 3], rank: 0) }
        expect("value") { _ = try TuckerConv2d<Double>(inChannels: 3, outChannels: 4, kernelSize: [3, 3], ranks: [5, 1]) }
        expect("shape") { _ = try TTConv2d<Double>(inputModes: [2, 2], outputModes: [4], kernelSize: [3, 3], rank: 2) }
        expect("value") { _ = try TTConv2d<Double>(inputModes: [2, 2], outputModes: [2, 2], kernelSize: [3, 3], ranks: [2, 0]) }
        expect("memory") { _ = try Conv2d<Double>(inChannels: 1 << 40, outChannels: 1 << 40, kernelSize: [3, 3]) }
        expect("memory") { _ = try CPConv2d<Double>(inputModes: [1 << 32, 1 << 32], outputModes: [2], kernelSize: [1, 1], rank: 1) }

        let layer = try CPConv2d<Double>(inChannels: 3, outChannels: 2, kernelSize: [3, 3], rank: 2)
        var x = [Double](repeating: 1, count: 2 * 4 * 5 * 5), y = [Double](repeating: 0, count: 2 * 2 * 3 * 3)
        expect("shape") { try layer.forward(ConvTests.view(&x, [2, 4, 5, 5]), into: ConvTests.view(&y, [2, 2, 3, 3])) }
        expect("shape") { try layer.forward(ConvTests.view(&x, [2, 3, 2, 5]), into: ConvTests.view(&y, [2, 2, 0, 3])) }
        expect("shape") { try layer.forward(ConvTests.view(&x, [2, 3, 5, 5]), into: ConvTests.view(&y, [2, 2, 3, 2])) }
        expect("shape") { try layer.forward(ConvTests.view(&x, [6, 5, 5]), into: ConvTests.view(&y, [2, 2, 3, 3])) }
        expect("memory") {
            try layer.forward(StridedView(base: &x, shape: [1 << 40, 3, 1 << 20, 5], strides: [0, 0, 0, 0]),
                              into: ConvTests.view(&y, [2, 2, 3, 3]))
        }
        var dy = [Double](repeating: 0, count: y.count)
        dy[3] = .nan
        expect("value") {
            try layer.backward(ConvTests.view(&dy, [2, 2, 3, 3]), input: ConvTests.view(&x, [2, 3, 5, 5]), inputGradient: nil)
        }
        dy[3] = 0
        expect("shape") {
            try layer.backward(ConvTests.view(&dy, [2, 2, 3, 3]), input: ConvTests.view(&x, [2, 3, 5, 5]),
                               inputGradient: ConvTests.view(&x, [2, 3, 5, 4]))
        }
        let kernel = [Double](repeating: 1, count: 2 * 3 * 9)
        expect("shape") { _ = try CPConv2d<Double>.fromDense(kernel: kernel, shape: [2, 3, 3, 2], rank: 1) }
        expect("shape") { _ = try CPConv2d<Double>.fromDense(kernel: kernel, shape: [2, 3, 3, 3], inputModes: [2, 2], rank: 1) }
        expect("value") { _ = try CPConv2d<Double>.fromDense(kernel: kernel, shape: [2, 3, 3, 3]) }
        expect("value") { _ = try CPConv2d<Double>.fromDense(kernel: kernel, shape: [2, 3, 3, 3], rank: 2, eps: 0.1) }
        expect("shape") { _ = try TuckerConv2d<Double>.fromDense(kernel: kernel, shape: [2, 3, 3, 3], bias: [1], rank: 1) }
        var bad = kernel
        bad[5] = .infinity
        expect("value") { _ = try TTConv2d<Double>.fromDense(kernel: bad, shape: [2, 3, 3, 3], rank: 1) }
    }

    /// The cost estimate picks the factorized path for a low rank on a large image and the
    /// dense kernel for the seed's rank-100 CP convolution.
    func testPathChoice() throws {
        let low = try CPConv2d<Double>(inChannels: 64, outChannels: 64, kernelSize: [3, 3], rank: 4)
        XCTAssertTrue(try low.runsFactorized(inputShape: [8, 64, 32, 32]))
        let seed = try CPConv2d<Double>(inputModes: [4, 4], outputModes: [4, 8], kernelSize: [3, 3], rank: 100, padding: .same)
        XCTAssertFalse(try seed.runsFactorized(inputShape: [1, 16, 32, 32]))
        XCTAssertFalse(try Conv2d<Double>(inChannels: 3, outChannels: 3, kernelSize: [3, 3]).runsFactorized(inputShape: [1, 3, 8, 8]))
    }

    /// Float32 agrees with float64 on the same parameters.
    func testFloat32() throws {
        let l64 = try TTConv2d<Double>(inputModes: [2, 4], outputModes: [4, 2], kernelSize: [3, 3], rank: 3, stride: [2, 2],
                                       padding: .explicit(1, 1), seed: 3)
        let l32 = try TTConv2d<Float>(inputModes: [2, 4], outputModes: [4, 2], kernelSize: [3, 3], rank: 3, stride: [2, 2],
                                      padding: .explicit(1, 1), seed: 3)
        var rng = TestRandom(state: 51)
        let input = [2, 8, 9, 9]
        var x = rng.array(input.reduce(1, *))
        var xf = x.map(Float.init)
        let yShape = try l64.outputShape(forInput: input)
        var y = [Double](repeating: 0, count: yShape.reduce(1, *)), yf = [Float](repeating: 0, count: y.count)
        for choice in [ConvPathChoice.factorized, .rebuilt] {
            l64.forcedChoice = choice
            l32.forcedChoice = choice
            try l64.forward(ConvTests.view(&x, input), into: ConvTests.view(&y, yShape))
            try xf.withUnsafeMutableBufferPointer { px in
                try yf.withUnsafeMutableBufferPointer { py in
                    try l32.forward(StridedView(contiguous: px.baseAddress!, shape: input),
                                    into: StridedView(contiguous: py.baseAddress!, shape: yShape))
                }
            }
            XCTAssertLessThanOrEqual(maxRelativeError(yf.map(Double.init), y), 1e-5)
        }
    }
}
