/// The thin QR factorisation `A = Q · R` of an m×n matrix, k = min(m, n): Q is m×k with
/// orthonormal columns, R is k×n upper triangular (upper trapezoidal when m < n).
///
/// Matrices are row-major (see `Matrix`). A row-major A is the column-major Aᵀ, and the QR of
/// A is the LQ of Aᵀ (Aᵀ = Rᵀ · Qᵀ), so LAPACK's Householder `?gelqf` + `?orglq` on the
/// buffer as it lies give row-major R and Q directly — the same reflections `?geqrf` +
/// `?orgqr` would apply to a transposed copy. The diagonal of R may have either sign.
///
/// A matrix with a zero size has the empty factorisation: `q` is m×0 and `r` is 0×n.
public struct QR<T: LAPACKScalar> {
    /// m×k with orthonormal columns (row-major).
    public let q: Matrix<T>
    /// k×n, zero below the diagonal (row-major).
    public let r: Matrix<T>

    init(q: Matrix<T>, r: Matrix<T>) {
        self.q = q
        self.r = r
    }

    /// The thin QR of `a`.
    /// - Throws: `TNError.value` when `a` has a NaN or an infinity, `TNError.memory` when the
    ///   factors or LAPACK's workspace cannot be allocated.
    /// - Complexity: O(m · n · min(m, n)).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(_ a: Matrix<T>) throws {
        self = try a.withUnsafeBufferPointer { p in
            try QR.factor(rows: a.rows, columns: a.columns, values: p.baseAddress!, rowStride: a.columns)
        }
    }

    /// The thin QR of the row-major `rows`×`columns` matrix at `values`, whose row i starts at
    /// `values + i * rowStride` (`rowStride` nil: `columns`, dense). `values` is only read.
    /// - Throws: `TNError.shape` for a negative size or a row stride below `columns`,
    ///   `TNError.value` when the matrix has a NaN or an infinity, `TNError.memory` when the
    ///   factors or LAPACK's workspace cannot be allocated.
    /// - Complexity: O(m · n · min(m, n)); memory: the factors, one m×n buffer (which becomes
    ///   Q when m ≥ n) and LAPACK's workspace.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(rows: Int, columns: Int, values: UnsafePointer<T>, rowStride: Int? = nil) throws {
        self = try QR.factor(rows: rows, columns: columns, values: values, rowStride: rowStride)
    }

    /// The factorisation behind the public initialisers (see `SVD.factor` for why
    /// code in this module calls this rather than them).
    static func factor(rows m: Int, columns n: Int, values: UnsafePointer<T>, rowStride: Int?) throws -> QR<T> {
        let stride = try LinalgKernels.checkMatrix("qr", rows: m, columns: n, rowStride: rowStride)
        _ = ThreadSettings.workers   // BLAS threading is configured before LAPACK runs
        let k = Swift.min(m, n)
        if k == 0 {
            return QR(q: try Matrix(uninitializedRows: m, columns: 0), r: try Matrix(uninitializedRows: 0, columns: n))
        }
        try LinalgKernels.checkFinite("qr", rows: m, columns: n, values: values, rowStride: stride)

        // Row-major A (m×n) is column-major Aᵀ (n×m, leading dimension n).
        let a = try Workspace<T>(count: m &* n)
        LinalgKernels.copyRows(rows: m, columns: n, from: values, rowStride: stride, to: a.pointer)
        let tau = try Workspace<T>(count: k)
        let (ln, lm, lk) = (Int32(n), Int32(m), Int32(k))
        var query: T = 0
        var info = T.gelqf(m: ln, n: lm, a: a.pointer, lda: ln, tau: tau.pointer, work: &query, lwork: -1)
        guard info == 0 else { throw LinalgKernels.rejectedArgument("?gelqf", info) }
        var size = try LinalgKernels.workspaceSize(query, routine: "?gelqf")
        info = T.orglq(m: lk, n: lm, k: lk, a: a.pointer, lda: ln, tau: tau.pointer, work: &query, lwork: -1)
        guard info == 0 else { throw LinalgKernels.rejectedArgument("?orglq", info) }
        size = Swift.max(size, try LinalgKernels.workspaceSize(query, routine: "?orglq"))
        let work = try Workspace<T>(count: size)
        let r = try Matrix<T>(uninitializedRows: k, columns: n)

        info = T.gelqf(m: ln, n: lm, a: a.pointer, lda: ln, tau: tau.pointer, work: work.pointer, lwork: Int32(size))
        guard info == 0 else { throw LinalgKernels.rejectedArgument("?gelqf", info) }
        // L (n×k, lower) of Aᵀ sits in the first k rows of the row-major buffer as Lᵀ = R.
        let rp = r.storage.pointer
        for i in 0..<k {
            let src = a.pointer + i &* n, dst = rp + i &* n
            for j in 0..<i { dst[j] = 0 }
            (dst + i).update(from: src + i, count: n &- i)
        }
        info = T.orglq(m: lk, n: lm, k: lk, a: a.pointer, lda: ln, tau: tau.pointer, work: work.pointer, lwork: Int32(size))
        guard info == 0 else { throw LinalgKernels.rejectedArgument("?orglq", info) }
        // The k×m column-major Qᵀ (leading dimension n) is row-major Q with row stride n.
        let q: Matrix<T>
        if n == k {
            q = Matrix(rows: m, columns: k, storage: a)
        } else {
            q = try Matrix<T>(uninitializedRows: m, columns: k)
            LinalgKernels.copyRows(rows: m, columns: k, from: a.pointer, rowStride: n, to: q.storage.pointer)
        }
        withExtendedLifetime((a, tau, work)) {}
        return QR(q: q, r: r)
    }
}
