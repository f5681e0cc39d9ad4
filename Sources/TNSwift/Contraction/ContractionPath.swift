/// A contraction order as a binary tree over the operands, with its cost.
///
/// Nodes `0..<operandCount` are the operands; step `s` creates node `operandCount + s` from
/// two earlier nodes. A *direct* path has no steps: all operands are contracted in one loop
/// (used only when no pairwise path fits the memory limit).
public struct ContractionPath: Sendable {
    public var operandCount: Int
    /// The two nodes each step contracts.
    public var steps: [(Int, Int)]
    /// Labels of every node (operands first, then step results).
    public var nodeLabels: [LabelSet]
    /// FLOPs of each step, counted as opt_einsum counts them (for one operand: its single
    /// sum/permute step, which has no pairwise step).
    public var stepFlops: [Double]
    public var naiveFlops: Double
    public var isDirect: Bool

    /// Total FLOPs of the path.
    public var optimizedFlops: Double { isDirect ? naiveFlops : stepFlops.reduce(0, +) }

    /// The path in opt_einsum's form: positions in a list of live operands; results are appended.
    public var positionalSteps: [(Int, Int)] {
        if isDirect { return [] }
        var live = Array(0..<operandCount)
        var out: [(Int, Int)] = []
        for (s, (a, b)) in steps.enumerated() {
            let i = live.firstIndex(of: a)!, j = live.firstIndex(of: b)!
            out.append((min(i, j), max(i, j)))
            live.remove(at: max(i, j))
            live.remove(at: min(i, j))
            live.append(operandCount + s)
        }
        return out
    }
}
