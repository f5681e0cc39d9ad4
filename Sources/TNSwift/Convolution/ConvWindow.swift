/// The sliding window of one 2-D convolution, independent of the input size: kernel extent,
/// stride, zero padding on each side and dilation.
struct ConvWindow: Equatable {
    var kernelHeight: Int, kernelWidth: Int
    var strideHeight: Int, strideWidth: Int
    var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    var dilationHeight: Int, dilationWidth: Int

    /// The 1 × 1 window with no stride, padding or dilation (a channel mix).
    static let pointwise = ConvWindow(kernelHeight: 1, kernelWidth: 1, strideHeight: 1, strideWidth: 1,
                                      padTop: 0, padBottom: 0, padLeft: 0, padRight: 0, dilationHeight: 1, dilationWidth: 1)

    /// The window of a layer from its user-facing settings.
    /// - Throws: `TNError.value` for a kernel size, stride or dilation below 1, a negative
    ///   padding, or `.same` with a stride other than 1.
    init(layer: String, kernelSize: [Int], stride: [Int], padding: ConvPadding, dilation: [Int]) throws {
        guard kernelSize.count == 2, stride.count == 2, dilation.count == 2 else {
            throw TNError.value("\(layer): kernel_size, stride and dilation take two values (height, width)")
        }
        guard kernelSize.allSatisfy({ $0 >= 1 }) else {
            throw TNError.value("\(layer): the kernel size must be at least 1 (got \(kernelSize))")
        }
        guard stride.allSatisfy({ $0 >= 1 }) else { throw TNError.value("\(layer): the stride must be at least 1 (got \(stride))") }
        guard dilation.allSatisfy({ $0 >= 1 }) else {
            throw TNError.value("\(layer): the dilation must be at least 1 (got \(dilation))")
        }
        // Extents far beyond any image are refused so that window arithmetic cannot overflow.
        let limit = 1 << 24
        guard (kernelSize + stride + dilation).allSatisfy({ $0 <= limit }) else {
            throw TNError.value("\(layer): kernel size, stride and dilation must be at most \(limit)")
        }
        kernelHeight = kernelSize[0]; kernelWidth = kernelSize[1]
        strideHeight = stride[0]; strideWidth = stride[1]
        dilationHeight = dilation[0]; dilationWidth = dilation[1]
        switch padding {
        case .explicit(let h, let w):
            guard h >= 0, w >= 0 else { throw TNError.value("\(layer): the padding must be non-negative (got (\(h), \(w)))") }
            guard h <= limit, w <= limit else { throw TNError.value("\(layer): the padding must be at most \(limit)") }
            (padTop, padBottom, padLeft, padRight) = (h, h, w, w)
        case .valid:
            (padTop, padBottom, padLeft, padRight) = (0, 0, 0, 0)
        case .same:
            guard stride == [1, 1] else {
                throw TNError.value("\(layer): padding \"same\" needs stride 1 (got \(stride)), as in PyTorch")
            }
            let th = dilation[0] * (kernelSize[0] - 1), tw = dilation[1] * (kernelSize[1] - 1)
            (padTop, padBottom, padLeft, padRight) = (th / 2, th - th / 2, tw / 2, tw - tw / 2)
        }
    }

    init(kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int, padTop: Int, padBottom: Int,
         padLeft: Int, padRight: Int, dilationHeight: Int, dilationWidth: Int) {
        (self.kernelHeight, self.kernelWidth, self.strideHeight, self.strideWidth) = (kernelHeight, kernelWidth, strideHeight, strideWidth)
        (self.padTop, self.padBottom, self.padLeft, self.padRight) = (padTop, padBottom, padLeft, padRight)
        (self.dilationHeight, self.dilationWidth) = (dilationHeight, dilationWidth)
    }

    /// The window applied along the height only (kernel kh × 1; width untouched).
    var heightPart: ConvWindow {
        ConvWindow(kernelHeight: kernelHeight, kernelWidth: 1, strideHeight: strideHeight, strideWidth: 1, padTop: padTop,
                   padBottom: padBottom, padLeft: 0, padRight: 0, dilationHeight: dilationHeight, dilationWidth: 1)
    }

    /// The window applied along the width only (kernel 1 × kw; height untouched).
    var widthPart: ConvWindow {
        ConvWindow(kernelHeight: 1, kernelWidth: kernelWidth, strideHeight: 1, strideWidth: strideWidth, padTop: 0,
                   padBottom: 0, padLeft: padLeft, padRight: padRight, dilationHeight: 1, dilationWidth: dilationWidth)
    }

    /// A 1 × 1 window with stride 1 and no padding: the input itself is the column matrix.
    var isPointwise: Bool { self == ConvWindow.pointwise }

    var kernelArea: Int { kernelHeight * kernelWidth }

    /// The output height and width for an input of `height` × `width`.
    /// - Throws: `TNError.shape` when the dilated kernel is larger than the padded input.
    func outputSize(height: Int, width: Int, layer: String) throws -> (Int, Int) {
        let extentH = dilationHeight * (kernelHeight - 1) + 1, extentW = dilationWidth * (kernelWidth - 1) + 1
        let paddedH = height + padTop + padBottom, paddedW = width + padLeft + padRight
        guard paddedH >= extentH, paddedW >= extentW else {
            throw TNError.shape("\(layer): the kernel spans \(extentH)×\(extentW) (with dilation) but the padded input is only \(paddedH)×\(paddedW) (input \(height)×\(width))")
        }
        return ((paddedH - extentH) / strideHeight + 1, (paddedW - extentW) / strideWidth + 1)
    }
}
