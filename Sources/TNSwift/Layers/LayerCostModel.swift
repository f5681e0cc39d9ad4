/// The estimate a layer uses to choose between the FLOP-optimal path and rebuilding the
/// weight first, for its batch size.
///
/// FLOPs alone favour paths of many thin GEMMs whose intermediates are larger than the
/// weight (W5a: a 4^5 → 4^5 TT layer at batch 256 has a path at half the dense FLOPs that
/// runs slower than the dense GEMM). Each pairwise step, seen as a (batched) GEMM
/// m × k · k × n, is charged
///
///     2 · batch · m · n · k / (g(m) · g(n) · g(k))  +  64 · (|A| + |B| + |C|)
///
/// with g(s) = s / (s + 8) for GEMM efficiency on a thin dimension and 64 FLOP-equivalents per
/// element read or written (a sustained GEMM rate over memory bandwidth, in elements, on
/// current CPUs). The constants only need to rank the two candidates correctly.
enum LayerCostModel {
    static let elementCost = 64.0
    static let thinness = 8.0

    static func cost(_ path: ContractionPath, sizes: [Double]) -> Double {
        if path.isDirect { return path.naiveFlops }
        var total = 0.0
        for (s, (a, b)) in path.steps.enumerated() {
            let x = path.nodeLabels[a], y = path.nodeLabels[b], z = path.nodeLabels[path.operandCount + s]
            let shared = x.intersection(y)
            let batch = shared.intersection(z).size(sizes)
            let k = shared.subtracting(z).size(sizes)
            let m = x.subtracting(y).size(sizes), n = y.subtracting(x).size(sizes)
            let g = { (v: Double) in v / (v + thinness) }
            let flops = 2 * batch * m * n * k / Swift.max(g(m) * g(n) * g(k), 1e-3)
            total += flops + elementCost * (x.size(sizes) + y.size(sizes) + z.size(sizes))
        }
        return total
    }
}
