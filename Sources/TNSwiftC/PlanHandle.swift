import TNSwift

/// What a `tn_plan*` points at: a plan of one dtype.
final class PlanHandle {
    enum Plan {
        case float32(ContractionPlan<Float>)
        case float64(ContractionPlan<Double>)
    }
    let plan: Plan

    init(_ plan: Plan) { self.plan = plan }

    var dtype: DType {
        if case .float32 = plan { return .float32 }
        return .float64
    }

    // Live handles, so that destroyed or foreign pointers are refused instead of followed.
    nonisolated(unsafe) private static let live = LiveHandles<PlanHandle>(noun: "plan", origin: "tn_plan_create")

    func register() -> UnsafeMutableRawPointer { PlanHandle.live.register(self) }

    /// The handle behind `p`, or an error for NULL, destroyed or foreign pointers.
    static func lookup(_ p: UnsafeRawPointer?) throws -> PlanHandle { try live.lookup(p) }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws { try live.destroy(p) }
}
