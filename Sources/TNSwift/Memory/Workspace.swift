#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory owned by the engine (plan workspaces, intermediates), freed with its owner.
///
/// Allocation failures and size overflows throw instead of trapping.
final class Workspace<T: BLASScalar> {
    let pointer: UnsafeMutablePointer<T>
    let count: Int

    /// - Throws: `TNError.memory` when `count` elements cannot be allocated.
    init(count: Int) throws {
        let (bytes, overflow) = Swift.max(count, 1).multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow, count >= 0 else { throw TNError.memory("workspace of \(count) elements overflows") }
        var raw: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&raw, 64, bytes) == 0, let r = raw else {
            throw TNError.memory("cannot allocate a workspace of \(bytes) bytes")
        }
        pointer = r.bindMemory(to: T.self, capacity: Swift.max(count, 1))
        self.count = count
    }

    deinit { free(pointer) }
}

/// Multiplies sizes, throwing when the product overflows 64 bits.
func checkedProduct<S: Sequence>(_ sizes: S, what: @autoclosure () -> String) throws -> Int where S.Element == Int {
    var p = 1
    for s in sizes {
        let (r, o) = p.multipliedReportingOverflow(by: s)
        guard !o else { throw TNError.memory("the size of \(what()) overflows 64 bits") }
        p = r
    }
    return p
}
