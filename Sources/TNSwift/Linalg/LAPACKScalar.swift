import CBLAS

/// A `BLASScalar` with the LAPACK routines the linear-algebra layer calls; `Float` and `Double`
/// conform.
///
/// Each requirement is a thin wrapper over the Fortran routine of the same name in OpenBLAS:
/// column-major storage, sizes already known to fit LAPACK's 32-bit integers, and the routine's
/// `INFO` as the result (0 success, `-i` bad argument `i`, positive: routine-specific failure).
/// Passing `lwork == -1` asks for the optimal workspace size, returned in `work[0]`.
/// Callers use `SVD` and `QR`, which check their input and turn failures into `TNError`.
public protocol LAPACKScalar: BLASScalar {
    /// `?gesdd`: SVD by divide and conquer, `A = U * diag(S) * VT` (A is destroyed).
    /// `jobz` is an ASCII job letter (`S`: the thin factors).
    static func gesdd(jobz: CChar, m: Int32, n: Int32, a: UnsafeMutablePointer<Self>, lda: Int32,
                      s: UnsafeMutablePointer<Self>, u: UnsafeMutablePointer<Self>, ldu: Int32,
                      vt: UnsafeMutablePointer<Self>, ldvt: Int32, work: UnsafeMutablePointer<Self>,
                      lwork: Int32, iwork: UnsafeMutablePointer<Int32>) -> Int32

    /// `?gesvd`: SVD by implicit QR iteration (A is destroyed); `jobu`/`jobvt` are ASCII job letters.
    static func gesvd(jobu: CChar, jobvt: CChar, m: Int32, n: Int32, a: UnsafeMutablePointer<Self>,
                      lda: Int32, s: UnsafeMutablePointer<Self>, u: UnsafeMutablePointer<Self>,
                      ldu: Int32, vt: UnsafeMutablePointer<Self>, ldvt: Int32,
                      work: UnsafeMutablePointer<Self>, lwork: Int32) -> Int32

    /// `?gelqf`: Householder LQ factorisation `A = L * Q` (reflectors left in A and `tau`).
    static func gelqf(m: Int32, n: Int32, a: UnsafeMutablePointer<Self>, lda: Int32,
                      tau: UnsafeMutablePointer<Self>, work: UnsafeMutablePointer<Self>,
                      lwork: Int32) -> Int32

    /// `?orglq`: overwrites A with the `m`×`n` matrix with orthonormal rows formed from the
    /// first `k` reflectors returned by `gelqf`.
    static func orglq(m: Int32, n: Int32, k: Int32, a: UnsafeMutablePointer<Self>, lda: Int32,
                      tau: UnsafePointer<Self>, work: UnsafeMutablePointer<Self>, lwork: Int32) -> Int32

    /// `?syevr`: eigenvalues (ascending, in `w`) and, with `jobz` V, eigenvectors (columns of
    /// `z`) of a symmetric matrix; `range` A for all, I for indices `il`…`iu` (1-based,
    /// ascending). A is destroyed; `m` receives the number found.
    static func syevr(jobz: CChar, range: CChar, n: Int32, a: UnsafeMutablePointer<Self>, lda: Int32,
                      il: Int32, iu: Int32, m: inout Int32, w: UnsafeMutablePointer<Self>,
                      z: UnsafeMutablePointer<Self>, ldz: Int32, isuppz: UnsafeMutablePointer<Int32>,
                      work: UnsafeMutablePointer<Self>, lwork: Int32, iwork: UnsafeMutablePointer<Int32>,
                      liwork: Int32) -> Int32
}

extension Float: LAPACKScalar {
    public static func gesdd(jobz: CChar, m: Int32, n: Int32, a: UnsafeMutablePointer<Float>, lda: Int32,
                             s: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, ldu: Int32,
                             vt: UnsafeMutablePointer<Float>, ldvt: Int32, work: UnsafeMutablePointer<Float>,
                             lwork: Int32, iwork: UnsafeMutablePointer<Int32>) -> Int32 {
        var jobz = jobz, m = m, n = n, lda = lda, ldu = ldu, ldvt = ldvt, lwork = lwork, info: Int32 = 0
        sgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, &info, 1)
        return info
    }

    public static func gesvd(jobu: CChar, jobvt: CChar, m: Int32, n: Int32, a: UnsafeMutablePointer<Float>,
                             lda: Int32, s: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>,
                             ldu: Int32, vt: UnsafeMutablePointer<Float>, ldvt: Int32,
                             work: UnsafeMutablePointer<Float>, lwork: Int32) -> Int32 {
        var jobu = jobu, jobvt = jobvt, m = m, n = n, lda = lda, ldu = ldu, ldvt = ldvt, lwork = lwork
        var info: Int32 = 0
        sgesvd_(&jobu, &jobvt, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, &info, 1, 1)
        return info
    }

    public static func gelqf(m: Int32, n: Int32, a: UnsafeMutablePointer<Float>, lda: Int32,
                             tau: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>,
                             lwork: Int32) -> Int32 {
        var m = m, n = n, lda = lda, lwork = lwork, info: Int32 = 0
        sgelqf_(&m, &n, a, &lda, tau, work, &lwork, &info)
        return info
    }

    public static func orglq(m: Int32, n: Int32, k: Int32, a: UnsafeMutablePointer<Float>, lda: Int32,
                             tau: UnsafePointer<Float>, work: UnsafeMutablePointer<Float>, lwork: Int32) -> Int32 {
        var m = m, n = n, k = k, lda = lda, lwork = lwork, info: Int32 = 0
        sorglq_(&m, &n, &k, a, &lda, tau, work, &lwork, &info)
        return info
    }

    public static func syevr(jobz: CChar, range: CChar, n: Int32, a: UnsafeMutablePointer<Float>, lda: Int32,
                             il: Int32, iu: Int32, m: inout Int32, w: UnsafeMutablePointer<Float>,
                             z: UnsafeMutablePointer<Float>, ldz: Int32, isuppz: UnsafeMutablePointer<Int32>,
                             work: UnsafeMutablePointer<Float>, lwork: Int32, iwork: UnsafeMutablePointer<Int32>,
                             liwork: Int32) -> Int32 {
        var jobz = jobz, range = range, uplo = CChar(UInt8(ascii: "U")), n = n, lda = lda, il = il, iu = iu
        var vl: Float = 0, vu: Float = 0, abstol: Float = 0, ldz = ldz, lwork = lwork, liwork = liwork, info: Int32 = 0
        ssyevr_(&jobz, &range, &uplo, &n, a, &lda, &vl, &vu, &il, &iu, &abstol, &m, w, z, &ldz, isuppz,
                work, &lwork, iwork, &liwork, &info, 1, 1, 1)
        return info
    }
}

extension Double: LAPACKScalar {
    public static func gesdd(jobz: CChar, m: Int32, n: Int32, a: UnsafeMutablePointer<Double>, lda: Int32,
                             s: UnsafeMutablePointer<Double>, u: UnsafeMutablePointer<Double>, ldu: Int32,
                             vt: UnsafeMutablePointer<Double>, ldvt: Int32, work: UnsafeMutablePointer<Double>,
                             lwork: Int32, iwork: UnsafeMutablePointer<Int32>) -> Int32 {
        var jobz = jobz, m = m, n = n, lda = lda, ldu = ldu, ldvt = ldvt, lwork = lwork, info: Int32 = 0
        dgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, &info, 1)
        return info
    }

    public static func gesvd(jobu: CChar, jobvt: CChar, m: Int32, n: Int32, a: UnsafeMutablePointer<Double>,
                             lda: Int32, s: UnsafeMutablePointer<Double>, u: UnsafeMutablePointer<Double>,
                             ldu: Int32, vt: UnsafeMutablePointer<Double>, ldvt: Int32,
                             work: UnsafeMutablePointer<Double>, lwork: Int32) -> Int32 {
        var jobu = jobu, jobvt = jobvt, m = m, n = n, lda = lda, ldu = ldu, ldvt = ldvt, lwork = lwork
        var info: Int32 = 0
        dgesvd_(&jobu, &jobvt, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, &info, 1, 1)
        return info
    }

    public static func gelqf(m: Int32, n: Int32, a: UnsafeMutablePointer<Double>, lda: Int32,
                             tau: UnsafeMutablePointer<Double>, work: UnsafeMutablePointer<Double>,
                             lwork: Int32) -> Int32 {
        var m = m, n = n, lda = lda, lwork = lwork, info: Int32 = 0
        dgelqf_(&m, &n, a, &lda, tau, work, &lwork, &info)
        return info
    }

    public static func orglq(m: Int32, n: Int32, k: Int32, a: UnsafeMutablePointer<Double>, lda: Int32,
                             tau: UnsafePointer<Double>, work: UnsafeMutablePointer<Double>, lwork: Int32) -> Int32 {
        var m = m, n = n, k = k, lda = lda, lwork = lwork, info: Int32 = 0
        dorglq_(&m, &n, &k, a, &lda, tau, work, &lwork, &info)
        return info
    }

    public static func syevr(jobz: CChar, range: CChar, n: Int32, a: UnsafeMutablePointer<Double>, lda: Int32,
                             il: Int32, iu: Int32, m: inout Int32, w: UnsafeMutablePointer<Double>,
                             z: UnsafeMutablePointer<Double>, ldz: Int32, isuppz: UnsafeMutablePointer<Int32>,
                             work: UnsafeMutablePointer<Double>, lwork: Int32, iwork: UnsafeMutablePointer<Int32>,
                             liwork: Int32) -> Int32 {
        var jobz = jobz, range = range, uplo = CChar(UInt8(ascii: "U")), n = n, lda = lda, il = il, iu = iu
        var vl: Double = 0, vu: Double = 0, abstol: Double = 0, ldz = ldz, lwork = lwork, liwork = liwork, info: Int32 = 0
        dsyevr_(&jobz, &range, &uplo, &n, a, &lda, &vl, &vu, &il, &iu, &abstol, &m, w, z, &ldz, isuppz,
                work, &lwork, iwork, &liwork, &info, 1, 1, 1)
        return info
    }
}
