#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TNSwift

/// What a `tn_layer*` points at: one layer of one dtype, plus the C strings and shape arrays
/// that `tn_layer_param_get` hands out (allocated once here so the pointers stay valid until
/// `tn_layer_destroy`, whatever the caller does with them).
///
/// The layer serialises its own calls, so the handle needs no lock of its own.
final class LayerHandle {
    enum Layer {
        case float32(EinsumLayer<Float>)
        case float64(EinsumLayer<Double>)
    }
    let layer: Layer
    /// `tn_layer_kind` the layer was made as.
    let kind: Int32
    /// One entry per parameter, the bias last under the name "bias".
    let table: ParameterTable

    init(_ layer: Layer, kind: Int32) {
        self.layer = layer
        self.kind = kind
        var names: [String] = []
        var shapes: [[Int]] = []
        switch layer {
        case .float32(let l): (names, shapes) = LayerHandle.entries(l)
        case .float64(let l): (names, shapes) = LayerHandle.entries(l)
        }
        table = ParameterTable(names: names, shapes: shapes)
    }

    private static func entries<T>(_ l: EinsumLayer<T>) -> ([String], [[Int]]) {
        (l.parameterNames + (l.hasBias ? ["bias"] : []), l.parameterShapes + (l.hasBias ? [[l.outFeatures]] : []))
    }

    var dtype: DType {
        if case .float32 = layer { return .float32 }
        return .float64
    }

    /// The number of parameter entries, the bias included.
    var count: Int { table.count }

    nonisolated(unsafe) private static let live = LiveHandles<LayerHandle>(
        noun: "layer", origin: "tn_layer_create or tn_layer_from_dense")

    func register() -> UnsafeMutableRawPointer { LayerHandle.live.register(self) }

    /// The handle behind `p`, or an error for NULL, destroyed or foreign pointers.
    static func lookup(_ p: UnsafeRawPointer?) throws -> LayerHandle { try live.lookup(p) }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws { try live.destroy(p) }
}
