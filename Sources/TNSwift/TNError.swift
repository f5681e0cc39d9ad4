/// Everything a caller can get wrong, as a typed error with a message that names the problem.
public enum TNError: Error, Equatable, CustomStringConvertible {
    /// Malformed einsum subscripts or ncon network.
    case `subscript`(String)
    /// Shapes, ranks or operand counts that do not fit together.
    case shape(String)
    /// Unsupported or mismatched element type.
    case dtype(String)
    /// Any other invalid argument.
    case value(String)
    /// A size that overflows or an allocation that cannot be made.
    case memory(String)
    /// A long operation stopped because its progress callback asked it to (Ctrl-C in Python).
    case interrupted(String)

    public var message: String {
        switch self {
        case .subscript(let m), .shape(let m), .dtype(let m), .value(let m), .memory(let m), .interrupted(let m):
            return m
        }
    }

    public var description: String { message }
}
