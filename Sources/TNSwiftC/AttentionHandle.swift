import TNSwift

/// What a `tn_ff*` points at: one `TTFeedForward` of one dtype, plus the C strings and shape
/// arrays `tn_ff_param_get` hands out (valid until `tn_ff_destroy`).
///
/// The block serialises its own calls, so the handle needs no lock of its own.
final class FeedForwardHandle {
    enum Block {
        case float32(TTFeedForward<Float>)
        case float64(TTFeedForward<Double>)
    }
    let block: Block
    let table: ParameterTable

    init(_ block: Block) {
        self.block = block
        switch block {
        case .float32(let b): table = ParameterTable(names: b.parameterNames, shapes: b.parameterShapes)
        case .float64(let b): table = ParameterTable(names: b.parameterNames, shapes: b.parameterShapes)
        }
    }

    var dtype: DType {
        switch block {
        case .float32: return .float32
        case .float64: return .float64
        }
    }

    nonisolated(unsafe) private static let live = LiveHandles<FeedForwardHandle>(noun: "ff", origin: "tn_ff_create")

    func register() -> UnsafeMutableRawPointer { FeedForwardHandle.live.register(self) }

    /// The handle behind `p`, or an error for NULL, destroyed or foreign pointers.
    static func lookup(_ p: UnsafeRawPointer?) throws -> FeedForwardHandle { try live.lookup(p) }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws { try live.destroy(p) }
}

/// What a `tn_attention*` points at: one `MultiLinearAttention` of one dtype, plus the C
/// strings and shape arrays `tn_attention_param_get` hands out (valid until
/// `tn_attention_destroy`).
///
/// The layer serialises its own calls, so the handle needs no lock of its own.
final class AttentionHandle {
    enum Layer {
        case float32(MultiLinearAttention<Float>)
        case float64(MultiLinearAttention<Double>)
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
        switch layer {
        case .float32: return .float32
        case .float64: return .float64
        }
    }

    nonisolated(unsafe) private static let live = LiveHandles<AttentionHandle>(noun: "attention", origin: "tn_attention_create")

    func register() -> UnsafeMutableRawPointer { AttentionHandle.live.register(self) }

    /// The handle behind `p`, or an error for NULL, destroyed or foreign pointers.
    static func lookup(_ p: UnsafeRawPointer?) throws -> AttentionHandle { try live.lookup(p) }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws { try live.destroy(p) }
}
