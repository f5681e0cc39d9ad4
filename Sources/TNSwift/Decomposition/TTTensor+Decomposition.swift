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
    ///   current unfolding (the exact SVD copies it for LAPACK; the randomized one only reads
    ///   it), the tensor itself is not copied.
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
    init(ttsvd values: UnsafePointer<T>, shape: [Int], caps: [Int?], eps: Double?,
         progress: DecompositionProgressHandler? = nil) throws {
        try TTTensor.checkEps(eps)
        guard !shape.isEmpty else { throw TNError.shape("a TT tensor needs at least one mode (the shape is empty)") }
        for (k, n) in shape.enumerated() where n < 1 {
            throw TNError.shape("mode \(k) of the shape \(shape) has size \(n); TT modes must be at least 1")
        }
        let d = shape.count
        let total = try checkedProduct(shape, what: "a tensor of shape \(shape)")
        let buffer = UnsafeBufferPointer(start: values, count: total)
        let normSquared = TTKernels.squaredNorm(buffer)
        guard normSquared.isFinite else {
            throw TNError.value("TT-SVD: the tensor has a NaN or an infinity (or its norm overflows)")
        }
        let budget = eps.map { $0 * $0 * normSquared / Double(Swift.max(d - 1, 1)) }
        // The unfolding being factored: the caller's buffer at first (never copied here), then
        // diag(s) · Vt of the previous step, which has only r_k rows.
        var current: [T] = []
        var cores: [[T]] = []
        var ranks = [1]
        for k in 0..<(d - 1) {
            let rows = ranks[k] * shape[k]
            let cols = (k == 0 ? total : current.count) / rows
            let step = { (p: UnsafePointer<T>) throws -> (core: [T], next: [T]) in
                if eps == nil, let cap = caps[k], SVD<T>.prefersRandomized(m: rows, n: cols, rank: cap) {
                    let svd = try SVD<T>.randomizedFactor(rows: rows, columns: cols, values: p, rowStride: nil, rank: cap,
                                                          oversampling: 10, powerIterations: 2, seed: UInt64(k))
                    return try TTTensor.truncatedStep(svd, maxRank: caps[k], budget: budget)
                }
                if SVD<T>.prefersGram(m: rows, n: cols, relativeTolerance: eps) {
                    // U from A·Aᵀ; the next unfolding is U_rᵀ·A = diag(s)·Vt.
                    let (u, s) = try SVD<T>.leftFactorByGram(rows: rows, columns: cols, values: p, rowStride: cols,
                                                             leading: budget == nil ? caps[k] : nil)
                    let r = try SVD<T>.truncationRank(singularValues: s, maxRank: caps[k], squaredErrorBudget: budget)
                    var core = [T](repeating: 0, count: rows * r)
                    u.withUnsafeBufferPointer { u in
                        core.withUnsafeMutableBufferPointer {
                            LinalgKernels.copyRows(rows: rows, columns: r, from: u.baseAddress!, rowStride: u.count / rows, to: $0.baseAddress!)
                        }
                    }
                    var next = [T](repeating: 0, count: r * cols)
                    core.withUnsafeBufferPointer { c in
                        next.withUnsafeMutableBufferPointer {
                            LinalgKernels.gemm(transA: true, transB: false, m: r, n: cols, k: rows, a: c.baseAddress!, lda: r,
                                               b: p, ldb: cols, c: $0.baseAddress!, ldc: cols)
                        }
                    }
                    return (core, next)
                }
                let svd = try SVD<T>.factor(rows: rows, columns: cols, values: p, rowStride: nil,
                                            driver: .divideAndConquerWithFallback)
                return try TTTensor.truncatedStep(svd, maxRank: caps[k], budget: budget)
            }
            let (core, next) = k == 0 ? try step(values) : try current.withUnsafeBufferPointer { try step($0.baseAddress!) }
            let r = core.count / rows
            cores.append(core)                       // (r_{k-1} n_k) × r
            current = next
            ranks.append(r)
            try DecompositionProgress.report(progress, "TT-SVD", step: k + 1, of: d - 1, error: nil)
        }
        if d == 1 { current = Array(buffer) }
        cores.append(current)
        ranks.append(1)
        self.init(unchecked: cores, shape: shape, ranks: ranks)
    }

    /// The core (U_r, rows × r) and the next unfolding (diag(s_r) · Vt_r) of a truncated SVD.
    private static func truncatedStep(_ svd: SVD<T>, maxRank: Int?, budget: Double?) throws -> (core: [T], next: [T]) {
        let t = try svd.truncated(rank: svd.truncationRank(maxRank: maxRank, squaredErrorBudget: budget))
        var next = t.vt.values
        let cols = t.vt.columns
        for i in 0..<t.rank {
            let s = t.s[i]
            for j in 0..<cols { next[i &* cols &+ j] *= s }
        }
        return (t.u.values, next)
    }
}
