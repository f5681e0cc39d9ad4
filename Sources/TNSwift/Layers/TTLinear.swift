/// A linear layer whose weight is a TT-matrix (MPO, Novikov et al. 2015): in_features =
/// Π m_k and out_features = Π n_k, core k of shape (r_{k-1}, m_k, n_k, r_k) with r_0 = r_d = 1
/// — exactly the cores of `TTMatrix` for the weight W (in × out).
public final class TTLinear<T: LAPACKScalar>: EinsumLayer<T> {
    /// The d + 1 TT ranks (first and last 1).
    public let ranks: [Int]

    /// A TT layer with fresh cores (dense-init variance).
    /// - Parameters:
    ///   - inputModes / outputModes: the same number d ≥ 1 of modes, each ≥ 1.
    ///   - ranks: the d − 1 inner ranks, each ≥ 1 (a single value is used for every bond by
    ///     `init(inputModes:outputModes:rank:…)`).
    /// - Throws: `TNError.shape` for bad modes or a rank list of the wrong length;
    ///   `TNError.value` for a rank below 1.
    public init(inputModes: [Int], outputModes: [Int], ranks: [Int], bias: Bool = true, seed: UInt64 = 0) throws {
        try LayerLabels.check("TTLinear", inputModes: inputModes, outputModes: outputModes, sameCount: true)
        let d = inputModes.count
        guard ranks.count == d - 1 else {
            throw TNError.shape("TTLinear with \(d) modes has \(d - 1) bonds but \(ranks.count) ranks were given")
        }
        for r in ranks where r < 1 { throw TNError.value("TT ranks must be at least 1 (got \(ranks))") }
        let all = [1] + ranks + [1]
        self.ranks = all
        let x = String(LayerLabels.batch) + String((0..<d).map(LayerLabels.input))
        let cores = (0..<d).map { k in String([LayerLabels.bond(k), LayerLabels.input(k), LayerLabels.output(k), LayerLabels.bond(k + 1)]) }
        let y = String(LayerLabels.batch) + String((0..<d).map(LayerLabels.output))
        try super.init(layerEquation: ([x] + cores).joined(separator: ",") + "->" + y,
                       parameterShapes: (0..<d).map { [all[$0], inputModes[$0], outputModes[$0], all[$0 + 1]] }, bias: bias)
        parameterNames = (0..<d).map { "core_\($0)" }
        try fillInitial(seed: seed)
    }

    override public var configuration: JSONValue {
        .object([("type", .string("TTLinear")), ("input_modes", .array(inputModes.map { .number(Double($0)) })),
                 ("output_modes", .array(outputModes.map { .number(Double($0)) })),
                 ("ranks", .array(ranks.dropFirst().dropLast().map { .number(Double($0)) })), ("bias", .bool(hasBias))])
    }

    /// A TT layer with the same rank on every bond.
    /// - Throws: as `init(inputModes:outputModes:ranks:bias:seed:)`.
    public convenience init(inputModes: [Int], outputModes: [Int], rank: Int, bias: Bool = true, seed: UInt64 = 0) throws {
        try self.init(inputModes: inputModes, outputModes: outputModes,
                      ranks: [Int](repeating: rank, count: Swift.max(inputModes.count - 1, 0)), bias: bias, seed: seed)
    }

    /// A TT layer from a trained dense weight W (in_features × out_features) and bias: W is
    /// decomposed into a TT-matrix (TT-SVD) with a rank cap, with the guarantee
    /// ‖W − W_TT‖_F ≤ eps · ‖W‖_F, or with the largest uniform rank cap whose parameters fit
    /// `budget` (cores only; the bias is extra). Give exactly one of `rank`, `eps`, `budget`.
    /// - Throws: `TNError.shape` when the modes do not multiply to the weight's sizes or the
    ///   bias length differs; `TNError.value` for a bad target, a budget too small even for
    ///   rank 1, or a non-finite weight.
    /// - Complexity: TT-SVD of the weight (see `TTMatrix`).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func fromDense(weight: Matrix<T>, bias: [T]? = nil, inputModes: [Int], outputModes: [Int],
                                 rank: Int? = nil, eps: Double? = nil, budget: Int? = nil) throws -> TTLinear<T> {
        try LayerLabels.check("TTLinear", inputModes: inputModes, outputModes: outputModes, sameCount: true)
        try LayerLabels.checkTarget("TTLinear", rank: rank != nil, eps: eps, budget: budget)
        try LayerLabels.checkDense("TTLinear", weight: weight, bias: bias, inputModes: inputModes, outputModes: outputModes)
        if let r = rank, r < 1 { throw TNError.value("the TT rank must be at least 1 (got \(r))") }
        let merged = zip(inputModes, outputModes).map { $0 * $1 }
        var cap = rank
        if let budget {
            cap = try largestRank(fitting: budget, what: "TTLinear") { r in TTLinear.parameterCount(merged, cap: r) }
        }
        let tt = try weight.withUnsafeBufferPointer { p in
            try TTMatrix<T>(decompose: p.baseAddress!, rows: weight.rows, columns: weight.columns, rowModes: inputModes,
                            columnModes: outputModes, caps: [Int?](repeating: cap, count: inputModes.count - 1), eps: eps)
        }
        let layer = try TTLinear(inputModes: inputModes, outputModes: outputModes, ranks: Array(tt.ranks.dropFirst().dropLast()),
                                 bias: bias != nil)
        layer.load(tt.cores, bias: bias)
        return layer
    }

    /// Core values of a TT over modes m_k · n_k when TT-SVD caps every bond at `cap`: bond k
    /// is at most min(cap, Π_{j≤k} size_j, Π_{j>k} size_j).
    static func parameterCount(_ sizes: [Int], cap: Int) -> Int {
        let d = sizes.count
        var ranks = [1]
        for k in 1..<Swift.max(d, 1) {
            let left = sizes[..<k].reduce(1) { Swift.min($0 * $1, Int.max / 4) }
            let right = sizes[k...].reduce(1) { Swift.min($0 * $1, Int.max / 4) }
            ranks.append(Swift.min(cap, left, right))
        }
        ranks.append(1)
        return (0..<d).reduce(0) { $0 + ranks[$1] * sizes[$1] * ranks[$1 + 1] }
    }
}

/// The largest rank r ≥ 1 with `count(r)` ≤ `budget` (count non-decreasing in r), searched up
/// to where the count stops growing.
/// - Throws: `TNError.value` when even rank 1 exceeds the budget.
func largestRank(fitting budget: Int, what: String, _ count: (Int) -> Int) throws -> Int {
    guard count(1) <= budget else {
        throw TNError.value("\(what): a parameter budget of \(budget) is below the \(count(1)) parameters of rank 1")
    }
    var lo = 1, hi = 2
    while count(hi) <= budget, count(hi) > count(hi / 2), hi < 1 << 20 { lo = hi; hi *= 2 }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2
        if count(mid) <= budget { lo = mid } else { hi = mid }
    }
    return lo
}
