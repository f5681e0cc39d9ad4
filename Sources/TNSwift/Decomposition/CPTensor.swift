/// A tensor in CP (CANDECOMP/PARAFAC, Kruskal) format:
/// X[i_1, …, i_d] = Σ_r w_r · U_1[i_1, r] · … · U_d[i_d, r].
///
/// Factor k is stored row-major with shape `shape[k]` × `rank` in `factors[k]`. Build one from
/// weights and factors (validated) or by CP-ALS (`init(decomposing:shape:rank:…)`), which
/// returns unit-norm factor columns and the scale in `weights`.
public struct CPTensor<T: LAPACKScalar> {
    /// The `rank` weights w_r.
    public let weights: [T]
    /// The d factors, factor k row-major of shape `shape[k]` × `rank`.
    public let factors: [[T]]
    /// The mode sizes.
    public let shape: [Int]
    /// The number of rank-one terms.
    public let rank: Int
    /// The relative reconstruction error after each ALS iteration (empty when the tensor was
    /// built from factors).
    public let errors: [Double]

    init(unchecked weights: [T], factors: [[T]], shape: [Int], errors: [Double]) {
        self.weights = weights
        self.factors = factors
        self.shape = shape
        self.rank = weights.count
        self.errors = errors
    }

    /// A CP tensor from its weights and factors.
    /// - Parameters:
    ///   - weights: one weight per rank-one term (at least one).
    ///   - factors: one factor per mode, factor k row-major `shape[k]` × `weights.count`.
    ///   - shape: the mode sizes, each at least 1.
    /// - Throws: `TNError.shape` when there are no weights or no modes, the counts of factors
    ///   and modes differ, a mode is below 1, or a factor's value count is not
    ///   `shape[k] * rank` (the message names the factor).
    /// - Complexity: O(d).
    public init(weights: [T], factors: [[T]], shape: [Int]) throws {
        guard !weights.isEmpty else { throw TNError.shape("a CP tensor needs at least one weight (rank ≥ 1)") }
        guard !shape.isEmpty else { throw TNError.shape("a CP tensor needs at least one mode (the shape is empty)") }
        guard factors.count == shape.count else {
            throw TNError.shape("a CP tensor of shape \(shape) needs \(shape.count) factors but \(factors.count) were given")
        }
        for (k, n) in shape.enumerated() {
            guard n >= 1 else { throw TNError.shape("mode \(k) of the shape \(shape) has size \(n); CP modes must be at least 1") }
            let count = try checkedProduct([n, weights.count], what: "CP factor \(k)")
            guard factors[k].count == count else {
                throw TNError.shape("CP factor \(k) must be \(n)×\(weights.count) (\(count) values) but has \(factors[k].count) values")
            }
        }
        self.init(unchecked: weights, factors: factors, shape: shape, errors: [])
    }

    /// The order d.
    public var order: Int { shape.count }

    /// The number of stored values, rank · (1 + Σ n_k).
    public var parameterCount: Int { weights.count + factors.reduce(0) { $0 + $1.count } }

    /// The full tensor, C-contiguous, of shape `shape`.
    /// - Throws: `TNError.memory` when Π shape overflows or cannot be allocated;
    ///   `TNError.shape` for an order above 26.
    /// - Complexity: about 2 · rank · Π shape operations (the engine's path over the factors).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func toDense() throws -> [T] {
        try dense()
    }

    /// `toDense` for code in this module.
    func dense() throws -> [T] {
        _ = try checkedProduct(shape, what: "the dense tensor of shape \(shape)")
        return try ModeKernels.run(CPTensor.reconstruction(shape: shape, rank: rank, weighted: true), factors + [weights])
    }

    /// The plan Σ_r [w_r] Π_k U_k[i_k, r] over the factors (then the weights, when `weighted`).
    static func reconstruction(shape: [Int], rank: Int, weighted: Bool) throws -> ContractionPlan<T> {
        let letters = try ModeKernels.labels(shape.count, operation: "CP reconstruction")
        let operands = letters.map { String([$0, "Z"]) } + (weighted ? ["Z"] : [])
        return try ModeKernels.plan(operands.joined(separator: ",") + "->" + String(letters),
                                    shape.map { [$0, rank] } + (weighted ? [[rank]] : []))
    }
}
