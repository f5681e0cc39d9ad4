import TNSwift

/// What a `tn_model*` points at: a loaded `Sequential` of one dtype.
final class ModelHandle {
    enum Model {
        case float32(Sequential<Float>)
        case float64(Sequential<Double>)
    }
    let model: Model

    init(_ model: Model) { self.model = model }

    nonisolated(unsafe) private static let live = LiveHandles<ModelHandle>(noun: "model", origin: "tn_model_load or tn_model_create")

    func register() -> UnsafeMutableRawPointer { ModelHandle.live.register(self) }

    /// The handle behind `p`, or an error for NULL, destroyed or foreign pointers.
    static func lookup(_ p: UnsafeRawPointer?) throws -> ModelHandle { try live.lookup(p) }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws { try live.destroy(p) }
}
