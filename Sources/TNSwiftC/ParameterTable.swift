#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TNSwift

/// The C strings and shape arrays a layer or convolution handle hands out for its parameters
/// (one entry per parameter, the bias last as "bias"), allocated once so the pointers stay
/// valid until the handle is destroyed, whatever the caller does with them.
final class ParameterTable {
    let names: [UnsafeMutablePointer<CChar>]
    let shapes: [UnsafeMutablePointer<Int64>]
    let ndims: [Int]

    init(names: [String], shapes: [[Int]]) {
        self.names = names.map { strdup($0)! }
        self.ndims = shapes.map(\.count)
        self.shapes = shapes.map { s in
            // One spare slot so that a 0-dimensional shape still has a valid pointer.
            let p = UnsafeMutablePointer<Int64>.allocate(capacity: s.count + 1)
            for (k, n) in s.enumerated() { p[k] = Int64(n) }
            return p
        }
    }

    deinit {
        names.forEach { free($0) }
        shapes.forEach { $0.deallocate() }
    }

    /// The number of entries, the bias included.
    var count: Int { names.count }

    /// The slot a `*_param_get` call writes entry `i` into, after checking both; `holds` ends
    /// the out-of-range message ("this layer has 3 parameters").
    /// - Throws: `TNError.value` for an index out of range, `ABIError.null` for no slot.
    func slot(_ i: Int64, _ param: UnsafeMutableRawPointer?, holds: @autoclosure () -> String) throws
        -> (index: Int, slot: UnsafeMutablePointer<CLayerParam>) {
        guard i >= 0, i < Int64(count) else {
            throw TNError.value("parameter index \(i) is out of range: \(holds())")
        }
        guard let param else { throw ABIError.null("param") }
        return (Int(i), param.assumingMemoryBound(to: CLayerParam.self))
    }

    /// Entry `i` as a `tn_layer_param` over the given value and gradient buffers.
    func entry<T>(_ i: Int, data: UnsafeMutableBufferPointer<T>, grad: UnsafeMutableBufferPointer<T>) -> CLayerParam {
        CLayerParam(name: UnsafePointer(names[i]), ndim: Int64(ndims[i]), shape: UnsafePointer(shapes[i]),
                    size: Int64(data.count), data: UnsafeMutableRawPointer(data.baseAddress),
                    grad: UnsafeMutableRawPointer(grad.baseAddress))
    }
}
