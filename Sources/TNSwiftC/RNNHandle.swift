import TNSwift

/// What a `tn_rnn*` points at: one TT-LSTM or TT-GRU of one dtype, plus the C strings and
/// shape arrays `tn_rnn_param_get` hands out (valid until `tn_rnn_destroy`).
///
/// The layer serialises its own calls, so the handle needs no lock of its own.
final class RNNHandle {
    enum Layer {
        case lstm32(TTLSTM<Float>)
        case lstm64(TTLSTM<Double>)
        case gru32(TTGRU<Float>)
        case gru64(TTGRU<Double>)
    }
    let layer: Layer
    let table: ParameterTable

    init(_ layer: Layer) {
        self.layer = layer
        switch layer {
        case .lstm32(let l): table = ParameterTable(names: l.parameterNames, shapes: l.parameterShapes)
        case .lstm64(let l): table = ParameterTable(names: l.parameterNames, shapes: l.parameterShapes)
        case .gru32(let l): table = ParameterTable(names: l.parameterNames, shapes: l.parameterShapes)
        case .gru64(let l): table = ParameterTable(names: l.parameterNames, shapes: l.parameterShapes)
        }
    }

    var dtype: DType {
        switch layer {
        case .lstm32, .gru32: return .float32
        case .lstm64, .gru64: return .float64
        }
    }

    /// `tn_rnn_kind`: 0 LSTM, 1 GRU.
    var kind: Int32 {
        switch layer {
        case .lstm32, .lstm64: return 0
        case .gru32, .gru64: return 1
        }
    }

    nonisolated(unsafe) private static let live = LiveHandles<RNNHandle>(noun: "rnn", origin: "tn_rnn_create")

    func register() -> UnsafeMutableRawPointer { RNNHandle.live.register(self) }

    /// The handle behind `p`, or an error for NULL, destroyed or foreign pointers.
    static func lookup(_ p: UnsafeRawPointer?) throws -> RNNHandle { try live.lookup(p) }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws { try live.destroy(p) }
}
