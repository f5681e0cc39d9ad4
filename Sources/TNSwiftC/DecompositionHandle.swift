import TNSwift

/// What a `tn_decomposition*` points at: the arrays a decomposition produced (TT cores, CP
/// weights and factors, a Tucker core and factors), C-contiguous, and its error history.
/// Immutable once made, so concurrent reads need no lock.
final class DecompositionHandle {
    enum Arrays {
        case float32([[Float]])
        case float64([[Double]])
    }
    let arrays: Arrays
    /// The shape of each array (their counts match the value counts).
    let shapes: [[Int]]
    /// Relative reconstruction errors, one per step the method tracked (may be empty).
    let errors: [Double]

    init<T: ABIScalar>(arrays: [[T]], shapes: [[Int]], errors: [Double] = []) {
        self.arrays = T.wrap(arrays)
        self.shapes = shapes
        self.errors = errors
    }

    var count: Int { shapes.count }

    nonisolated(unsafe) private static let live = LiveHandles<DecompositionHandle>(
        noun: "decomposition", origin: "a tn_* decomposition call")

    func register() -> UnsafeMutableRawPointer { DecompositionHandle.live.register(self) }

    static func lookup(_ p: UnsafeRawPointer?) throws -> DecompositionHandle { try live.lookup(p) }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws { try live.destroy(p) }
}

/// Float and Double as the ABI stores them in a `DecompositionHandle`.
protocol ABIScalar: LAPACKScalar {
    static func wrap(_ arrays: [[Self]]) -> DecompositionHandle.Arrays
}

extension Float: ABIScalar {
    static func wrap(_ arrays: [[Float]]) -> DecompositionHandle.Arrays { .float32(arrays) }
}

extension Double: ABIScalar {
    static func wrap(_ arrays: [[Double]]) -> DecompositionHandle.Arrays { .float64(arrays) }
}
