/// How a convolution pads its input (PyTorch's `padding` argument).
public enum ConvPadding: Equatable, Sendable, CustomStringConvertible {
    /// `top` zero rows above and below, `left` zero columns left and right.
    case explicit(Int, Int)
    /// The output has the input's height and width (stride 1 only): d · (k − 1) zeros in
    /// total per axis, the odd one at the bottom / right, as PyTorch pads.
    case same
    /// No padding.
    case valid

    public var description: String {
        switch self {
        case .explicit(let h, let w): return "(\(h), \(w))"
        case .same: return "same"
        case .valid: return "valid"
        }
    }
}
