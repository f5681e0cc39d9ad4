extension SVD {
    /// Whether the left singular vectors of a wide m×n matrix are better computed from its
    /// Gram matrix A·Aᵀ (m×m): one GEMM of 2·m²·n operations instead of LAPACK's LQ + SVD,
    /// which runs at level-2 speed on few long rows, and no copy of A.
    ///
    /// The Gram is accumulated in double precision (`leftFactorByGram`), where squaring loses
    /// singular values below √ε₆₄ · σ_max ≈ 1.5e-8 · σ_max — under single precision's own
    /// resolution — so it is used when a relative tolerance, if any, is at least 1e-6:
    /// truncations decided there are far above what squaring loses.
    /// - Complexity: O(1).
    static func prefersGram(m: Int, n: Int, relativeTolerance: Double?) -> Bool {
        n >= 4 &* m && m >= 1 && (relativeTolerance ?? 1) >= 1e-6
    }

    /// Left singular vectors and singular values of the matrix whose Gram matrix A·Aᵀ is
    /// `gram` (m×m, row-major, symmetric positive semi-definite), from the Gram's eigenpairs
    /// (`?syevr`).
    /// - Parameter leading: how many leading vectors to return; nil for all m. With a count,
    ///   only that many singular values come back too.
    /// - Returns: `u`, m × k with the vectors as columns, and k singular values (m when
    ///   `leading` is nil), descending — square roots of the eigenvalues, forced
    ///   non-increasing against rounding.
    /// - Throws: `TNError.value` when the Gram has a NaN or an infinity or LAPACK fails;
    ///   `TNError.memory` when a buffer cannot be allocated.
    /// - Complexity: O(m³) (the tridiagonal reduction) + O(m² · k).
    static func leftFactor(ofGram gram: UnsafePointer<T>, size m: Int, leading: Int? = nil) throws
        -> (u: Matrix<T>, singularValues: [T]) {
        let k = Swift.min(leading ?? m, m)
        guard m >= 1, k >= 1 else { return (try Matrix(uninitializedRows: m, columns: 0), []) }
        _ = try LinalgKernels.checkMatrix("gram eigendecomposition", rows: m, columns: m, rowStride: m)
        try LinalgKernels.checkFinite("gram eigendecomposition", rows: m, columns: m, values: gram, rowStride: m)
        _ = ThreadSettings.workers   // BLAS threading is configured before LAPACK runs
        let a = try Workspace<T>(count: m &* m)
        a.pointer.update(from: gram, count: m &* m)
        let w = try Workspace<T>(count: m)
        let z = try Workspace<T>(count: m &* m)
        let isuppz = try LinalgKernels.integerWorkspace(count: 2 &* m, as: T.self)
        // All eigenpairs (MRRR, O(m²) after the reduction): asking for a subset switches LAPACK
        // to bisection and inverse iteration, which measured slower even for a fifth of them.
        let jobz = CChar(UInt8(ascii: "V")), range = CChar(UInt8(ascii: "A"))
        let n = Int32(m)
        var found: Int32 = 0
        var query: T = 0
        var iquery: Int32 = 0
        var info = T.syevr(jobz: jobz, range: range, n: n, a: a.pointer, lda: n, il: 1, iu: n, m: &found,
                           w: w.pointer, z: z.pointer, ldz: n, isuppz: isuppz.pointer, work: &query, lwork: -1,
                           iwork: &iquery, liwork: -1)
        guard info == 0 else { throw LinalgKernels.rejectedArgument("?syevr", info) }
        let work = try Workspace<T>(count: LinalgKernels.workspaceSize(query, routine: "?syevr"))
        let iwork = try LinalgKernels.integerWorkspace(count: Int(iquery), as: T.self)
        info = T.syevr(jobz: jobz, range: range, n: n, a: a.pointer, lda: n, il: 1, iu: n, m: &found,
                       w: w.pointer, z: z.pointer, ldz: n, isuppz: isuppz.pointer, work: work.pointer,
                       lwork: Int32(work.count), iwork: iwork.pointer, liwork: Int32(Swift.max(iquery, 1)))
        defer { withExtendedLifetime((a, w, z, isuppz.owner, work, iwork.owner)) {} }
        guard info >= 0 else { throw LinalgKernels.rejectedArgument("?syevr", info) }
        guard info == 0, Int(found) == m else {
            throw TNError.value("eigendecomposition of a \(m)×\(m) Gram matrix failed (?syevr info \(info), \(found) of \(m) values)")
        }
        // LAPACK's eigenpairs ascend; column j of the column-major z (m × m) is vector j.
        let u = try Matrix<T>(uninitializedRows: m, columns: k)
        var s = [T](repeating: 0, count: k)
        for c in 0..<k {
            let j = m - 1 - c
            s[c] = Swift.max(w.pointer[j], 0).squareRoot()
            if c > 0, s[c] > s[c - 1] { s[c] = s[c - 1] }
            for i in 0..<m { u.storage.pointer[i &* k &+ c] = z.pointer[j &* m &+ i] }
        }
        return (u, s)
    }

    /// `leftFactor(ofGram:size:leading:)` for the row-major m×n matrix at `values` (row stride
    /// `rowStride`), with A·Aᵀ accumulated in double precision: one GEMM for double input;
    /// single precision is widened a block of columns at a time, so the extra memory stays
    /// at m × 4096 doubles per worker.
    /// - Throws: `TNError.value` for a NaN or an infinity; `TNError.memory` when the Gram
    ///   cannot be allocated.
    /// - Complexity: O(m² · n + m³).
    static func leftFactorByGram(rows m: Int, columns n: Int, values: UnsafePointer<T>, rowStride: Int,
                                 leading: Int? = nil) throws -> (u: Matrix<T>, singularValues: [T]) {
        let g = try Workspace<Double>(count: m &* m)
        defer { withExtendedLifetime(g) {} }
        if T.self == Double.self {
            let a = UnsafeRawPointer(values).assumingMemoryBound(to: Double.self)
            LinalgKernels.gemm(transA: false, transB: true, m: m, n: m, k: n, a: a, lda: rowStride,
                               b: a, ldb: rowStride, c: g.pointer, ldc: m)
        } else {
            try accumulateWidenedGram(rows: m, columns: n, values: values, rowStride: rowStride, into: g.pointer)
        }
        let (u, s) = try SVD<Double>.leftFactor(ofGram: g.pointer, size: m, leading: leading)
        let converted = try Matrix<T>(uninitializedRows: u.rows, columns: u.columns)
        u.withUnsafeBufferPointer { src in
            for i in 0..<src.count { converted.storage.pointer[i] = T(src[i]) }
        }
        return (converted, s.map { T($0) })
    }

    /// G = A·Aᵀ in double precision for a non-double A: blocks of columns are widened and
    /// multiplied, each worker summing its own blocks, then the partial sums are added.
    private static func accumulateWidenedGram(rows m: Int, columns n: Int, values: UnsafePointer<T>, rowStride: Int,
                                              into g: UnsafeMutablePointer<Double>) throws {
        let block = 4096
        let blocks = (n + block - 1) / block
        let workers = Swift.max(1, Swift.min(ThreadSettings.workers, blocks))
        let partial = try Workspace<Double>(count: workers &* m &* m)
        let scratch = try Workspace<Double>(count: workers &* m &* block)
        defer { withExtendedLifetime((partial, scratch)) {} }
        partial.pointer.update(repeating: 0, count: workers &* m &* m)
        TensorKernels.forEach(workers, parallel: workers > 1) { w in
            let sum = partial.pointer + w &* m &* m, wide = scratch.pointer + w &* m &* block
            var b = w
            while b < blocks {
                let c0 = b &* block, width = Swift.min(block, n &- c0)
                for i in 0..<m {
                    let src = values + (i &* rowStride &+ c0), dst = wide + i &* width
                    for j in 0..<width { dst[j] = Double(src[j]) }
                }
                Double.gemm(transA: false, transB: true, m: m, n: m, k: width, alpha: 1, a: wide, lda: width,
                            b: wide, ldb: width, beta: 1, c: sum, ldc: m)
                b &+= workers
            }
        }
        g.update(from: partial.pointer, count: m &* m)
        for w in 1..<workers {
            let sum = partial.pointer + w &* m &* m
            for i in 0..<(m &* m) { g[i] += sum[i] }
        }
    }
}
