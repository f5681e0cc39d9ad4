import TNSwift

/// What a `tn_optimizer*` points at: an `Optimizer` of one dtype.
final class OptimizerHandle {
    enum Kind {
        case float32(Optimizer<Float>)
        case float64(Optimizer<Double>)
    }
    let optimizer: Kind

    init(_ optimizer: Kind) { self.optimizer = optimizer }

    nonisolated(unsafe) private static let live = LiveHandles<OptimizerHandle>(noun: "optimizer", origin: "tn_optimizer_create")

    func register() -> UnsafeMutableRawPointer { OptimizerHandle.live.register(self) }

    /// The handle behind `p`, or an error for NULL, destroyed or foreign pointers.
    static func lookup(_ p: UnsafeRawPointer?) throws -> OptimizerHandle { try live.lookup(p) }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws { try live.destroy(p) }
}
