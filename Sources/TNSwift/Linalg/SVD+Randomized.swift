extension SVD {
    /// Whether `randomized` is expected to beat the exact SVD for a rank-`rank` approximation
    /// of an m×n matrix: the matrix is large (min(m, n) ≥ 1024) and the sketch narrow
    /// (`rank + oversampling` below a quarter of min(m, n)).
    ///
    /// Use it only when a rank cap decides the truncation: a squared-error budget needs the
    /// whole spectrum, which only the exact SVD gives.
    /// - Complexity: O(1).
    public static func prefersRandomized(m: Int, n: Int, rank: Int, oversampling: Int = 10) -> Bool {
        let k = Swift.min(m, n)
        guard k >= 1024, rank >= 1, oversampling >= 0 else { return false }
        return rank < k / 4 - oversampling
    }

    /// A rank-`rank` SVD of `a` by the randomized range finder (Halko, Martinsson & Tropp):
    /// see `randomized(rows:columns:values:rowStride:rank:oversampling:powerIterations:seed:)`.
    /// - Throws: `TNError.value` for a bad argument, a NaN or an infinity in `a`, or a failed
    ///   SVD of the sketch; `TNError.memory` when a buffer cannot be allocated.
    /// - Complexity: O(m · n · l · (2 · powerIterations + 2)) with l = rank + oversampling.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func randomized(_ a: Matrix<T>, rank: Int, oversampling: Int = 10,
                                  powerIterations: Int = 2, seed: UInt64 = 0) throws -> SVD<T> {
        try a.withUnsafeBufferPointer { p in
            try randomizedFactor(rows: a.rows, columns: a.columns, values: p.baseAddress!, rowStride: a.columns,
                           rank: rank, oversampling: oversampling, powerIterations: powerIterations, seed: seed)
        }
    }

    /// A rank-`rank` SVD of the row-major `rows`×`columns` matrix at `values` (row i at
    /// `values + i * rowStride`; nil: dense) by the randomized range finder.
    ///
    /// With l = min(rank + oversampling, min(m, n)) and a seeded Gaussian n×l matrix Ω, the
    /// range of A is sketched by Y = A·Ω, refined by `powerIterations` rounds of
    /// Y ← A·(Aᵀ·Q) with a QR after every product, and orthonormalised to Q (m×l); the exact
    /// SVD of the small l×n matrix B = Qᵀ·A = Ũ·diag(s)·Vt then gives U = Q·Ũ. The first
    /// `rank` triplets are returned. `u · diag(s) · vt` is the projection of A onto the span
    /// of `u`, so its squared error is exactly ‖A‖²_F − Σ s²; a matrix of rank ≤ `rank` is
    /// recovered up to rounding. The same seed gives the same result. When l reaches min(m, n)
    /// the exact SVD is computed and truncated instead. `values` is only read.
    /// - Parameters:
    ///   - rank: the number of singular triplets wanted, at least 1; above min(m, n) it is
    ///     min(m, n).
    ///   - oversampling: extra sketch columns (≥ 0) that make the leading `rank` accurate.
    ///   - powerIterations: rounds (≥ 0) that sharpen the sketch for slowly decaying spectra.
    ///   - seed: fixes the random sketch.
    /// - Throws: `TNError.shape` for a negative size or a row stride below `columns`,
    ///   `TNError.value` for `rank` < 1, negative `oversampling` or `powerIterations`, a NaN or
    ///   an infinity in the matrix, or a failed SVD of the sketch; `TNError.memory` when a
    ///   buffer cannot be allocated.
    /// - Complexity: O(m · n · l · (2 · powerIterations + 2) + (m + n) · l²); memory O((m + n) · l),
    ///   the matrix itself is never copied.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func randomized(rows m: Int, columns n: Int, values: UnsafePointer<T>, rowStride: Int? = nil,
                                  rank: Int, oversampling: Int = 10, powerIterations: Int = 2,
                                  seed: UInt64 = 0) throws -> SVD<T> {
        try randomizedFactor(rows: m, columns: n, values: values, rowStride: rowStride, rank: rank,
                             oversampling: oversampling, powerIterations: powerIterations, seed: seed)
    }

    /// The randomized SVD behind the public entry points (see `SVD.factor` for why
    /// code in this module calls this rather than them).
    static func randomizedFactor(rows m: Int, columns n: Int, values: UnsafePointer<T>, rowStride: Int?,
                                 rank: Int, oversampling: Int, powerIterations: Int, seed: UInt64) throws -> SVD<T> {
        let lda = try LinalgKernels.checkMatrix("randomized svd", rows: m, columns: n, rowStride: rowStride)
        guard rank >= 1 else { throw TNError.value("randomized svd: the rank must be at least 1 (got \(rank))") }
        guard oversampling >= 0 else { throw TNError.value("randomized svd: oversampling must be non-negative (got \(oversampling))") }
        guard powerIterations >= 0 else {
            throw TNError.value("randomized svd: the number of power iterations must be non-negative (got \(powerIterations))")
        }
        _ = ThreadSettings.workers   // BLAS threading is configured before any GEMM runs
        let k = Swift.min(m, n)
        let r = Swift.min(rank, k)
        let l = oversampling >= k - r ? k : r + oversampling
        if l == k {
            return try SVD.factor(rows: m, columns: n, values: values, rowStride: lda,
                                  driver: .divideAndConquerWithFallback).truncated(rank: r)
        }
        try LinalgKernels.checkFinite("randomized svd", rows: m, columns: n, values: values, rowStride: lda)

        // Y = A·Ω with a Gaussian Ω (n×l), then Q = orth(Y).
        var random = SeededRandom(seed: seed)
        let omega = try Workspace<T>(count: n &* l)
        random.fillGaussian(omega.pointer, count: n &* l)
        let y = try Matrix<T>(uninitializedRows: m, columns: l)
        LinalgKernels.gemm(transA: false, transB: false, m: m, n: l, k: n, a: values, lda: lda,
                           b: omega.pointer, ldb: l, c: y.storage.pointer, ldc: l)
        var q = try QR.factor(rows: m, columns: l, values: y.storage.pointer, rowStride: l).q
        // Power iterations: Q ← orth(A · orth(Aᵀ·Q)).
        if powerIterations > 0 {
            let z = try Matrix<T>(uninitializedRows: n, columns: l)
            for _ in 0..<powerIterations {
                LinalgKernels.gemm(transA: true, transB: false, m: n, n: l, k: m, a: values, lda: lda,
                                   b: q.storage.pointer, ldb: l, c: z.storage.pointer, ldc: l)
                let qz = try QR.factor(rows: n, columns: l, values: z.storage.pointer, rowStride: l).q
                LinalgKernels.gemm(transA: false, transB: false, m: m, n: l, k: n, a: values, lda: lda,
                                   b: qz.storage.pointer, ldb: l, c: q.storage.pointer, ldc: l)
                withExtendedLifetime(qz) {}
                q = try QR.factor(rows: m, columns: l, values: q.storage.pointer, rowStride: l).q
            }
            withExtendedLifetime(z) {}
        }
        // B = Qᵀ·A (l×n) and its exact SVD.
        let b = try Matrix<T>(uninitializedRows: l, columns: n)
        LinalgKernels.gemm(transA: true, transB: false, m: l, n: n, k: m, a: q.storage.pointer, lda: l,
                           b: values, ldb: lda, c: b.storage.pointer, ldc: n)
        let small = try SVD.factor(rows: l, columns: n, values: b.storage.pointer, rowStride: n,
                                   driver: .divideAndConquerWithFallback).truncated(rank: r)
        // U = Q·Ũ (m×r).
        let u = try Matrix<T>(uninitializedRows: m, columns: r)
        LinalgKernels.gemm(transA: false, transB: false, m: m, n: r, k: l, a: q.storage.pointer, lda: l,
                           b: small.u.storage.pointer, ldb: r, c: u.storage.pointer, ldc: r)
        withExtendedLifetime((omega, y, q, b, small)) {}
        return SVD(u: u, s: small.s, vt: small.vt)
    }
}
