/// A dense 2-D convolution, PyTorch's `Conv2d`: parameter "weight" (out_channels,
/// in_channels, kh, kw), run as im2col + GEMM. The reference the factorized convolutions are
/// compared with, on the same kernels.
public final class Conv2d<T: LAPACKScalar>: ConvLayer<T> {
    /// A layer with a seeded random kernel (PyTorch's default variance) and a zero bias.
    /// - Parameters:
    ///   - kernelSize / stride / dilation: (height, width), each at least 1.
    ///   - padding: `.explicit(h, w)`, `.same` (stride 1) or `.valid`.
    /// - Throws: `TNError.value` for a size below 1, a negative padding or `.same` with a
    ///   stride; `TNError.memory` when the kernel's size overflows.
    public init(inChannels: Int, outChannels: Int, kernelSize: [Int], stride: [Int] = [1, 1],
                padding: ConvPadding = .explicit(0, 0), dilation: [Int] = [1, 1], bias: Bool = true, seed: UInt64 = 0) throws {
        try super.init(layer: "Conv2d", inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize,
                       stride: stride, padding: padding, dilation: dilation, bias: bias,
                       parameterShapes: [[outChannels, inChannels] + kernelSize], parameterNames: ["weight"],
                       kernelEquation: nil, factorized: nil, bondProduct: 1)
        fillInitial(seed: seed)
    }

    /// A layer holding a copy of `kernel` (shape (out_channels, in_channels, kh, kw), C
    /// order) and `bias`.
    /// - Throws: `TNError.shape` when the kernel is not 4-D, its values do not match its
    ///   shape or the bias length differs from out_channels; `TNError.value` for a NaN or an
    ///   infinity and the errors of `init(inChannels:…)`.
    /// - Complexity: O(kernel size).
    public convenience init(kernel: [T], shape: [Int], bias: [T]? = nil, stride: [Int] = [1, 1],
                            padding: ConvPadding = .explicit(0, 0), dilation: [Int] = [1, 1]) throws {
        let s = try ConvLayer<T>.checkDense("Conv2d", kernel: kernel, shape: shape, bias: bias)
        try self.init(inChannels: s[1], outChannels: s[0], kernelSize: [s[2], s[3]], stride: stride, padding: padding,
                      dilation: dilation, bias: bias != nil)
        load([kernel], bias: bias)
    }
}
