#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The element-wise and matrix steps the recurrent layers share: gate nonlinearities, bias
/// rows, and the GEMMs of one time step (row-major, rows strided through a sequence buffer).
enum RecurrentKernels {
    /// The logistic function, evaluated in double precision without overflow.
    @inline(__always)
    static func sigmoid<T: BLASScalar>(_ x: T) -> T {
        let v = Double(x)
        return T(v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v)))
    }

    /// tanh, evaluated in double precision.
    @inline(__always)
    static func hyperbolicTangent<T: BLASScalar>(_ x: T) -> T {
        T(tanh(Double(x)))
    }

    /// `c[i, :] += v` for `rows` rows of `width` values, row stride `ldc`.
    static func addRow<T: BLASScalar>(_ v: UnsafePointer<T>, to c: UnsafeMutablePointer<T>, rows: Int, width: Int, ldc: Int) {
        for i in 0..<rows {
            let row = c + i &* ldc
            for j in 0..<width { row[j] += v[j] }
        }
    }

    /// `C = beta · C + op(A) · op(B)` (row-major, one BLAS call: the per-step products are
    /// small and run back to back).
    @inline(__always)
    static func gemm<T: BLASScalar>(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                                    a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int, beta: T,
                                    c: UnsafeMutablePointer<T>, ldc: Int) {
        if m == 0 || n == 0 { return }
        T.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb,
               beta: beta, c: c, ldc: ldc)
    }
}
