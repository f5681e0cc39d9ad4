#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TNSwift

/// What a `tn_conv*` points at: one convolution layer of one dtype, plus the C strings and
/// shape arrays that `tn_conv_param_get` hands out (valid until `tn_conv_destroy`).
///
/// The layer serialises its own calls, so the handle needs no lock of its own.
final class ConvHandle {
    enum Layer {
        case float32(ConvLayer<Float>)
        case float64(ConvLayer<Double>)
    }
    let layer: Layer
    /// `tn_conv_kind` the layer was made as.
    let kind: Int32
    /// `tn_conv_padding` the layer was made with.
    let paddingMode: Int32
    /// One entry per parameter, the bias last under the name "bias".
    let table: ParameterTable

    init(_ layer: Layer, kind: Int32, paddingMode: Int32) {
        self.layer = layer
        self.kind = kind
        self.paddingMode = paddingMode
        var names: [String] = []
        var shapes: [[Int]] = []
        switch layer {
        case .float32(let l): (names, shapes) = ConvHandle.entries(l)
        case .float64(let l): (names, shapes) = ConvHandle.entries(l)
        }
        table = ParameterTable(names: names, shapes: shapes)
    }

    private static func entries<T>(_ l: ConvLayer<T>) -> ([String], [[Int]]) {
        (l.parameterNames + (l.hasBias ? ["bias"] : []), l.parameterShapes + (l.hasBias ? [[l.outChannels]] : []))
    }

    var dtype: DType {
        if case .float32 = layer { return .float32 }
        return .float64
    }

    /// The number of parameter entries, the bias included.
    var count: Int { table.count }

    nonisolated(unsafe) private static let live = LiveHandles<ConvHandle>(
        noun: "conv", origin: "tn_conv_create or tn_conv_from_dense")

    func register() -> UnsafeMutableRawPointer { ConvHandle.live.register(self) }

    /// The handle behind `p`, or an error for NULL, destroyed or foreign pointers.
    static func lookup(_ p: UnsafeRawPointer?) throws -> ConvHandle { try live.lookup(p) }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws { try live.destroy(p) }
}
