@testable import TNSwift

/// A loop-based einsum in Double over contiguous arrays: the independent reference for tests.
func referenceEinsum(_ e: EinsumExpression, _ operands: [[Double]], _ shapes: [[Int]]) -> (values: [Double], shape: [Int]) {
    var sizes = [Int](repeating: 1, count: e.labelCount)
    for (labels, shape) in zip(e.inputs, shapes) { for (l, s) in zip(labels, shape) where s != 1 { sizes[l] = s } }
    let all = Array(Set(e.inputs.joined())).sorted()
    let outShape = e.output.map { sizes[$0] }
    var out = [Double](repeating: 0, count: outShape.reduce(1, *))
    if all.contains(where: { sizes[$0] == 0 }) { return (out, outShape) }
    let stridesOf = { (shape: [Int]) in StridedView<Double>.contiguousStrides(shape) }
    var idx = [Int](repeating: 0, count: e.labelCount)
    func visit(_ k: Int) {
        if k == all.count {
            var p = 1.0
            for (i, (labels, shape)) in zip(e.inputs, shapes).enumerated() {
                let st = stridesOf(shape)
                var off = 0
                for (d, l) in labels.enumerated() where shape[d] != 1 { off += idx[l] * st[d] }
                p *= operands[i][off]
            }
            let ost = stridesOf(outShape)
            var o = 0
            for (d, l) in e.output.enumerated() { o += idx[l] * ost[d] }
            out[o] += p
            return
        }
        for v in 0..<sizes[all[k]] { idx[all[k]] = v; visit(k + 1) }
    }
    visit(0)
    return (out, outShape)
}

/// Deterministic pseudo-random values in [-1, 1).
struct TestRandom {
    var state: UInt64
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53) * 2 - 1
    }
    mutating func array(_ n: Int) -> [Double] { (0..<n).map { _ in next() } }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        _ = next()
        return range.lowerBound + Int(state >> 33) % range.count
    }
}

/// Runs a plan over contiguous Double arrays and returns the output.
func runPlan(_ plan: ContractionPlan<Double>, _ operands: [[Double]]) throws -> [Double] {
    var ops = operands
    var out = [Double](repeating: .nan, count: plan.outputShape.reduce(1, *))
    try ops.withUnsafeMutableBufferPointers { bases in
        let views = zip(bases, plan.shapes).map { StridedView(contiguous: $0.0, shape: $0.1) }
        try out.withUnsafeMutableBufferPointer { o in
            try plan.execute(views, into: StridedView(contiguous: o.baseAddress!, shape: plan.outputShape))
        }
    }
    return out
}

extension Array where Element == [Double] {
    /// Calls `body` with stable base pointers of copies of every inner array, then copies back.
    mutating func withUnsafeMutableBufferPointers<R>(_ body: ([UnsafeMutablePointer<Double>]) throws -> R) rethrows -> R {
        let pointers = map { a -> UnsafeMutablePointer<Double> in
            let p = UnsafeMutablePointer<Double>.allocate(capacity: Swift.max(1, a.count))
            p.initialize(from: a, count: a.count)
            return p
        }
        defer {
            for (k, p) in pointers.enumerated() {
                self[k] = [Double](UnsafeBufferPointer(start: p, count: self[k].count))
                p.deallocate()
            }
        }
        return try body(pointers)
    }
}

func maxRelativeError(_ a: [Double], _ b: [Double]) -> Double {
    let scale = Swift.max(b.map(abs).max() ?? 0, 1e-300)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}
