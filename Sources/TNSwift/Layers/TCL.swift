/// A tensor contraction layer (Kossaifi et al. 2017): the input's modes are each contracted
/// with a factor matrix, y = x ×_1 U_1 ×_2 U_2 … ×_N U_N, mapping (batch, I_1, …, I_N) to
/// (batch, R_1, …, R_N).
///
/// Parameters, in order: `factor_k` of shape (R_k, I_k), one per mode — the layout of
/// tltorch's `TCL`. As a linear layer its weight is the Kronecker product
/// W[(i_1 … i_N), (r_1 … r_N)] = Π_k U_k[r_k, i_k], so in_features = Π I_k and
/// out_features = Π R_k; the optional bias has out_features values.
public final class TCL<T: LAPACKScalar>: EinsumLayer<T> {
    /// The output's modes R_1, …, R_N (the "rank" of tltorch's TCL), one per input mode.
    public let ranks: [Int]

    /// A TCL with fresh factors, scaled so that W has a dense layer's init variance.
    /// - Parameters:
    ///   - inputModes: I_1, …, I_N (1 ≤ N ≤ 12), each ≥ 1.
    ///   - ranks: R_1, …, R_N, one per input mode, each ≥ 1 (a rank may exceed its mode).
    ///   - bias: whether to add a bias (zero-initialised); off by default, as in tltorch.
    /// - Throws: `TNError.shape` for bad modes or a rank list of another length than the
    ///   input modes; `TNError.value` for a rank below 1.
    public init(inputModes: [Int], ranks: [Int], bias: Bool = false, seed: UInt64 = 0) throws {
        guard ranks.count == inputModes.count else {
            throw TNError.shape("TCL with \(inputModes.count) input modes \(inputModes) needs \(inputModes.count) ranks (got \(ranks.count): \(ranks))")
        }
        for r in ranks where r < 1 { throw TNError.value("TCL ranks must be at least 1 (got \(ranks))") }
        try LayerLabels.check("TCL", inputModes: inputModes, outputModes: ranks, sameCount: true)
        self.ranks = ranks
        let n = inputModes.count
        let ins = (0..<n).map(LayerLabels.input), outs = (0..<n).map(LayerLabels.output)
        let operands = [String(LayerLabels.batch) + String(ins)] + (0..<n).map { String([outs[$0], ins[$0]]) }
        try super.init(layerEquation: operands.joined(separator: ",") + "->" + String(LayerLabels.batch) + String(outs),
                       parameterShapes: (0..<n).map { [ranks[$0], inputModes[$0]] }, bias: bias)
        parameterNames = (0..<n).map { "factor_\($0)" }
        try fillInitial(seed: seed)
    }

    /// A TCL with the same rank on every mode.
    /// - Throws: as `init(inputModes:ranks:bias:seed:)`.
    public convenience init(inputModes: [Int], rank: Int, bias: Bool = false, seed: UInt64 = 0) throws {
        try self.init(inputModes: inputModes, ranks: [Int](repeating: rank, count: inputModes.count), bias: bias, seed: seed)
    }

    override public var configuration: JSONValue {
        .object([("type", .string("TCL")), ("input_modes", .array(inputModes.map { .number(Double($0)) })),
                 ("ranks", .array(ranks.map { .number(Double($0)) })), ("bias", .bool(hasBias))])
    }
}
