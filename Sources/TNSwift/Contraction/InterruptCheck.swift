#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A caller's way to stop long contractions: a check function, installed for the calling
/// thread, that bound programs (plan forward and backward, and so layers and models) poll
/// before each instruction — each GEMM or copy — and between chunks of a GEMM of 2^33
/// multiply-adds or more (see `gemmChunkWork`). When it returns non-zero the call stops with
/// `TNError.interrupted`; the output is then unspecified, and the plan drops the intermediates
/// it had kept, so the next call recomputes them.
public enum InterruptCheck {
    public typealias Function = @convention(c) (UnsafeMutableRawPointer?) -> Int32

    final class Installed {
        let function: Function
        let context: UnsafeMutableRawPointer?
        init(_ function: Function, _ context: UnsafeMutableRawPointer?) {
            self.function = function
            self.context = context
        }
        var requested: Bool { function(context) != 0 }
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in
            if let p { Unmanaged<Installed>.fromOpaque(p).release() }
        }
        return key
    }()

    /// Installs `function` (called with `context`) for calls on this thread; nil removes it.
    public static func install(_ function: Function?, context: UnsafeMutableRawPointer?) {
        if let old = pthread_getspecific(key) { Unmanaged<Installed>.fromOpaque(old).release() }
        pthread_setspecific(key, function.map { Unmanaged.passRetained(Installed($0, context)).toOpaque() })
    }

    /// The check installed for this thread, if any.
    static var current: Installed? {
        guard let p = pthread_getspecific(key) else { return nil }
        return Unmanaged<Installed>.fromOpaque(p).takeUnretainedValue()
    }

    static let stopped = TNError.interrupted("the contraction was interrupted")

    /// Multiply-adds per chunk of a GEMM that polls the check part-way: 2^32, about 40-90 ms
    /// at 100-200 GFLOP/s. A 2048 × 4096 × 4096 layer product goes in 8 chunks (with
    /// OpenBLAS's SSE3 kernels it took 3 s in one piece). Tests lower it.
    nonisolated(unsafe) static var gemmChunkWork: Double = 4_294_967_296

    /// Throws `stopped` when the calling thread's check asks to stop (for kernels outside
    /// bound programs, polled between their stages).
    static func throwIfRequested() throws {
        if let check = current, check.requested { throw stopped }
    }
}
