/// A matrix in TT-matrix (MPO) format: W of size (Π m_k) × (Π n_k) with
/// W[(i_1 … i_d), (j_1 … j_d)] = G_1[:, i_1, j_1, :] · … · G_d[:, i_d, j_d, :].
///
/// The row index is the mixed-radix number of (i_1, …, i_d) over `rowModes`, the column index
/// that of (j_1, …, j_d) over `columnModes`, both first-mode-major (C order). Core k is stored
/// row-major with shape `ranks[k]` × `rowModes[k]` × `columnModes[k]` × `ranks[k + 1]` — the
/// layout a TT linear layer contracts.
public struct TTMatrix<T: LAPACKScalar> {
    /// The d cores, core k row-major of shape r_{k-1} × m_k × n_k × r_k.
    public let cores: [[T]]
    /// The row modes m_1, …, m_d (Π m_k rows).
    public let rowModes: [Int]
    /// The column modes n_1, …, n_d (Π n_k columns).
    public let columnModes: [Int]
    /// The d + 1 TT ranks, first and last 1.
    public let ranks: [Int]

    init(unchecked cores: [[T]], rowModes: [Int], columnModes: [Int], ranks: [Int]) {
        self.cores = cores
        self.rowModes = rowModes
        self.columnModes = columnModes
        self.ranks = ranks
    }

    /// A TT-matrix from its cores, each given with its 4-d shape (r_{k-1}, m_k, n_k, r_k).
    /// - Throws: `TNError.shape` when there are no cores, counts differ, a core shape does not
    ///   have 4 sizes, a size is below 1, a core's value count is not the product of its
    ///   shape, the outer ranks are not 1, or neighbouring ranks differ (naming the cores and
    ///   both sizes).
    /// - Complexity: O(d).
    public init(cores: [[T]], coreShapes: [[Int]]) throws {
        for (k, s) in coreShapes.enumerated() where s.count != 4 {
            throw TNError.shape("TT-matrix core \(k) must have 4 sizes (left rank, row mode, column mode, right rank), got \(s)")
        }
        // Validate as a TT tensor over the merged modes m_k · n_k.
        let merged = try coreShapes.enumerated().map { k, s -> [Int] in
            guard s.allSatisfy({ $0 >= 1 }) else { throw TNError.shape("TT-matrix core \(k) has shape \(s); every size must be at least 1") }
            return [s[0], s[1] * s[2], s[3]]
        }
        let tt = try TTTensor<T>(cores: cores, coreShapes: merged)
        self.init(unchecked: tt.cores, rowModes: coreShapes.map { $0[1] }, columnModes: coreShapes.map { $0[2] }, ranks: tt.ranks)
    }

    /// TT-matrix decomposition of a row-major matrix (one cap for every bond); see
    /// `init(decomposing:rows:columns:rowModes:columnModes:maxRanks:eps:)`.
    /// - Throws: as that initialiser.
    /// - Complexity: as that initialiser.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(decomposing matrix: Matrix<T>, rowModes: [Int], columnModes: [Int],
                maxRank: Int? = nil, eps: Double? = nil, progress: DecompositionProgressHandler? = nil) throws {
        if let cap = maxRank, cap < 1 { throw TNError.value("the TT rank cap must be at least 1 (got \(cap))") }
        let caps = [Int?](repeating: maxRank, count: Swift.max(rowModes.count - 1, 0))
        self = try matrix.withUnsafeBufferPointer { p in
            try TTMatrix(decompose: p.baseAddress!, rows: matrix.rows, columns: matrix.columns,
                         rowModes: rowModes, columnModes: columnModes, caps: caps, eps: eps, progress: progress)
        }
    }

    /// TT-matrix decomposition of the row-major `rows`×`columns` matrix at `values`: W is
    /// permuted into the tensor of shape (m_1 n_1, …, m_d n_d) and decomposed by TT-SVD, so
    /// with `eps` ‖W − TT(W)‖_F ≤ eps · ‖W‖_F (caps win over eps).
    /// - Parameters:
    ///   - rowModes / columnModes: d modes each, every mode ≥ 1, with Π rowModes = `rows` and
    ///     Π columnModes = `columns`.
    ///   - maxRanks: one cap per bond (d − 1), each ≥ 1.
    ///   - eps: the relative Frobenius tolerance, finite and ≥ 0; nil for none.
    ///   - progress: called after each TT-SVD truncation; false stops with `TNError.interrupted`.
    /// - Throws: `TNError.shape` when the mode lists are empty or differ in length, a mode is
    ///   below 1, the products of the modes do not match the matrix, or `maxRanks` does not
    ///   have d − 1 entries; `TNError.value` for a cap below 1, a bad eps or a non-finite
    ///   value; `TNError.memory` when a buffer cannot be allocated.
    /// - Complexity: as TT-SVD of a tensor with rows · columns values; memory: one permuted
    ///   copy of the matrix, which a wide first unfolding (the usual case) then overwrites
    ///   with the next unfolding, plus the SVD buffers of the later, smaller steps.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(decomposing values: UnsafePointer<T>, rows: Int, columns: Int, rowModes: [Int], columnModes: [Int],
                maxRanks: [Int], eps: Double? = nil, progress: DecompositionProgressHandler? = nil) throws {
        guard maxRanks.count == Swift.max(rowModes.count - 1, 0) else {
            throw TNError.shape("a TT-matrix with \(rowModes.count) modes has \(Swift.max(rowModes.count - 1, 0)) bonds but \(maxRanks.count) rank caps were given")
        }
        for (k, cap) in maxRanks.enumerated() where cap < 1 {
            throw TNError.value("the TT rank cap of bond \(k) must be at least 1 (got \(cap))")
        }
        try self.init(decompose: values, rows: rows, columns: columns, rowModes: rowModes, columnModes: columnModes,
                      caps: maxRanks.map { Optional($0) }, eps: eps, progress: progress)
    }

    /// Checks modes against the matrix size.
    static func checkModes(rows: Int, columns: Int, rowModes: [Int], columnModes: [Int]) throws {
        guard !rowModes.isEmpty else { throw TNError.shape("a TT-matrix needs at least one row mode and one column mode") }
        guard rowModes.count == columnModes.count else {
            throw TNError.shape("a TT-matrix needs as many row modes as column modes (got \(rowModes) and \(columnModes))")
        }
        for (k, (m, n)) in zip(rowModes, columnModes).enumerated() where m < 1 || n < 1 {
            throw TNError.shape("TT-matrix mode \(k) has row mode \(m) and column mode \(n); modes must be at least 1")
        }
        let m = try checkedProduct(rowModes, what: "the row modes \(rowModes)")
        let n = try checkedProduct(columnModes, what: "the column modes \(columnModes)")
        guard m == rows else { throw TNError.shape("the row modes \(rowModes) multiply to \(m) but the matrix has \(rows) rows") }
        guard n == columns else {
            throw TNError.shape("the column modes \(columnModes) multiply to \(n) but the matrix has \(columns) columns")
        }
    }

    init(decompose values: UnsafePointer<T>, rows: Int, columns: Int, rowModes: [Int], columnModes: [Int],
         caps: [Int?], eps: Double?, progress: DecompositionProgressHandler? = nil) throws {
        try TTMatrix.checkModes(rows: rows, columns: columns, rowModes: rowModes, columnModes: columnModes)
        let d = rowModes.count
        // W as a tensor (m_1, …, m_d, n_1, …, n_d) → (m_1, n_1, m_2, n_2, …).
        let perm = (0..<(2 * d)).map { $0 % 2 == 0 ? $0 / 2 : d + $0 / 2 }
        let permuted = try Workspace<T>(count: checkedProduct([rows, columns], what: "a \(rows)×\(columns) matrix"))
        TTKernels.permute(values, shape: rowModes + columnModes, perm: perm, into: permuted.pointer)
        let tt = try TTTensor<T>(ttsvd: UnsafePointer(permuted.pointer), shape: zip(rowModes, columnModes).map { $0 * $1 },
                                 caps: caps, eps: eps, progress: progress, overwritable: true)
        withExtendedLifetime(permuted) {}
        self.init(unchecked: tt.cores, rowModes: rowModes, columnModes: columnModes, ranks: tt.ranks)
    }

    /// The number of stored values, Σ r_{k-1} · m_k · n_k · r_k.
    /// - Complexity: O(d).
    public var parameterCount: Int { cores.reduce(0) { $0 + $1.count } }

    /// The same cores as a TT tensor of shape (m_1 n_1, …, m_d n_d) (for rounding, norms,
    /// inner products); shares nothing mutable.
    public var tensorTrain: TTTensor<T> {
        TTTensor(unchecked: cores, shape: zip(rowModes, columnModes).map { $0 * $1 }, ranks: ranks)
    }

    /// A TT-matrix from a TT tensor over the merged modes m_k · n_k (for example after rounding).
    /// - Throws: `TNError.shape` when the mode lists differ in length from the order or
    ///   mode k of `tensorTrain` is not m_k · n_k.
    public init(_ tensorTrain: TTTensor<T>, rowModes: [Int], columnModes: [Int]) throws {
        guard rowModes.count == tensorTrain.order, columnModes.count == tensorTrain.order else {
            throw TNError.shape("a TT tensor of order \(tensorTrain.order) cannot take row modes \(rowModes) and column modes \(columnModes)")
        }
        for k in 0..<tensorTrain.order where rowModes[k] * columnModes[k] != tensorTrain.shape[k] {
            throw TNError.shape("TT mode \(k) has size \(tensorTrain.shape[k]) but row mode \(rowModes[k]) × column mode \(columnModes[k]) is \(rowModes[k] * columnModes[k])")
        }
        self.init(unchecked: tensorTrain.cores, rowModes: rowModes, columnModes: columnModes, ranks: tensorTrain.ranks)
    }

    /// The full (Π m_k) × (Π n_k) matrix, row-major.
    /// - Throws: `TNError.memory` when the size overflows or cannot be allocated.
    /// - Complexity: O(Σ_k (Π_{j≤k} m_j n_j) · r_{k-1} · r_k) time, O(rows · columns · max r) memory.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func toMatrix() throws -> Matrix<T> {
        let d = rowModes.count
        let dense = try tensorTrain.dense()
        let rows = rowModes.reduce(1, *), columns = columnModes.reduce(1, *)
        let result = try Matrix<T>(uninitializedRows: rows, columns: columns)
        // (m_1, n_1, …, m_d, n_d) → (m_1, …, m_d, n_1, …, n_d)
        var shape: [Int] = []
        for k in 0..<d { shape += [rowModes[k], columnModes[k]] }
        let perm = (0..<(2 * d)).map { $0 < d ? 2 * $0 : 2 * ($0 - d) + 1 }
        dense.withUnsafeBufferPointer { TTKernels.permute($0.baseAddress!, shape: shape, perm: perm, into: result.storage.pointer) }
        return result
    }
}
