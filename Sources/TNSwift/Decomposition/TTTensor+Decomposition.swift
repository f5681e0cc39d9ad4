extension TTTensor {
    /// TT-SVD of the C-contiguous tensor at `values` with one rank cap for every bond.
    /// See `init(decomposing:shape:maxRanks:eps:)`.
    /// - Throws: as `init(decomposing:shape:maxRanks:eps:)`.
    /// - Complexity: as `init(decomposing:shape:maxRanks:eps:)`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(decomposing values: UnsafePointer<T>, shape: [Int], maxRank: Int? = nil, eps: Double? = nil,
                progress: DecompositionProgressHandler? = nil) throws {
        if let cap = maxRank, cap < 1 { throw TNError.value("the TT rank cap must be at least 1 (got \(cap))") }
        let caps = [Int?](repeating: maxRank, count: Swift.max(shape.count - 1, 0))
        try self.init(ttsvd: values, shape: shape, caps: caps, eps: eps, progress: progress)
    }

    /// TT-SVD (Oseledets 2011) of the C-contiguous tensor at `values` of shape `shape`:
    /// sequential truncated SVDs of the unfoldings, left to right.
    ///
    /// With `eps`, each of the d − 1 truncations discards at most a squared error of
    /// eps² · ‖X‖²_F / (d − 1), so ‖X − TT(X)‖_F ≤ eps · ‖X‖_F; eps = 0 drops only exact
    /// zero singular values. Rank caps then limit each bond (and win over eps, which then no
    /// longer bounds the error). With caps and no eps, an unfolding large enough for
    /// `SVD.prefersRandomized` is factored by the randomized SVD (seeded, reproducible).
    /// - Parameters:
    ///   - values: Π shape values, C order; only read.
    ///   - shape: the mode sizes, each at least 1.
    ///   - maxRanks: one cap per bond (d − 1 of them), each at least 1.
    ///   - eps: the relative Frobenius tolerance, finite and ≥ 0; nil for none.
    ///   - progress: called after each of the d − 1 truncations; returning false stops the
    ///     decomposition with `TNError.interrupted`.
    /// - Throws: `TNError.shape` for an empty shape, a mode below 1, or a cap list whose length
    ///   is not d − 1; `TNError.value` for a cap below 1, a negative or non-finite eps, or a
    ///   NaN or infinity in the tensor; `TNError.memory` when a buffer cannot be allocated;
    ///   `TNError.interrupted` when `progress` returns false.
    /// - Complexity: O(Σ_k r_{k-1} n_k · (Π_{j>k} n_j) · min(r_{k-1} n_k, Π_{j>k} n_j)), dominated
    ///   by the first SVD, O(N · min(n_1, N/n_1)) for N = Π shape; memory: the SVD of the
    ///   current unfolding (the exact SVD copies it for LAPACK; the randomized SVD and the
    ///   Gram route for wide unfoldings only read it), the tensor itself is not copied.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(decomposing values: UnsafePointer<T>, shape: [Int], maxRanks: [Int], eps: Double? = nil,
                progress: DecompositionProgressHandler? = nil) throws {
        guard maxRanks.count == Swift.max(shape.count - 1, 0) else {
            throw TNError.shape("a TT tensor of order \(shape.count) has \(Swift.max(shape.count - 1, 0)) bonds but \(maxRanks.count) rank caps were given")
        }
        for (k, cap) in maxRanks.enumerated() where cap < 1 {
            throw TNError.value("the TT rank cap of bond \(k) must be at least 1 (got \(cap))")
        }
        try self.init(ttsvd: values, shape: shape, caps: maxRanks.map { Optional($0) }, eps: eps, progress: progress)
    }

    /// Checks eps, accepting nil.
    static func checkEps(_ eps: Double?) throws {
        if let e = eps, !(e >= 0 && e.isFinite) {
            throw TNError.value("eps must be finite and non-negative (got \(e))")
        }
    }

    /// The TT-SVD behind the public initialisers (caps already validated).
    ///
    /// Each step factors the current unfolding (rows r_{k-1}·n_k): through the Gram matrix
    /// when the unfolding is wide (`SVD.prefersGram`; as accurate as the exact SVD at the
    /// tolerances allowed there), else by the randomized SVD when only a cap decides and it is
    /// cheaper (`SVD.prefersRandomized`), else exactly. The next unfolding, diag(s)·Vt = U_rᵀ·A, has
    /// only r_k rows. With `overwritable` (a buffer the caller no longer needs, as in
    /// `TTMatrix`), a first step through the Gram writes that next unfolding over the tensor
    /// block by block instead of allocating it.
    init(ttsvd values: UnsafePointer<T>, shape: [Int], caps: [Int?], eps: Double?,
         progress: DecompositionProgressHandler? = nil, overwritable: Bool = false) throws {
        try TTTensor.checkEps(eps)
        guard !shape.isEmpty else { throw TNError.shape("a TT tensor needs at least one mode (the shape is empty)") }
        for (k, n) in shape.enumerated() where n < 1 {
            throw TNError.shape("mode \(k) of the shape \(shape) has size \(n); TT modes must be at least 1")
        }
        let d = shape.count
        let total = try checkedProduct(shape, what: "a tensor of shape \(shape)")
        let normSquared = try ModeKernels.finiteSquaredNorm(values, count: total, operation: "TT-SVD")
        let budget = eps.map { $0 * $0 * normSquared / Double(Swift.max(d - 1, 1)) }
        // The unfolding being factored: the caller's buffer at first, then the next unfolding
        // of each step, owned by `owner` (nil while it lives in the caller's buffer).
        var current = values
        var owner: Workspace<T>? = nil
        var cores: [[T]] = []
        var ranks = [1]
        for k in 0..<(d - 1) {
            let rows = ranks[k] * shape[k]
            let cols = shape[(k + 1)...].reduce(1, *)
            let next: UnsafePointer<T>
            let core: [T]
            let gram = SVD<T>.prefersGram(m: rows, n: cols, relativeTolerance: eps)
            if !gram, eps == nil, let cap = caps[k], SVD<T>.prefersRandomized(m: rows, n: cols, rank: cap) {
                let svd = try SVD<T>.randomizedFactor(rows: rows, columns: cols, values: current, rowStride: nil, rank: cap,
                                                      oversampling: 10, powerIterations: 2, seed: UInt64(k))
                (core, owner) = try TTTensor.truncatedStep(svd, maxRank: caps[k], budget: budget)
                next = UnsafePointer(owner!.pointer)
            } else if gram {
                let (kept, r, _) = try ModeKernels.leadingLeftSingularVectors(matrix: current, rows: rows, columns: cols,
                                                                              maxRank: caps[k], squaredErrorBudget: budget,
                                                                              relativeTolerance: eps)
                core = kept
                if k == 0 && overwritable {
                    try TTTensor.projectInPlace(UnsafeMutablePointer(mutating: values), rows: rows, columns: cols, basis: kept, rank: r)
                    owner = nil
                    next = values
                } else {
                    let out = try Workspace<T>(count: r &* cols)
                    kept.withUnsafeBufferPointer { c in
                        LinalgKernels.gemm(transA: true, transB: false, m: r, n: cols, k: rows, a: c.baseAddress!, lda: r,
                                           b: current, ldb: cols, c: out.pointer, ldc: cols)
                    }
                    owner = out
                    next = UnsafePointer(out.pointer)
                }
            } else {
                let svd = try SVD<T>.factor(rows: rows, columns: cols, values: current, rowStride: nil,
                                            driver: .divideAndConquerWithFallback)
                (core, owner) = try TTTensor.truncatedStep(svd, maxRank: caps[k], budget: budget)
                next = UnsafePointer(owner!.pointer)
            }
            cores.append(core)                       // (r_{k-1} n_k) × r_k
            ranks.append(core.count / rows)
            current = next
            try DecompositionProgress.report(progress, "TT-SVD", step: k + 1, of: d - 1, error: nil)
        }
        cores.append(Array(UnsafeBufferPointer(start: current, count: ranks[d - 1] * shape[d - 1])))
        withExtendedLifetime(owner) {}
        ranks.append(1)
        self.init(unchecked: cores, shape: shape, ranks: ranks)
    }

    /// Overwrites the row-major rows×columns matrix A with B = Uᵀ·A (rank × columns, row-major,
    /// in the first rank·columns elements), one block of columns at a time: block j of B only
    /// replaces elements of A's block j, which that block's product has already read.
    private static func projectInPlace(_ a: UnsafeMutablePointer<T>, rows: Int, columns: Int, basis: [T], rank: Int) throws {
        let block = Swift.max(1, Swift.min(columns, 8192))
        let temp = try Workspace<T>(count: rank &* block)
        defer { withExtendedLifetime(temp) {} }
        basis.withUnsafeBufferPointer { u in
            var c0 = 0
            while c0 < columns {
                let width = Swift.min(block, columns &- c0)
                LinalgKernels.gemm(transA: true, transB: false, m: rank, n: width, k: rows, a: u.baseAddress!, lda: rank,
                                   b: a + c0, ldb: columns, c: temp.pointer, ldc: width)
                for i in 0..<rank { (a + (i &* columns &+ c0)).update(from: temp.pointer + i &* width, count: width) }
                c0 &+= width
            }
        }
    }

    /// The core (U_r, rows × r) and the next unfolding (diag(s_r) · Vt_r) of a truncated SVD.
    private static func truncatedStep(_ svd: SVD<T>, maxRank: Int?, budget: Double?) throws -> ([T], Workspace<T>?) {
        let t = try svd.truncated(rank: svd.truncationRank(maxRank: maxRank, squaredErrorBudget: budget))
        let cols = t.vt.columns
        let next = try Workspace<T>(count: t.rank &* cols)
        t.vt.withUnsafeBufferPointer { vt in
            for i in 0..<t.rank {
                let s = t.s[i]
                for j in 0..<cols { next.pointer[i &* cols &+ j] = vt[i &* cols &+ j] * s }
            }
        }
        return (t.u.values, next)
    }
}
