/// A parsed contraction: integer labels per operand dimension and for the output.
///
/// Labels may repeat inside one operand (diagonals, traces) but not in the output. The parser
/// numbers letters so that sorting by label gives NumPy's implicit output order ('A'–'Z' before
/// 'a'–'z'); ellipsis dimensions and ncon labels get labels of their own.
public struct EinsumExpression: Equatable, Sendable {
    /// Labels of each operand's dimensions, in dimension order.
    public var inputs: [[Int]]
    /// Labels of the output dimensions, in order.
    public var output: [Int]
    /// Printable name of each label, indexed by label (one character, for equations).
    public var labelNames: [String]
    /// How error messages name each label: `label 'i'`, an ellipsis dimension, an ncon label.
    public var labelDescriptions: [String]

    public init(inputs: [[Int]], output: [Int], labelNames: [String], labelDescriptions: [String]? = nil) {
        self.inputs = inputs
        self.output = output
        self.labelNames = labelNames
        self.labelDescriptions = labelDescriptions ?? labelNames.map { "label '\($0)'" }
    }

    /// The expression as an einsum string with explicit output, e.g. `ij,jk->ik`.
    public var equation: String {
        let term = { (labels: [Int]) in labels.map { self.labelNames[$0] }.joined() }
        return inputs.map(term).joined(separator: ",") + "->" + term(output)
    }

    /// Number of distinct labels (one more than the largest label).
    public var labelCount: Int { labelNames.count }
}
