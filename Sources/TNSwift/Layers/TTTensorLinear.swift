/// A linear layer whose weight, as a tensor of shape (m_1, …, m_d, n_1, …, n_e), is a tensor
/// train over those d + e modes in that order: core k of shape (r_{k-1}, mode_k, r_k) with
/// r_0 = r_{d+e} = 1 — exactly the cores of `TTTensor` for W seen as that tensor. This is the
/// tensor regression layer with a TT weight (tltorch's `TRL(factorization="tt")`).
///
/// Unlike `TTLinear` (a TT-*matrix*, whose core k carries one input and one output mode),
/// the input modes here are all contracted before the output modes appear, so the layer
/// needs no pairing of input and output modes and their counts may differ.
///
/// Parameters, in order: `core_0`, …, `core_{d+e-1}`.
public final class TTTensorLinear<T: LAPACKScalar>: EinsumLayer<T> {
    /// The d + e + 1 TT ranks (first and last 1).
    public let ranks: [Int]

    /// A TT-tensor layer with fresh cores (dense-init variance).
    /// - Parameters:
    ///   - inputModes / outputModes: 1 to 12 modes each, each ≥ 1.
    ///   - ranks: the d + e − 1 inner ranks, each ≥ 1 (`init(…rank:…)` uses one for all).
    /// - Throws: `TNError.shape` for bad modes or a rank list of the wrong length;
    ///   `TNError.value` for a rank below 1.
    public init(inputModes: [Int], outputModes: [Int], ranks: [Int], bias: Bool = true, seed: UInt64 = 0) throws {
        try LayerLabels.check("TTTensorLinear", inputModes: inputModes, outputModes: outputModes, sameCount: false)
        let modes = inputModes + outputModes
        let d = modes.count
        guard ranks.count == d - 1 else {
            throw TNError.shape("TTTensorLinear with \(d) modes (\(inputModes.count) input, \(outputModes.count) output) has \(d - 1) bonds but \(ranks.count) ranks were given")
        }
        for r in ranks where r < 1 { throw TNError.value("TT ranks must be at least 1 (got \(ranks))") }
        let all = [1] + ranks + [1]
        self.ranks = all
        let letters = (0..<inputModes.count).map(LayerLabels.input) + (0..<outputModes.count).map(LayerLabels.output)
        let x = String(LayerLabels.batch) + String(letters.prefix(inputModes.count))
        let cores = (0..<d).map { k in String([LayerLabels.bond(k), letters[k], LayerLabels.bond(k + 1)]) }
        let y = String(LayerLabels.batch) + String(letters.suffix(outputModes.count))
        try super.init(layerEquation: ([x] + cores).joined(separator: ",") + "->" + y,
                       parameterShapes: (0..<d).map { [all[$0], modes[$0], all[$0 + 1]] }, bias: bias)
        parameterNames = (0..<d).map { "core_\($0)" }
        try fillInitial(seed: seed)
    }

    /// A TT-tensor layer with the same rank on every bond.
    /// - Throws: as `init(inputModes:outputModes:ranks:bias:seed:)`.
    public convenience init(inputModes: [Int], outputModes: [Int], rank: Int, bias: Bool = true, seed: UInt64 = 0) throws {
        try self.init(inputModes: inputModes, outputModes: outputModes,
                      ranks: [Int](repeating: rank, count: Swift.max(inputModes.count + outputModes.count - 1, 0)),
                      bias: bias, seed: seed)
    }

    override public var configuration: JSONValue {
        .object([("type", .string("TTTensorLinear")), ("input_modes", .array(inputModes.map { .number(Double($0)) })),
                 ("output_modes", .array(outputModes.map { .number(Double($0)) })),
                 ("ranks", .array(ranks.dropFirst().dropLast().map { .number(Double($0)) })), ("bias", .bool(hasBias))])
    }

    /// A TT-tensor layer from a dense weight W (in_features × out_features) seen as the tensor
    /// (input modes…, output modes…), by TT-SVD: with a cap on every bond (`rank`), with
    /// ‖W − W_TT‖_F ≤ eps · ‖W‖_F, or with the largest uniform cap whose cores fit `budget`
    /// (the bias is extra). Give exactly one of them.
    /// - Throws: `TNError.shape` when the modes do not match the weight or the bias length
    ///   differs; `TNError.value` for a bad target, a budget below rank 1, or a non-finite
    ///   weight.
    /// - Complexity: TT-SVD of the weight (see `TTTensor.init(decomposing:shape:maxRanks:eps:)`).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func fromDense(weight: Matrix<T>, bias: [T]? = nil, inputModes: [Int], outputModes: [Int],
                                 rank: Int? = nil, eps: Double? = nil, budget: Int? = nil) throws -> TTTensorLinear<T> {
        try LayerLabels.check("TTTensorLinear", inputModes: inputModes, outputModes: outputModes, sameCount: false)
        try LayerLabels.checkTarget("TTTensorLinear", rank: rank != nil, eps: eps, budget: budget)
        try LayerLabels.checkDense("TTTensorLinear", weight: weight, bias: bias, inputModes: inputModes, outputModes: outputModes)
        if let r = rank, r < 1 { throw TNError.value("the TT rank must be at least 1 (got \(r))") }
        let shape = inputModes + outputModes
        var cap = rank
        if let budget {
            cap = try largestRank(fitting: budget, what: "TTTensorLinear") { r in TTLinear<T>.parameterCount(shape, cap: r) }
        }
        let tt = try weight.withUnsafeBufferPointer { p in
            try TTTensor<T>(ttsvd: p.baseAddress!, shape: shape, caps: [Int?](repeating: cap, count: shape.count - 1), eps: eps)
        }
        let layer = try TTTensorLinear(inputModes: inputModes, outputModes: outputModes,
                                       ranks: Array(tt.ranks.dropFirst().dropLast()), bias: bias != nil)
        layer.load(tt.cores, bias: bias)
        return layer
    }
}
