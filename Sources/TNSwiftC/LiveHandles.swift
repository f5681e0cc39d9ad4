#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The set of live handles of one kind, so that NULL, destroyed or foreign pointers are refused
/// with `TN_ERR_HANDLE` instead of being followed.
final class LiveHandles<Object: AnyObject> {
    private var live = Set<UnsafeMutableRawPointer>()
    // Heap-allocated so the mutex never moves.
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    /// "plan", "decomposition": used in messages.
    private let noun: String
    /// Where valid handles come from, for messages ("tn_plan_create").
    private let origin: String

    init(noun: String, origin: String) {
        self.noun = noun
        self.origin = origin
        lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
    }

    /// Retains `object` and returns its handle.
    func register(_ object: Object) -> UnsafeMutableRawPointer {
        let p = Unmanaged.passRetained(object).toOpaque()
        pthread_mutex_lock(lock)
        live.insert(p)
        pthread_mutex_unlock(lock)
        return p
    }

    /// The object behind `p`.
    /// - Throws: `ABIError` with status `.handle` for NULL, destroyed or foreign pointers.
    func lookup(_ p: UnsafeRawPointer?) throws -> Object {
        guard let p else { throw ABIError(status: .handle, message: "\(noun) handle is NULL") }
        let raw = UnsafeMutableRawPointer(mutating: p)
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        guard live.contains(raw) else {
            throw ABIError(status: .handle, message: "\(noun) handle is not a live \(noun) (destroyed, or not from \(origin))")
        }
        return Unmanaged<Object>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Forgets `p` and releases its object.
    /// - Throws: `ABIError` with status `.handle` for NULL, destroyed or foreign pointers.
    func destroy(_ p: UnsafeMutableRawPointer?) throws {
        guard let p else { throw ABIError(status: .handle, message: "\(noun) handle is NULL") }
        pthread_mutex_lock(lock)
        let removed = live.remove(p) != nil
        pthread_mutex_unlock(lock)
        guard removed else {
            throw ABIError(status: .handle, message: "\(noun) handle is not a live \(noun) (already destroyed, or not from \(origin))")
        }
        Unmanaged<Object>.fromOpaque(p).release()
    }
}
