/// One step of a convolution layer's evaluation path.
enum ConvStage {
    /// A dense convolution by im2col and GEMM (or one GEMM for a 1 × 1 window): the input
    /// (N, groups · inChannels, H, W) is read as (N · groups, inChannels, H, W) and the output
    /// (N · groups, outChannels, H', W') is (N, groups · outChannels, H', W'); every group uses
    /// the same kernel, operand `operand` of shape (outChannels, inChannels, kh, kw).
    case dense(operand: Int, inChannels: Int, outChannels: Int, groups: Int, window: ConvWindow)
    /// A depthwise convolution: channel c of the input is convolved with its own filter,
    /// row c of operand `operand` (channels, kh, kw).
    case depthwise(operand: Int, channels: Int, window: ConvWindow)

    var window: ConvWindow {
        switch self {
        case .dense(_, _, _, _, let w), .depthwise(_, _, let w): return w
        }
    }

    var operand: Int {
        switch self {
        case .dense(let o, _, _, _, _), .depthwise(let o, _, _): return o
        }
    }

    /// Channels of the stage's input and output tensors (groups included).
    var channels: (input: Int, output: Int) {
        switch self {
        case .dense(_, let i, let o, let g, _): return (i * g, o * g)
        case .depthwise(_, let c, _): return (c, c)
        }
    }
}
