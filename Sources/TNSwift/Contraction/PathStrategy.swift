/// How the pairwise contraction order is chosen.
public enum PathStrategy: String, CaseIterable, Sendable {
    /// Optimal search for up to `PathOptimizer.autoOptimalLimit` operands, greedy beyond.
    case auto
    /// Dynamic programming over all subsets: the minimum total FLOPs over every pairwise tree.
    case optimal
    /// Repeatedly contracts the pair that shrinks memory the most (ties: fewer FLOPs).
    case greedy
    /// Left to right, as written.
    case none

    /// - Throws: `TNError.value` listing the valid names.
    public init(name: String) throws {
        guard let s = PathStrategy(rawValue: name) else {
            throw TNError.value("unknown path strategy '\(name)'; valid: \(PathStrategy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = s
    }
}
