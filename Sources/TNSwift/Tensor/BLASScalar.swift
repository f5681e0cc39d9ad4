import CBLAS

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
}

@inline(__always)
private func cblasTrans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: BLASScalar {
    public static var dtype: DType { .float32 }

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

    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, cblasTrans(transA), cblasTrans(transB), blasint(m), blasint(n),
                    blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}
