/// A tensor in Tucker format: X = G ×_1 U_1 ×_2 U_2 ⋯ ×_d U_d, a core G of shape `ranks` and
/// one factor per mode.
///
/// Factor k is stored row-major with shape `shape[k]` × `ranks[k]`; decompositions return
/// factors with orthonormal columns. Build one from a core and factors (validated) or by
/// HOSVD/HOOI (`init(decomposing:shape:ranks:eps:method:…)`).
public struct TuckerTensor<T: LAPACKScalar> {
    /// The core, row-major, of shape `ranks`.
    public let core: [T]
    /// The core's shape, one rank per mode.
    public let ranks: [Int]
    /// The d factors, factor k row-major of shape `shape[k]` × `ranks[k]`.
    public let factors: [[T]]
    /// The mode sizes.
    public let shape: [Int]
    /// The relative reconstruction error after HOSVD (one entry) or after each HOOI iteration;
    /// empty when the tensor was built from a core and factors.
    public let errors: [Double]

    init(unchecked core: [T], ranks: [Int], factors: [[T]], shape: [Int], errors: [Double]) {
        self.core = core
        self.ranks = ranks
        self.factors = factors
        self.shape = shape
        self.errors = errors
    }

    /// A Tucker tensor from its core and factors.
    /// - Parameters:
    ///   - core: Π ranks values, row-major.
    ///   - factors: factor k row-major `shape[k]` × `ranks[k]`.
    ///   - shape: the mode sizes, each at least 1.
    ///   - ranks: the core's shape, each at least 1.
    /// - Throws: `TNError.shape` when there are no modes, the counts of ranks, factors and
    ///   modes differ, a size is below 1, or the core or a factor has the wrong number of
    ///   values (the message names which).
    /// - Complexity: O(d).
    public init(core: [T], factors: [[T]], shape: [Int], ranks: [Int]) throws {
        guard !shape.isEmpty else { throw TNError.shape("a Tucker tensor needs at least one mode (the shape is empty)") }
        guard ranks.count == shape.count, factors.count == shape.count else {
            throw TNError.shape("a Tucker tensor of shape \(shape) needs \(shape.count) ranks and factors (got \(ranks.count) ranks and \(factors.count) factors)")
        }
        for k in shape.indices {
            guard shape[k] >= 1, ranks[k] >= 1 else {
                throw TNError.shape("Tucker mode \(k) has size \(shape[k]) and rank \(ranks[k]); both must be at least 1")
            }
            let count = try checkedProduct([shape[k], ranks[k]], what: "Tucker factor \(k)")
            guard factors[k].count == count else {
                throw TNError.shape("Tucker factor \(k) must be \(shape[k])×\(ranks[k]) (\(count) values) but has \(factors[k].count) values")
            }
        }
        let coreCount = try checkedProduct(ranks, what: "a Tucker core of shape \(ranks)")
        guard core.count == coreCount else {
            throw TNError.shape("a Tucker core of shape \(ranks) has \(coreCount) values but \(core.count) were given")
        }
        self.init(unchecked: core, ranks: ranks, factors: factors, shape: shape, errors: [])
    }

    /// The order d.
    public var order: Int { shape.count }

    /// The number of stored values, Π ranks + Σ n_k · r_k.
    public var parameterCount: Int { core.count + factors.reduce(0) { $0 + $1.count } }

    /// The full tensor, C-contiguous, of shape `shape`.
    /// - Throws: `TNError.memory` when Π shape overflows or cannot be allocated;
    ///   `TNError.shape` for an order above 26.
    /// - Complexity: the engine's path over core and factors, about 2 · Π shape · r_1 for
    ///   balanced sizes.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func toDense() throws -> [T] {
        try dense()
    }

    /// `toDense` for code in this module.
    func dense() throws -> [T] {
        _ = try checkedProduct(shape, what: "the dense tensor of shape \(shape)")
        let letters = try ModeKernels.labels(order, operation: "Tucker reconstruction")
        let coreLabels = String(shape.indices.map(ModeKernels.rankLabel))
        let operands = [coreLabels] + shape.indices.map { String([letters[$0], ModeKernels.rankLabel($0)]) }
        let plan: ContractionPlan<T> = try ModeKernels.plan(operands.joined(separator: ",") + "->" + String(letters),
                                                            [ranks] + shape.indices.map { [shape[$0], ranks[$0]] })
        return try ModeKernels.run(plan, [core] + factors)
    }
}
