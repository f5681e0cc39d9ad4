#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a TT-embedding forward keeps for its backward: the lookups' gather structure, the
/// partial products of levels 2 … d − 1 (keys in `EmbeddingLookup` order, each a
/// (d_1 ⋯ d_k) × r_k block; level d's, the rows, go straight to the output), and copies of the indices and cores they were computed from.
final class EmbeddingForwardState<T: BLASScalar> {
    let lookup: EmbeddingLookup
    let states: [Workspace<T>]
    let indices: [Int64]
    let cores: [[T]]

    init(lookup: EmbeddingLookup, states: [Workspace<T>], indices: [Int64], cores: [[T]]) {
        self.lookup = lookup
        self.states = states
        self.indices = indices
        self.cores = cores
    }

    /// Whether this state was computed from exactly these indices and cores (bit for bit).
    func matches(_ indices: UnsafeBufferPointer<Int64>, cores now: [Workspace<T>]) -> Bool {
        guard indices.count == self.indices.count, cores.count == now.count else { return false }
        guard EmbeddingForwardState.sameBytes(self.indices, indices.baseAddress) else { return false }
        for (c, w) in zip(cores, now) where !EmbeddingForwardState.sameBytes(c, w.pointer) { return false }
        return true
    }

    /// Whether `count` values at `p` equal `values` byte for byte.
    static func sameBytes<V>(_ values: [V], _ p: UnsafePointer<V>?) -> Bool {
        values.withUnsafeBytes { mine in
            guard mine.count > 0 else { return true }
            guard let p else { return false }
            return memcmp(mine.baseAddress!, UnsafeRawPointer(p), mine.count) == 0
        }
    }
}
