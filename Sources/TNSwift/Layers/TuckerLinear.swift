/// A linear layer whose weight, as a tensor of shape (m_1, …, m_d, n_1, …, n_e), is in Tucker
/// format: a core of shape `ranks` times one factor per mode.
///
/// Parameters, in order: `core`, then one factor per input mode (m_k × r_k), then one per
/// output mode (n_k × r_{d+k}).
public final class TuckerLinear<T: LAPACKScalar>: EinsumLayer<T> {
    /// The core's shape, one rank per mode (input modes first).
    public let ranks: [Int]

    /// A Tucker layer with fresh parameters (dense-init variance).
    /// - Parameter ranks: one per mode (input modes, then output modes), 1 ≤ r_k ≤ mode size.
    /// - Throws: `TNError.shape` for bad modes or a rank list of the wrong length;
    ///   `TNError.value` for a rank outside its bounds.
    public init(inputModes: [Int], outputModes: [Int], ranks: [Int], bias: Bool = true, seed: UInt64 = 0) throws {
        try LayerLabels.check("TuckerLinear", inputModes: inputModes, outputModes: outputModes, sameCount: false)
        let modes = inputModes + outputModes
        guard ranks.count == modes.count else {
            throw TNError.shape("TuckerLinear with \(modes.count) modes needs \(modes.count) ranks (got \(ranks.count))")
        }
        for (r, m) in zip(ranks, modes) where r < 1 || r > m {
            throw TNError.value("Tucker ranks must be between 1 and their mode's size (ranks \(ranks), modes \(modes))")
        }
        self.ranks = ranks
        let letters = (0..<inputModes.count).map(LayerLabels.input) + (0..<outputModes.count).map(LayerLabels.output)
        let bonds = modes.indices.map(LayerLabels.bond)
        let operands = [String(LayerLabels.batch) + String(letters.prefix(inputModes.count)), String(bonds)]
            + modes.indices.map { String([letters[$0], bonds[$0]]) }
        try super.init(layerEquation: operands.joined(separator: ",") + "->" + String(LayerLabels.batch) + String(letters.suffix(outputModes.count)),
                       parameterShapes: [ranks] + modes.indices.map { [modes[$0], ranks[$0]] }, bias: bias)
        parameterNames = ["core"] + modes.indices.map { "factor_\($0)" }
        try fillInitial(seed: seed)
    }

    override public var configuration: JSONValue {
        .object([("type", .string("TuckerLinear")), ("input_modes", .array(inputModes.map { .number(Double($0)) })),
                 ("output_modes", .array(outputModes.map { .number(Double($0)) })),
                 ("ranks", .array(ranks.map { .number(Double($0)) })), ("bias", .bool(hasBias))])
    }

    /// A Tucker layer with the same rank on every mode (clipped to each mode's size).
    /// - Throws: as `init(inputModes:outputModes:ranks:bias:seed:)`.
    public convenience init(inputModes: [Int], outputModes: [Int], rank: Int, bias: Bool = true, seed: UInt64 = 0) throws {
        guard rank >= 1 else { throw TNError.value("the Tucker rank must be at least 1 (got \(rank))") }
        try self.init(inputModes: inputModes, outputModes: outputModes,
                      ranks: (inputModes + outputModes).map { Swift.min(rank, $0) }, bias: bias, seed: seed)
    }

    /// A Tucker layer from a dense weight W (in_features × out_features) seen as the tensor
    /// (input modes…, output modes…), by HOOI: with `ranks` (one per mode; a single `rank`
    /// is clipped to each mode), with `eps` (‖W − Ŵ‖_F ≤ eps · ‖W‖_F), or with the largest
    /// uniform rank whose parameters fit `budget`. Give exactly one of rank(s), eps, budget.
    /// - Throws: `TNError.shape` when the modes do not match the weight; `TNError.value` for a
    ///   bad target, a budget below rank 1, or a non-finite weight.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func fromDense(weight: Matrix<T>, bias: [T]? = nil, inputModes: [Int], outputModes: [Int],
                                 rank: Int? = nil, ranks: [Int]? = nil, eps: Double? = nil, budget: Int? = nil,
                                 maxIterations: Int = 50) throws -> TuckerLinear<T> {
        try LayerLabels.check("TuckerLinear", inputModes: inputModes, outputModes: outputModes, sameCount: false)
        guard rank == nil || ranks == nil else { throw TNError.value("TuckerLinear.fromDense takes rank or ranks, not both") }
        try LayerLabels.checkTarget("TuckerLinear", rank: rank != nil || ranks != nil, eps: eps, budget: budget)
        try LayerLabels.checkDense("TuckerLinear", weight: weight, bias: bias, inputModes: inputModes, outputModes: outputModes)
        let shape = inputModes + outputModes
        let uniform = { (r: Int) in shape.map { Swift.min(r, $0) } }
        if let r = rank, r < 1 { throw TNError.value("the Tucker rank must be at least 1 (got \(r))") }
        var target = ranks ?? rank.map(uniform)
        if let budget {
            let count = { (r: Int) -> Int in
                let rs = uniform(r)
                return rs.reduce(1, *) + zip(rs, shape).reduce(0) { $0 + $1.0 * $1.1 }
            }
            target = uniform(try largestRank(fitting: budget, what: "TuckerLinear", count))
        }
        // A rank above the product of the others cannot be kept: clip (the error is unchanged).
        if var t = target {
            var changed = true
            while changed {
                changed = false
                for k in t.indices {
                    let others = t.enumerated().reduce(1) { $1.offset == k ? $0 : $0 * $1.element }
                    if t[k] > others { t[k] = others; changed = true }
                }
            }
            target = t
        }
        let tucker = try weight.withUnsafeBufferPointer {
            try TuckerTensor<T>.decompose($0.baseAddress!, shape: shape, ranks: target, eps: eps, method: .hooi,
                                          maxIterations: maxIterations, tolerance: 1e-12, progress: nil)
        }
        let layer = try TuckerLinear(inputModes: inputModes, outputModes: outputModes, ranks: tucker.ranks, bias: bias != nil)
        layer.load([tucker.core] + tucker.factors, bias: bias)
        return layer
    }
}
