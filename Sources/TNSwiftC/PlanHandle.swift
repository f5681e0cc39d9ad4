#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
    nonisolated(unsafe) private static var live = Set<UnsafeMutableRawPointer>()
    nonisolated(unsafe) private static var liveLock: pthread_mutex_t = {
        var m = pthread_mutex_t()
        pthread_mutex_init(&m, nil)
        return m
    }()

    func register() -> UnsafeMutableRawPointer {
        let p = Unmanaged.passRetained(self).toOpaque()
        pthread_mutex_lock(&PlanHandle.liveLock)
        PlanHandle.live.insert(p)
        pthread_mutex_unlock(&PlanHandle.liveLock)
        return p
    }

    /// The handle behind `p`, or an error for NULL, destroyed or foreign pointers.
    static func lookup(_ p: UnsafeRawPointer?) throws -> PlanHandle {
        guard let p else { throw ABIError(status: .handle, message: "plan handle is NULL") }
        let raw = UnsafeMutableRawPointer(mutating: p)
        pthread_mutex_lock(&liveLock)
        defer { pthread_mutex_unlock(&liveLock) }
        guard live.contains(raw) else {
            throw ABIError(status: .handle, message: "plan handle is not a live plan (destroyed, or not from tn_plan_create)")
        }
        return Unmanaged<PlanHandle>.fromOpaque(raw).takeUnretainedValue()
    }

    static func destroy(_ p: UnsafeMutableRawPointer?) throws {
        guard let p else { throw ABIError(status: .handle, message: "plan handle is NULL") }
        pthread_mutex_lock(&liveLock)
        let removed = live.remove(p) != nil
        pthread_mutex_unlock(&liveLock)
        guard removed else {
            throw ABIError(status: .handle, message: "plan handle is not a live plan (already destroyed, or not from tn_plan_create)")
        }
        Unmanaged<PlanHandle>.fromOpaque(p).release()
    }
}
