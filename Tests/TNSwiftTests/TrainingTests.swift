import XCTest
@testable import TNSwift

/// Activations, losses and optimizers against closed forms, finite differences and PyTorch's
/// update formulas written out step by step.
final class TrainingTests: XCTestCase {
    func testActivationValuesAndDerivatives() throws {
        let x: [Double] = [-3, -1, -0.25, 0.3, 1, 2.5]
        var y = [Double](repeating: 0, count: x.count)
        let expected: [Activation: [Double]] = [
            .relu: [0, 0, 0, 0.3, 1, 2.5],
            .sigmoid: x.map { 1 / (1 + exp(-$0)) },
            .tanh: x.map { Foundation.tanh($0) },
            // 0.5 x (1 + erf(x / √2)) from Python's math.erf
            .gelu: [-0.00404969409489031, -0.15865525393145707, -0.10032341857926907, 0.18537342665668577,
                    0.8413447460685429, 2.4844758366855597],
            .identity: x,
        ]
        for (a, want) in expected {
            a.forward(x, into: &y, count: x.count)
            for (got, w) in zip(y, want) { XCTAssertEqual(got, w, accuracy: 1e-7, "\(a)") }
            // Backward against central differences of forward.
            var dx = [Double](repeating: 0, count: x.count)
            let dy: [Double] = [0.5, -1, 2, 1, 0.25, -0.75]
            a.backward(input: x, gradient: dy, into: &dx, count: x.count)
            for i in x.indices {
                let h = 1e-6
                var up = [0.0], down = [0.0]
                a.forward([x[i] + h], into: &up, count: 1)
                a.forward([x[i] - h], into: &down, count: 1)
                XCTAssertEqual(dx[i], (up[0] - down[0]) / (2 * h) * dy[i], accuracy: 1e-6, "\(a) at \(x[i])")
            }
        }
        XCTAssertEqual(try Activation(name: "GELU"), .gelu)
        XCTAssertThrowsError(try Activation(name: "swish"))
        // Large inputs stay finite.
        var big = [0.0, 0.0]
        Activation.sigmoid.forward([-800.0, 800.0], into: &big, count: 2)
        XCTAssertEqual(big, [0, 1])
    }

    func testSoftmaxCrossEntropyAndItsGradient() throws {
        let logits: [Double] = [2, -1, 0.5, 1000, 999, -5]   // 2 samples × 3 classes
        let labels: [Int32] = [2, 1]
        var g = [Double](repeating: 0, count: 6)
        let loss = try Loss.softmaxCrossEntropy(logits: logits, labels: labels, batch: 2, classes: 3, gradient: &g)
        func ce(_ z: [Double], _ l: Int) -> Double {
            let m = z.max()!
            return log(z.map { exp($0 - m) }.reduce(0, +)) + m - z[l]
        }
        let want = (ce(Array(logits[0..<3]), 2) + ce(Array(logits[3..<6]), 1)) / 2
        XCTAssertEqual(loss, want, accuracy: 1e-12)
        for i in 0..<6 {
            var up = logits, down = logits
            up[i] += 1e-6; down[i] -= 1e-6
            let fd = (try Loss.softmaxCrossEntropy(logits: up, labels: labels, batch: 2, classes: 3, gradient: nil)
                      - (try Loss.softmaxCrossEntropy(logits: down, labels: labels, batch: 2, classes: 3, gradient: nil))) / 2e-6
            XCTAssertEqual(g[i], fd, accuracy: 1e-6)
        }
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: logits, labels: [3, 0], batch: 2, classes: 3, gradient: nil))
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: logits, labels: [-1, 0], batch: 2, classes: 3, gradient: nil))
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: [Double.nan, 0, 0], labels: [0], batch: 1, classes: 3, gradient: nil))
        var mg = [0.0, 0.0]
        XCTAssertEqual(try Loss.meanSquaredError(prediction: [1.0, 3.0], target: [0.0, 1.0], count: 2, gradient: &mg), 2.5)
        XCTAssertEqual(mg, [1, 2])
    }

    private func run(_ rule: OptimizerRule, steps: Int, p0: [Double], grads: [[Double]]) throws -> [Double] {
        let opt = try Optimizer<Double>(rule, sizes: [p0.count])
        var p = p0
        for s in 0..<steps {
            var g = grads[s % grads.count]
            try p.withUnsafeMutableBufferPointer { pb in
                try g.withUnsafeMutableBufferPointer { gb in
                    try opt.step(parameters: [pb], gradients: [UnsafeBufferPointer(gb)])
                }
            }
        }
        return p
    }

    func testSGDMatchesTorchFormulas() throws {
        let p0 = [1.0, -2.0], g = [0.5, 0.25]
        XCTAssertEqual(try run(.sgd(learningRate: 0.1), steps: 1, p0: p0, grads: [g]), [0.95, -2.025])
        // Constant gradient, momentum 0.9: buffers g, 1.9g, 2.71g.
        let m = try run(.sgd(learningRate: 0.1, momentum: 0.9), steps: 3, p0: p0, grads: [g])
        for (got, (p, gi)) in zip(m, zip(p0, g)) { XCTAssertEqual(got, p - 0.1 * (1 + 1.9 + 2.71) * gi, accuracy: 1e-12) }
        // Nesterov: d = g + 0.9 b → 1.9g, 2.71g, 3.439g.
        let n = try run(.sgd(learningRate: 0.1, momentum: 0.9, nesterov: true), steps: 3, p0: p0, grads: [g])
        for (got, (p, gi)) in zip(n, zip(p0, g)) { XCTAssertEqual(got, p - 0.1 * (1.9 + 2.71 + 3.439) * gi, accuracy: 1e-12) }
        // Weight decay adds wd · p to the gradient.
        let wd = try run(.sgd(learningRate: 0.1, weightDecay: 0.5), steps: 1, p0: p0, grads: [g])
        XCTAssertEqual(wd[0], 1 - 0.1 * (0.5 + 0.5), accuracy: 1e-12)
    }

    func testAdamAndAdamWMatchTorchFormulas() throws {
        let p0 = [1.0, -2.0, 0.5]
        let grads = [[0.3, -0.1, 0.0], [0.1, 0.2, -0.4], [-0.2, 0.05, 0.3]]
        for decoupled in [false, true] {
            let (lr, b1, b2, eps, wd) = (0.01, 0.9, 0.999, 1e-8, 0.1)
            var p = p0, m = [0.0, 0, 0], v = [0.0, 0, 0]
            for t in 1...3 {
                for j in 0..<3 {
                    var g = grads[t - 1][j]
                    if decoupled { p[j] *= 1 - lr * wd } else { g += wd * p[j] }
                    m[j] = b1 * m[j] + (1 - b1) * g
                    v[j] = b2 * v[j] + (1 - b2) * g * g
                    let mh = m[j] / (1 - pow(b1, Double(t))), vh = v[j] / (1 - pow(b2, Double(t)))
                    p[j] -= lr * mh / (vh.squareRoot() + eps)
                }
            }
            let rule: OptimizerRule = decoupled
                ? .adamW(learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd)
                : .adam(learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd)
            let got = try run(rule, steps: 3, p0: p0, grads: grads)
            for (a, b) in zip(got, p) { XCTAssertEqual(a, b, accuracy: 1e-9, "decoupled \(decoupled)") }
        }
    }

    func testOptimizerRejectsBadInputWithoutUpdating() throws {
        XCTAssertThrowsError(try Optimizer<Double>(.sgd(learningRate: -1), sizes: [1]))
        XCTAssertThrowsError(try Optimizer<Double>(.sgd(learningRate: 0.1, nesterov: true), sizes: [1]))
        XCTAssertThrowsError(try Optimizer<Double>(.adam(beta1: 1), sizes: [1]))
        XCTAssertThrowsError(try Optimizer<Double>(.adamW(epsilon: 0), sizes: [1]))
        let opt = try Optimizer<Double>(.adam(), sizes: [2, 1])
        var p = [1.0, 2.0], q = [3.0]
        var g = [0.1, .nan], h = [0.2]
        try p.withUnsafeMutableBufferPointer { pb in try q.withUnsafeMutableBufferPointer { qb in
            try g.withUnsafeMutableBufferPointer { gb in try h.withUnsafeMutableBufferPointer { hb in
                XCTAssertThrowsError(try opt.step(parameters: [pb, qb], gradients: [UnsafeBufferPointer(gb), UnsafeBufferPointer(hb)]))
                XCTAssertThrowsError(try opt.step(parameters: [pb], gradients: [UnsafeBufferPointer(gb)]))
                XCTAssertThrowsError(try opt.step(parameters: [qb, pb], gradients: [UnsafeBufferPointer(hb), UnsafeBufferPointer(gb)]))
            } }
        } }
        XCTAssertEqual(p, [1, 2])
        XCTAssertEqual(q, [3])
        XCTAssertEqual(opt.steps, 0)
        try opt.setLearningRate(0.5)
        XCTAssertEqual(opt.learningRate, 0.5)
        XCTAssertThrowsError(try opt.setLearningRate(.nan))
    }

    /// A TT layer, ReLU and a dense layer trained with Adam on a linear teacher: the loss falls.
    func testSmallNetworkLearns() throws {
        var rng = TestRandom(state: 5)
        let (n, i, h, o) = (64, 16, 8, 2)
        let teacher = rng.array(i * o)
        var x = rng.array(n * i)
        var target = [Double](repeating: 0, count: n * o)
        for r in 0..<n { for c in 0..<o { for k in 0..<i { target[r * o + c] += x[r * i + k] * teacher[k * o + c] } } }
        let first = try TTLinear<Double>(inputModes: [4, 4], outputModes: [2, 4], rank: 3, seed: 1)
        let second = try Linear<Double>(inFeatures: h, outFeatures: o, seed: 2)
        let layers: [EinsumLayer<Double>] = [first, second]
        let sizes = layers.flatMap { l in (0..<l.parameterShapes.count).map { l.parameter($0).count } + [l.outFeatures] }
        let opt = try Optimizer<Double>(.adam(learningRate: 0.02), sizes: sizes)
        var hidden = [Double](repeating: 0, count: n * h), act = hidden, out = [Double](repeating: 0, count: n * o)
        var dOut = out, dAct = hidden, dHidden = hidden
        var losses: [Double] = []
        for _ in 0..<300 {
            try x.withUnsafeMutableBufferPointer { px in
                try hidden.withUnsafeMutableBufferPointer { ph in try act.withUnsafeMutableBufferPointer { pa in
                    try out.withUnsafeMutableBufferPointer { po in try dOut.withUnsafeMutableBufferPointer { pdo in
                        try dAct.withUnsafeMutableBufferPointer { pda in try dHidden.withUnsafeMutableBufferPointer { pdh in
                            let xv = StridedView(contiguous: px.baseAddress!, shape: [n, i])
                            let hv = StridedView(contiguous: ph.baseAddress!, shape: [n, h])
                            let av = StridedView(contiguous: pa.baseAddress!, shape: [n, h])
                            let ov = StridedView(contiguous: po.baseAddress!, shape: [n, o])
                            try first.forward(xv, into: hv)
                            Activation.relu.forward(ph.baseAddress!, into: pa.baseAddress!, count: n * h)
                            try second.forward(av, into: ov)
                            losses.append(try Loss.meanSquaredError(prediction: po.baseAddress!, target: target, count: n * o,
                                                                    gradient: pdo.baseAddress!))
                            try second.backward(StridedView(contiguous: pdo.baseAddress!, shape: [n, o]), input: av,
                                                inputGradient: StridedView(contiguous: pda.baseAddress!, shape: [n, h]))
                            Activation.relu.backward(input: ph.baseAddress!, gradient: pda.baseAddress!, into: pdh.baseAddress!, count: n * h)
                            try first.backward(StridedView(contiguous: pdh.baseAddress!, shape: [n, h]), input: xv, inputGradient: nil)
                        } }
                    } }
                } }
            }
            let params = layers.flatMap { l in (0..<l.parameterShapes.count).map { l.parameter($0) } + [l.biasValues!] }
            let grads = layers.flatMap { l in (0..<l.parameterShapes.count).map { UnsafeBufferPointer(l.gradient($0)) } + [UnsafeBufferPointer(l.biasGradientValues!)] }
            try opt.step(parameters: params, gradients: grads)
        }
        XCTAssertLessThan(losses.last!, losses.first! / 20, "loss \(losses.first!) → \(losses.last!)")
    }
}
