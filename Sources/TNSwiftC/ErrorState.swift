#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TNSwift

/// The thread-local message behind `tn_last_error()`.
enum ErrorState {
    nonisolated(unsafe) private static var key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { free($0) }
        return k
    }()

    static func set(_ message: String) {
        let old = pthread_getspecific(key)
        let copy = strdup(message)
        pthread_setspecific(key, copy)
        free(old)
    }

    static var message: UnsafePointer<CChar> {
        if let p = pthread_getspecific(key) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
        return emptyMessage
    }

    private static let emptyMessage: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

    /// Runs `body`, turning thrown errors into a status and a message.
    static func guarded(_ body: () throws -> Void) -> Int32 {
        do {
            try body()
            return Status.ok.rawValue
        } catch let e as TNError {
            set(e.message)
            switch e {
            case .subscript: return Status.badSubscript.rawValue
            case .shape: return Status.shape.rawValue
            case .dtype: return Status.dtype.rawValue
            case .value: return Status.value.rawValue
            case .memory: return Status.memory.rawValue
            case .interrupted: return Status.interrupted.rawValue
            }
        } catch let e as ABIError {
            set(e.message)
            return e.status.rawValue
        } catch {
            set("internal error: \(error)")
            return Status.internalError.rawValue
        }
    }
}

/// Errors only the ABI layer raises (bad handles, NULL pointers).
struct ABIError: Error {
    var status: Status
    var message: String
    static func null(_ what: String) -> ABIError { ABIError(status: .value, message: "\(what) is NULL") }
}
