import TNSwift

/// What a `tn_embedding*` points at: one TT embedding of one dtype, plus the C strings and
/// shape arrays `tn_embedding_param_get` hands out (valid until `tn_embedding_destroy`).
///
/// The embedding serialises its own calls, so the handle needs no lock of its own.
final class EmbeddingHandle {
    enum Layer {
        case float32(TTEmbedding<Float>)
        case float64(TTEmbedding<Double>)
    }
    let layer: Layer
    let table: ParameterTable

    init(_ layer: Layer) {
        self.layer = layer
        switch layer {
        case .float32(let l): table = ParameterTable(names: l.parameterNames, shapes: l.parameterShapes)
        case .float64(let l): table = ParameterTable(names: l.parameterNames, shapes: l.parameterShapes)
        }
    }

    var dtype: DType {
        if case .float32 = layer { return .float32 }
        return .float64
    }

    nonisolated(unsafe) private static let live = LiveHandles<EmbeddingHandle>(
        noun: "embedding", origin: "tn_embedding_create or tn_embedding_from_dense")

    func register() -> UnsafeMutableRawPointer { EmbeddingHandle.live.register(self) }

    /// The handle behind `p`, or an error for NULL, destroyed or foreign pointers.
    static func lookup(_ p: UnsafeRawPointer?) throws -> EmbeddingHandle { try live.lookup(p) }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws { try live.destroy(p) }
}
