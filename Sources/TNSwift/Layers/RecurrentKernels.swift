#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The element-wise steps the recurrent layers share: gate nonlinearities and bias rows
/// (their GEMMs are `BLASScalar.product`).
enum RecurrentKernels {
    /// The logistic function, evaluated in double precision without overflow.
    @inline(__always)
    static func sigmoid<T: BLASScalar>(_ x: T) -> T {
        T(Activation.sigmoid(Double(x)))
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

}
