/// The operands a path's stages use: parameters themselves or tensors contracted from them.
enum ConvOperandSpec {
    /// Parameter i as it is stored.
    case parameter(Int)
    /// The contraction `equation` of the listed parameters (in that order).
    case contraction(String, [Int])
}
