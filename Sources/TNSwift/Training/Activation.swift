#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element-wise activations with their derivatives, PyTorch's definitions (GELU is the exact,
/// erf-based one).
public enum Activation: String, CaseIterable, Sendable {
    case identity, relu, gelu, tanh, sigmoid

    /// - Throws: `TNError.value` listing the valid names.
    public init(name: String) throws {
        guard let a = Activation(rawValue: name.lowercased()) else {
            throw TNError.value("unknown activation '\(name)'; valid: \(Activation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = a
    }

    /// y = f(x) for `count` elements (`y` may be `x`).
    /// - Complexity: O(count).
    public func forward<T: BLASScalar>(_ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        switch self {
        case .identity:
            if UnsafePointer(y) != x { y.update(from: x, count: count) }
        case .relu:
            for i in 0..<count { y[i] = x[i] > 0 ? x[i] : 0 }
        case .gelu:
            for i in 0..<count {
                let v = Double(x[i])
                y[i] = T(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
            }
        case .tanh:
            for i in 0..<count { y[i] = T(hyperbolicTangent(Double(x[i]))) }
        case .sigmoid:
            for i in 0..<count { y[i] = T(Activation.sigmoid(Double(x[i]))) }
        }
    }

    /// dx = f'(x) · dy for `count` elements (`dx` may alias `dy`).
    /// - Complexity: O(count).
    public func backward<T: BLASScalar>(input x: UnsafePointer<T>, gradient dy: UnsafePointer<T>,
                                        into dx: UnsafeMutablePointer<T>, count: Int) {
        switch self {
        case .identity:
            if UnsafePointer(dx) != dy { dx.update(from: dy, count: count) }
        case .relu:
            for i in 0..<count { dx[i] = x[i] > 0 ? dy[i] : 0 }
        case .gelu:
            // d/dx [x Φ(x)] = Φ(x) + x φ(x)
            for i in 0..<count {
                let v = Double(x[i])
                let cdf = 0.5 * (1 + erf(v / 2.0.squareRoot()))
                let pdf = exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
                dx[i] = T((cdf + v * pdf) * Double(dy[i]))
            }
        case .tanh:
            for i in 0..<count {
                let t = hyperbolicTangent(Double(x[i]))
                dx[i] = T((1 - t * t) * Double(dy[i]))
            }
        case .sigmoid:
            for i in 0..<count {
                let s = Activation.sigmoid(Double(x[i]))
                dx[i] = T(s * (1 - s) * Double(dy[i]))
            }
        }
    }

    /// 1 / (1 + e^−x) without overflow for large |x|.
    static func sigmoid(_ x: Double) -> Double {
        x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
    }
}

/// The C library's tanh (inside `Activation` the name is the enum case).
private func hyperbolicTangent(_ x: Double) -> Double { tanh(x) }
