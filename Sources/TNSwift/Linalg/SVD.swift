/// The thin singular value decomposition `A = U · diag(s) · Vt` of an m×n matrix, with
/// k = min(m, n) singular values.
///
/// Matrices are row-major (see `Matrix`). LAPACK is column-major, and a row-major A is the
/// column-major Aᵀ = V · diag(s) · Uᵀ, so LAPACK's factors of Aᵀ are written straight into
/// row-major `vt` and `u`: no transposes. The factorisation runs LAPACK's divide-and-conquer
/// `?gesdd`; when it reports non-convergence, the slower `?gesvd` (implicit QR) runs instead.
///
/// A matrix with a zero size (0×n, m×0) has the empty factorisation: `u` is m×0, `s` is
/// empty and `vt` is 0×n.
public struct SVD<T: LAPACKScalar> {
    /// m×k with orthonormal columns (row-major).
    public let u: Matrix<T>
    /// The k singular values, non-negative and in descending order.
    public let s: [T]
    /// k×n with orthonormal rows (row-major).
    public let vt: Matrix<T>

    /// The LAPACK routine that factorises (`gesdd`, then `gesvd` on failure); tests pick one.
    enum Driver {
        case divideAndConquerWithFallback
        case qrIteration
    }

    init(u: Matrix<T>, s: [T], vt: Matrix<T>) {
        self.u = u
        self.s = s
        self.vt = vt
    }

    /// Number of singular values (k).
    public var rank: Int { s.count }

    /// The thin SVD of `a`.
    /// - Throws: `TNError.value` when `a` has a NaN or an infinity or LAPACK fails to converge,
    ///   `TNError.memory` when the factors or LAPACK's workspace cannot be allocated.
    /// - Complexity: O(m · n · min(m, n)); memory: a copy of `a` (LAPACK overwrites it), the
    ///   factors, and LAPACK's workspace (a few k² + O(max(m, n)) elements for `?gesdd`).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(_ a: Matrix<T>) throws {
        self = try a.withUnsafeBufferPointer { p in
            try SVD.factor(rows: a.rows, columns: a.columns, values: p.baseAddress!, rowStride: a.columns,
                           driver: .divideAndConquerWithFallback)
        }
    }

    /// The thin SVD of the row-major `rows`×`columns` matrix at `values`, whose row i starts
    /// at `values + i * rowStride` (`rowStride` nil: `columns`, dense). `values` is only read.
    /// - Throws: `TNError.shape` for a negative size or a row stride below `columns`,
    ///   `TNError.value` when the matrix has a NaN or an infinity or LAPACK fails to converge,
    ///   `TNError.memory` when the factors or LAPACK's workspace cannot be allocated.
    /// - Complexity: O(m · n · min(m, n)).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(rows: Int, columns: Int, values: UnsafePointer<T>, rowStride: Int? = nil) throws {
        self = try SVD.factor(rows: rows, columns: columns, values: values, rowStride: rowStride,
                              driver: .divideAndConquerWithFallback)
    }

    /// The factorisation behind the public initialisers.
    ///
    /// Only the public entry points carry `@_specialize(exported:)`, and code in this module
    /// calls these unannotated functions instead: when one exported pre-specialisation called
    /// another, the release build referenced the callee's pre-specialised symbol without
    /// emitting it (undefined symbols in libtnswift.so).
    static func factor(rows m: Int, columns n: Int, values: UnsafePointer<T>, rowStride: Int?,
                       driver: Driver) throws -> SVD<T> {
        let stride = try LinalgKernels.checkMatrix("svd", rows: m, columns: n, rowStride: rowStride)
        _ = ThreadSettings.workers   // BLAS threading is configured before LAPACK runs
        let k = Swift.min(m, n)
        let u = try Matrix<T>(uninitializedRows: m, columns: k)
        let vt = try Matrix<T>(uninitializedRows: k, columns: n)
        if k == 0 { return SVD(u: u, s: [], vt: vt) }
        try LinalgKernels.checkFinite("svd", rows: m, columns: n, values: values, rowStride: stride)

        // The dense copy LAPACK destroys: row-major A = column-major Aᵀ (n×m, leading dimension n).
        let a = try Workspace<T>(count: m &* n)
        let s = try Workspace<T>(count: k)
        let (lm, ln, lk) = (Int32(n), Int32(m), Int32(k))
        let job = CChar(UInt8(ascii: "S"))
        var query: T = 0
        var info: Int32 = 0
        var gesddInfo: Int32? = nil

        if driver == .divideAndConquerWithFallback {
            LinalgKernels.copyRows(rows: m, columns: n, from: values, rowStride: stride, to: a.pointer)
            let iwork = try LinalgKernels.integerWorkspace(count: 8 &* k, as: T.self)
            info = T.gesdd(jobz: job, m: lm, n: ln, a: a.pointer, lda: lm, s: s.pointer, u: vt.storage.pointer,
                           ldu: lm, vt: u.storage.pointer, ldvt: lk, work: &query, lwork: -1, iwork: iwork.pointer)
            guard info == 0 else { throw LinalgKernels.rejectedArgument("?gesdd", info) }
            let work = try Workspace<T>(count: LinalgKernels.workspaceSize(query, routine: "?gesdd"))
            info = T.gesdd(jobz: job, m: lm, n: ln, a: a.pointer, lda: lm, s: s.pointer, u: vt.storage.pointer,
                           ldu: lm, vt: u.storage.pointer, ldvt: lk, work: work.pointer, lwork: Int32(work.count),
                           iwork: iwork.pointer)
            withExtendedLifetime((work, iwork.owner)) {}
            guard info >= 0 else { throw LinalgKernels.rejectedArgument("?gesdd", info) }
            gesddInfo = info
        }
        if gesddInfo != 0 {
            // ?gesdd did not converge (or was not asked): implicit-QR SVD from a fresh copy.
            LinalgKernels.copyRows(rows: m, columns: n, from: values, rowStride: stride, to: a.pointer)
            info = T.gesvd(jobu: job, jobvt: job, m: lm, n: ln, a: a.pointer, lda: lm, s: s.pointer,
                           u: vt.storage.pointer, ldu: lm, vt: u.storage.pointer, ldvt: lk, work: &query, lwork: -1)
            guard info == 0 else { throw LinalgKernels.rejectedArgument("?gesvd", info) }
            let work = try Workspace<T>(count: LinalgKernels.workspaceSize(query, routine: "?gesvd"))
            info = T.gesvd(jobu: job, jobvt: job, m: lm, n: ln, a: a.pointer, lda: lm, s: s.pointer,
                           u: vt.storage.pointer, ldu: lm, vt: u.storage.pointer, ldvt: lk,
                           work: work.pointer, lwork: Int32(work.count))
            withExtendedLifetime(work) {}
            guard info >= 0 else { throw LinalgKernels.rejectedArgument("?gesvd", info) }
            if info > 0 {
                let first = gesddInfo.map { "?gesdd (info \($0)) and " } ?? ""
                throw TNError.value("svd of a \(m)×\(n) matrix did not converge: \(first)?gesvd (info \(info)) failed")
            }
        }
        let singular = Array(UnsafeBufferPointer(start: s.pointer, count: k))
        withExtendedLifetime((a, s)) {}
        guard singular.allSatisfy({ $0.isFinite }) else {
            throw TNError.value("svd of a \(m)×\(n) matrix gave non-finite singular values (the input's magnitude overflows \(T.dtype))")
        }
        return SVD(u: u, s: singular, vt: vt)
    }
}
