/// The element types the engine computes in.
public enum DType: Int, Sendable, CustomStringConvertible {
    case float32 = 0
    case float64 = 1

    /// Size of one element in bytes.
    public var itemSize: Int { self == .float32 ? 4 : 8 }

    public var description: String { self == .float32 ? "float32" : "float64" }
}
