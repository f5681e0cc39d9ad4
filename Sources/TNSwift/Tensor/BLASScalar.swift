import CBLAS
import TNKernels

/// A floating-point type the engine can hand to OpenBLAS.
///
/// The engine is written once, generic over this protocol; `Float` and `Double` conform.
public protocol BLASScalar: BinaryFloatingPoint, Sendable {
    /// The matching `DType`.
    static var dtype: DType { get }

    /// Row-major GEMM: `C = alpha * op(A) * op(B) + beta * C`.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// Row-major `C = op(A) * op(B)` (or `C += …` when `accumulate`) through the hand-written
    /// small-GEMM kernel; false when it declined (CPU without AVX2/FMA, or no memory).
    /// `streaming` writes an overwritten, aligned C past the caches.
    static func smallGemm(transA: Bool, transB: Bool, accumulate: Bool, streaming: Bool, m: Int, n: Int, k: Int,
                          a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                          c: UnsafeMutablePointer<Self>, ldc: Int) -> Bool

    /// Columns per packed panel of the small-GEMM kernel (two SIMD vectors).
    static var smallGemmPanel: Int { get }
}

extension BLASScalar {
    /// Row-major `C = alpha · op(A) · op(B) + beta · C` with the usual defaults (no
    /// transposes, alpha 1, beta 0); nothing for an empty C.
    @inline(__always)
    static func product(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Self = 1,
                        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int, beta: Self = 0,
                        c: UnsafeMutablePointer<Self>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if alpha == 1, beta == 0 || beta == 1,
           smallGemmWhereFaster(transA: transA, transB: transB, accumulate: beta == 1, m: m, n: n, k: k,
                                a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc) {
            return
        }
        gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: c, ldc: ldc)
    }

    /// Whether the small-GEMM kernel beats OpenBLAS on this shape: k <= 64, and C's columns
    /// fill whole panels or one panel at least half way. Measured against OpenBLAS 0.3.21 on
    /// one thread (with C cleared up front, as `gemmOverwriting` does): on Zen 2 the AVX2 tiles
    /// won by 1.1-2.9x on whole panels, about even on a partly filled last one, and lost for
    /// longer k. On an Emerald Rapids Xeon the AVX-512 tiles ranged from 0.9x to 1.5x on whole
    /// panels, about even on W4's batched 64x32x32; on a single panel 8 to 15 floats wide they
    /// won by 1.2-3.9x (1.0-2.9x on AVX2). Narrower C was mixed (one column: OpenBLAS's
    /// GEMV-like path 6x faster), so it stays with OpenBLAS.
    @inline(__always)
    static func prefersSmallGemm(n: Int, k: Int) -> Bool {
        k <= 64 && (n % smallGemmPanel == 0 || (n >= smallGemmPanel / 2 && n < smallGemmPanel))
    }

    /// `smallGemm` on the shapes where it beats OpenBLAS; false when it did not run (another
    /// shape, k = 0, or the kernel declined), leaving C untouched for the BLAS call.
    @inline(__always)
    static func smallGemmWhereFaster(transA: Bool, transB: Bool, accumulate: Bool, streaming: Bool = false,
                                     m: Int, n: Int, k: Int,
                                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                                     c: UnsafeMutablePointer<Self>, ldc: Int) -> Bool {
        k > 0 && prefersSmallGemm(n: n, k: k)
            && smallGemm(transA: transA, transB: transB, accumulate: accumulate, streaming: streaming, m: m, n: n, k: k,
                         a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
    }

    /// Row-major `C = op(A) * op(B)`, overwriting C.
    ///
    /// OpenBLAS clears C for beta = 0 in a pass of its own that walks C one row at a time
    /// (one column of its column-major view) and costs more than the multiply when rows are
    /// short; such a C is cleared here with plain stores and accumulated into (beta = 1).
    /// `streaming` (for a C far larger than the caches) lets the small-GEMM kernel write C
    /// past the caches.
    @inline(__always)
    static func gemmOverwriting(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                                c: UnsafeMutablePointer<Self>, ldc: Int, streaming: Bool = false) {
        if m == 0 || n == 0 { return }
        if smallGemmWhereFaster(transA: transA, transB: transB, accumulate: false, streaming: streaming, m: m, n: n, k: k,
                                a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc) {
            return
        }
        guard n < 128 else {
            gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
                 beta: 0, c: c, ldc: ldc)
            return
        }
        if ldc == n {
            c.update(repeating: 0, count: m &* n)
        } else {
            for i in 0..<m { (c + i &* ldc).update(repeating: 0, count: n) }
        }
        gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
             beta: 1, c: c, ldc: ldc)
    }
}

@inline(__always)
private func cblasTrans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: BLASScalar {
    public static var dtype: DType { .float32 }

    public static var smallGemmPanel: Int { 16 }

    @inline(__always)
    public static func smallGemm(transA: Bool, transB: Bool, accumulate: Bool, streaming: Bool, m: Int, n: Int, k: Int,
                                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                 c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        tnk_small_sgemm(transA ? 1 : 0, transB ? 1 : 0, accumulate ? 1 : 0, streaming ? 1 : 0, m, n, k,
                        a, lda, b, ldb, c, ldc) != 0
    }

    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, cblasTrans(transA), cblasTrans(transB), blasint(m), blasint(n),
                    blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}

extension Double: BLASScalar {
    public static var dtype: DType { .float64 }

    public static var smallGemmPanel: Int { 8 }

    @inline(__always)
    public static func smallGemm(transA: Bool, transB: Bool, accumulate: Bool, streaming: Bool, m: Int, n: Int, k: Int,
                                 a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                                 c: UnsafeMutablePointer<Double>, ldc: Int) -> Bool {
        tnk_small_dgemm(transA ? 1 : 0, transB ? 1 : 0, accumulate ? 1 : 0, streaming ? 1 : 0, m, n, k,
                        a, lda, b, ldb, c, ldc) != 0
    }

    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, cblasTrans(transA), cblasTrans(transB), blasint(m), blasint(n),
                    blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}
