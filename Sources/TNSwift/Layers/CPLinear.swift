/// A linear layer whose weight, as a tensor of shape (m_1, …, m_d, n_1, …, n_e), is in CP
/// format: W = Σ_r λ_r · U_1[:, r] ∘ … ∘ U_d[:, r] ∘ V_1[:, r] ∘ … ∘ V_e[:, r].
///
/// Parameters, in order: `weights` (rank), then one factor per input mode (m_k × rank), then
/// one per output mode (n_k × rank) — the layout of tltorch's CP linear layer.
public final class CPLinear<T: LAPACKScalar>: EinsumLayer<T> {
    /// The CP rank.
    public let rank: Int

    /// A CP layer with fresh factors (dense-init variance).
    /// - Throws: `TNError.shape` for bad modes; `TNError.value` for a rank below 1.
    public init(inputModes: [Int], outputModes: [Int], rank: Int, bias: Bool = true, seed: UInt64 = 0) throws {
        try LayerLabels.check("CPLinear", inputModes: inputModes, outputModes: outputModes, sameCount: false)
        guard rank >= 1 else { throw TNError.value("the CP rank must be at least 1 (got \(rank))") }
        self.rank = rank
        let r = LayerLabels.bond(17)   // "R"
        let ins = (0..<inputModes.count).map(LayerLabels.input), outs = (0..<outputModes.count).map(LayerLabels.output)
        let operands = [String(LayerLabels.batch) + String(ins), String(r)] + (ins + outs).map { String([$0, r]) }
        try super.init(layerEquation: operands.joined(separator: ",") + "->" + String(LayerLabels.batch) + String(outs),
                       parameterShapes: [[rank]] + (inputModes + outputModes).map { [$0, rank] }, bias: bias)
        parameterNames = ["weights"] + (0..<(inputModes.count + outputModes.count)).map { "factor_\($0)" }
        unitParameters = [0]
        try fillInitial(seed: seed)
    }

    override public var configuration: JSONValue {
        .object([("type", .string("CPLinear")), ("input_modes", .array(inputModes.map { .number(Double($0)) })),
                 ("output_modes", .array(outputModes.map { .number(Double($0)) })),
                 ("rank", .number(Double(rank))), ("bias", .bool(hasBias))])
    }

    /// A CP layer from a dense weight W (in_features × out_features) seen as the tensor
    /// (input modes…, output modes…), by CP-ALS (SVD init): with `rank`; with the largest
    /// rank whose parameters fit `budget`; or with `eps`, the smallest rank (doubling, then
    /// bisecting, up to the rank where CP stores as many values as W) whose relative error
    /// is at most eps. Give exactly one of them.
    /// - Parameters:
    ///   - maxIterations / tolerance: for each CP-ALS run.
    /// - Throws: `TNError.shape` when the modes do not match the weight; `TNError.value` for a
    ///   bad target, a budget below rank 1, an eps no rank up to that bound reaches, or a
    ///   non-finite weight.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func fromDense(weight: Matrix<T>, bias: [T]? = nil, inputModes: [Int], outputModes: [Int],
                                 rank: Int? = nil, eps: Double? = nil, budget: Int? = nil,
                                 maxIterations: Int = 500, tolerance: Double = 1e-12) throws -> CPLinear<T> {
        try LayerLabels.check("CPLinear", inputModes: inputModes, outputModes: outputModes, sameCount: false)
        try LayerLabels.checkTarget("CPLinear", rank: rank != nil, eps: eps, budget: budget)
        try LayerLabels.checkDense("CPLinear", weight: weight, bias: bias, inputModes: inputModes, outputModes: outputModes)
        let shape = inputModes + outputModes
        let perRank = 1 + shape.reduce(0, +)
        let decompose = { (r: Int) throws -> CPTensor<T> in
            try weight.withUnsafeBufferPointer {
                try CPTensor<T>.alternatingLeastSquares($0.baseAddress!, shape: shape, rank: r, initialization: .svd,
                                                        maxIterations: maxIterations, tolerance: tolerance, progress: nil)
            }
        }
        var cp: CPTensor<T>
        if let r = rank {
            guard r >= 1 else { throw TNError.value("the CP rank must be at least 1 (got \(r))") }
            cp = try decompose(r)
        } else if let budget {
            cp = try decompose(try largestRank(fitting: budget, what: "CPLinear") { $0 * perRank })
        } else {
            let target = eps!
            let norm = weight.withUnsafeBufferPointer { TTKernels.squaredNorm($0) }.squareRoot()
            let error = { (c: CPTensor<T>) throws -> Double in
                let dense = try c.dense()
                var s = 0.0
                weight.withUnsafeBufferPointer { w in for (a, b) in zip(w, dense) { s += Double(a - b) * Double(a - b) } }
                return norm == 0 ? 0 : s.squareRoot() / norm
            }
            let limit = Swift.max(1, weight.count / perRank)
            var lo = 0, hi = 1
            cp = try decompose(1)
            while try error(cp) > target {
                guard hi < limit else {
                    throw TNError.value("CPLinear.fromDense: no CP rank up to \(limit) (as many values as the weight) reaches eps \(target)")
                }
                lo = hi
                hi = Swift.min(hi * 2, limit)
                cp = try decompose(hi)
            }
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                let c = try decompose(mid)
                if try error(c) <= target { hi = mid; cp = c } else { lo = mid }
            }
        }
        let layer = try CPLinear(inputModes: inputModes, outputModes: outputModes, rank: cp.rank, bias: bias != nil)
        layer.load([cp.weights] + cp.factors, bias: bias)
        return layer
    }
}
