/// What a TT-embedding forward keeps for its backward: the lookups' gather structure, the
/// partial products of levels 2 … d − 1 (keys in `EmbeddingLookup` order, each a
/// (d_1 ⋯ d_k) × r_k block; level d's, the rows, go straight to the output), and copies of the indices and cores they were computed from.
final class EmbeddingForwardState<T: BLASScalar> {
    let lookup: EmbeddingLookup
    let states: [Workspace<T>]
    /// Per level, the parents' products stacked in key order: the left operands of its GEMMs
    /// (filled only for digit groups of two or more keys; a single key's parent is read in place).
    let stacks: [Workspace<T>]
    let indices: [Int64]
    let cores: [[T]]

    init(lookup: EmbeddingLookup, states: [Workspace<T>], stacks: [Workspace<T>], indices: [Int64], cores: [[T]]) {
        self.lookup = lookup
        self.states = states
        self.stacks = stacks
        self.indices = indices
        self.cores = cores
    }

    /// Whether this state was computed from exactly these indices and cores.
    func matches(_ indices: UnsafeBufferPointer<Int64>, cores now: [Workspace<T>]) -> Bool {
        guard indices.count == self.indices.count, cores.count == now.count else { return false }
        for i in 0..<indices.count where indices[i] != self.indices[i] { return false }
        for (c, w) in zip(cores, now) {
            for i in 0..<w.count where c[i] != w.pointer[i] { return false }
        }
        return true
    }
}
