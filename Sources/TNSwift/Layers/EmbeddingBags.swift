/// Bags of lookups reduced to one row each, as `torch.nn.EmbeddingBag` with `offsets`: bag b
/// holds the lookups `offsets[b] ..< offsets[b + 1]` (the last bag ends at the last lookup).
public struct EmbeddingBags: Sendable, Equatable {
    /// How a bag's rows are combined.
    public enum Mode: Sendable, Equatable {
        /// The sum of the bag's rows (zeros for an empty bag).
        case sum
        /// Their mean over the lookups that are not the padding index (zeros when none is).
        case mean
    }

    /// Where each bag starts: offsets[0] = 0, non-decreasing, each ≤ the number of lookups.
    public let offsets: [Int]
    public let mode: Mode

    public init(offsets: [Int], mode: Mode) {
        self.offsets = offsets
        self.mode = mode
    }

    /// Checks the offsets against `count` lookups.
    /// - Throws: `TNError.value` naming the first offset that is out of order or range.
    func check(lookups count: Int) throws {
        guard !offsets.isEmpty else { throw TNError.value("TTEmbedding: offsets must hold at least one bag start") }
        guard offsets[0] == 0 else { throw TNError.value("TTEmbedding: offsets[0] must be 0 (got \(offsets[0]))") }
        for b in 1..<offsets.count where offsets[b] < offsets[b - 1] || offsets[b] > count {
            throw TNError.value("TTEmbedding: offsets[\(b)] = \(offsets[b]) is below offsets[\(b - 1)] = \(offsets[b - 1]) or past the \(count) lookups")
        }
    }

    /// Bag b's lookups.
    func range(_ b: Int, lookups count: Int) -> Range<Int> {
        offsets[b]..<(b + 1 < offsets.count ? offsets[b + 1] : count)
    }
}
