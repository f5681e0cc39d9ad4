/// A tensor in tensor-train (TT, MPS) format: X[i_1, …, i_d] = G_1[:, i_1, :] · … · G_d[:, i_d, :].
///
/// Core k (0-based) has shape `ranks[k]` × `shape[k]` × `ranks[k + 1]` and is stored row-major
/// (C-contiguous) in `cores[k]`; `ranks` has d + 1 entries with `ranks[0] == ranks[d] == 1`.
/// Build one from cores (validated), by TT-SVD of a dense tensor
/// (`init(decomposing:shape:maxRank:eps:)`), or as the result of rounding or a sum.
public struct TTTensor<T: LAPACKScalar> {
    /// The d cores, core k row-major of shape `ranks[k]` × `shape[k]` × `ranks[k + 1]`.
    public let cores: [[T]]
    /// The mode sizes n_1, …, n_d.
    public let shape: [Int]
    /// The d + 1 TT ranks r_0 = 1, r_1, …, r_{d-1}, r_d = 1.
    public let ranks: [Int]

    /// Adopts cores already known to be consistent (internal constructions).
    init(unchecked cores: [[T]], shape: [Int], ranks: [Int]) {
        self.cores = cores
        self.shape = shape
        self.ranks = ranks
    }

    /// A TT tensor from its cores, each given with its 3-d shape (r_{k-1}, n_k, r_k).
    /// - Parameters:
    ///   - cores: the values of each core, row-major.
    ///   - coreShapes: one [left rank, mode size, right rank] per core.
    /// - Throws: `TNError.shape` when there are no cores, the counts of cores and shapes
    ///   differ, a core shape does not have 3 sizes, a size is below 1, a core's value count
    ///   is not the product of its shape, the first left rank or last right rank is not 1, or
    ///   the right rank of core k differs from the left rank of core k + 1 (the message names
    ///   the core(s) and both sizes).
    /// - Complexity: O(d).
    public init(cores: [[T]], coreShapes: [[Int]]) throws {
        guard !cores.isEmpty else { throw TNError.shape("a TT tensor needs at least one core") }
        guard cores.count == coreShapes.count else {
            throw TNError.shape("\(cores.count) TT cores were given with \(coreShapes.count) core shapes")
        }
        for (k, s) in coreShapes.enumerated() {
            guard s.count == 3 else {
                throw TNError.shape("TT core \(k) must have 3 sizes (left rank, mode size, right rank), got \(s)")
            }
            guard s.allSatisfy({ $0 >= 1 }) else { throw TNError.shape("TT core \(k) has shape \(s); every size must be at least 1") }
            let count = try checkedProduct(s, what: "TT core \(k)")
            guard cores[k].count == count else {
                throw TNError.shape("TT core \(k) has shape \(s) (\(count) values) but \(cores[k].count) values were given")
            }
            if k > 0, coreShapes[k - 1][2] != s[0] {
                throw TNError.shape("TT core \(k - 1) has right rank \(coreShapes[k - 1][2]) but TT core \(k) has left rank \(s[0])")
            }
        }
        guard coreShapes[0][0] == 1 else {
            throw TNError.shape("TT core 0 must have left rank 1 (got \(coreShapes[0][0]))")
        }
        guard coreShapes[coreShapes.count - 1][2] == 1 else {
            throw TNError.shape("TT core \(coreShapes.count - 1) (the last) must have right rank 1 (got \(coreShapes[coreShapes.count - 1][2]))")
        }
        self.cores = cores
        self.shape = coreShapes.map { $0[1] }
        self.ranks = [1] + coreShapes.map { $0[2] }
    }

    /// The order d (number of modes).
    public var order: Int { shape.count }

    /// The shape of core k: [ranks[k], shape[k], ranks[k + 1]].
    public func coreShape(_ k: Int) -> [Int] { [ranks[k], shape[k], ranks[k + 1]] }

    /// The number of stored values, Σ r_{k-1} · n_k · r_k.
    /// - Complexity: O(d).
    public var parameterCount: Int { cores.reduce(0) { $0 + $1.count } }

    /// The full tensor, C-contiguous, of shape `shape`.
    /// - Throws: `TNError.memory` when Π shape overflows.
    /// - Complexity: O(Σ_k (n_1 ⋯ n_k) · r_{k-1} · r_k) time and O(Π shape · max r) memory.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func toDense() throws -> [T] {
        try dense()
    }

    /// `toDense` for code in this module (see `SVD.factor` on exported specialisations).
    func dense() throws -> [T] {
        _ = try checkedProduct(shape, what: "the dense tensor of shape \(shape)")
        var dense = cores[0]          // (n_1) × r_1
        var rows = shape[0]
        for k in 1..<max(order, 1) {
            // (rows × r_k) · (r_k × n_k r_{k+1}) = (rows · n_k) × r_{k+1}
            dense = TTKernels.multiply(dense, cores[k], m: rows, k: ranks[k], n: shape[k] * ranks[k + 1])
            rows *= shape[k]
        }
        return dense
    }
}
