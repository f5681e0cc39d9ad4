import TNSwift

// The convolutions in the C ABI (tnswift.h, "Convolutions"): a tn_conv handle owns one
// ConvLayer (Conv2d, CPConv2d, TuckerConv2d or TTConv2d). Inputs and outputs are the caller's
// strided NCHW buffers, read and written in place; parameters and gradients are handed out as
// pointers into the layer's own storage (tn_layer_param).

/// `tn_conv_config`
struct CConvConfig {
    var kind: Int32
    var dtype: Int32
    var inChannels: Int64
    var outChannels: Int64
    var kernelSize: (Int64, Int64)
    var stride: (Int64, Int64)
    var dilation: (Int64, Int64)
    var padding: (Int64, Int64)
    var paddingMode: Int32
    var bias: Int32
    var nInModes: Int64
    var inModes: UnsafePointer<Int64>?
    var nOutModes: Int64
    var outModes: UnsafePointer<Int64>?
    var nRanks: Int64
    var ranks: UnsafePointer<Int64>?
    var seed: UInt64
}

/// `tn_conv_info`
struct CConvInfo {
    var kind: Int32
    var dtype: Int32
    var inChannels: Int64
    var outChannels: Int64
    var kernelSize: (Int64, Int64)
    var stride: (Int64, Int64)
    var dilation: (Int64, Int64)
    var padding: (Int64, Int64, Int64, Int64)
    var paddingMode: Int32
    var hasBias: Int32
    var nParams: Int64
    var parameterCount: Int64
    var compression: Double
}

/// `tn_conv_kind` values.
private enum ConvKind: Int32 {
    case dense = 0, cp = 1, tucker = 2, tt = 3

    static func read(_ k: Int32) throws -> ConvKind {
        guard let kind = ConvKind(rawValue: k) else {
            throw TNError.value("kind \(k) is not a tn_conv_kind (0 DENSE, 1 CP, 2 TUCKER, 3 TT)")
        }
        return kind
    }
}

/// A value of a C int64 that must fit Int (always on 64-bit platforms) and be in a sane range.
private func size(_ v: Int64) -> Int { Int(truncatingIfNeeded: v) }

/// The settings common to create and from_dense.
private struct ConvSettings {
    var stride: [Int]
    var dilation: [Int]
    var padding: ConvPadding
    var inModes: [Int]?
    var outModes: [Int]?
    var ranks: [Int]

    init(_ c: CConvConfig) throws {
        stride = [size(c.stride.0), size(c.stride.1)]
        dilation = [size(c.dilation.0), size(c.dilation.1)]
        switch c.paddingMode {
        case 0: padding = .explicit(size(c.padding.0), size(c.padding.1))
        case 1: padding = .same
        case 2: padding = .valid
        default:
            throw TNError.value("padding_mode \(c.paddingMode) is not a tn_conv_padding (0 EXPLICIT, 1 SAME, 2 VALID)")
        }
        let ins = try convList(c.inModes, c.nInModes, what: "in_modes")
        let outs = try convList(c.outModes, c.nOutModes, what: "out_modes")
        inModes = ins.isEmpty ? nil : ins
        outModes = outs.isEmpty ? nil : outs
        ranks = try convList(c.ranks, c.nRanks, what: "ranks")
    }
}

/// `n` integers (bounded so a garbage count cannot make us read far).
private func convList(_ p: UnsafePointer<Int64>?, _ n: Int64, what: String) throws -> [Int] {
    guard n >= 0, n <= 64 else { throw TNError.shape("\(what) has \(n) entries; 0 to 64 are supported") }
    if n == 0 { return [] }
    guard let p else { throw ABIError.null(what) }
    return (0..<Int(n)).map { size(p[$0]) }
}

private func makeConv<T: LAPACKScalar>(_ c: CConvConfig, _ kind: ConvKind, _: T.Type) throws -> ConvLayer<T> {
    let s = try ConvSettings(c)
    let (cin, cout) = (size(c.inChannels), size(c.outChannels))
    let k = [size(c.kernelSize.0), size(c.kernelSize.1)]
    let bias = c.bias != 0
    let ins = s.inModes ?? [cin], outs = s.outModes ?? [cout]
    let modeProduct = { (m: [Int]) in m.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? -1 : $0 * $1 } }
    if kind != .dense, modeProduct(ins) != cin || modeProduct(outs) != cout {
        throw TNError.shape("in_modes \(ins) and out_modes \(outs) must multiply to in_channels \(cin) and out_channels \(cout)")
    }
    switch kind {
    case .dense:
        guard s.ranks.isEmpty, s.inModes == nil, s.outModes == nil else {
            throw TNError.shape("a DENSE convolution takes no modes and no ranks")
        }
        return try Conv2d<T>(inChannels: cin, outChannels: cout, kernelSize: k, stride: s.stride, padding: s.padding,
                             dilation: s.dilation, bias: bias, seed: c.seed)
    case .cp:
        guard s.ranks.count == 1 else { throw TNError.shape("a CP convolution takes one rank (got \(s.ranks.count))") }
        return try CPConv2d<T>(inputModes: ins, outputModes: outs, kernelSize: k, rank: s.ranks[0], stride: s.stride,
                               padding: s.padding, dilation: s.dilation, bias: bias, seed: c.seed)
    case .tucker:
        guard s.inModes == nil, s.outModes == nil else { throw TNError.shape("a TUCKER convolution takes no channel modes") }
        if s.ranks.count == 1 {
            return try TuckerConv2d<T>(inChannels: cin, outChannels: cout, kernelSize: k, rank: s.ranks[0], stride: s.stride,
                                       padding: s.padding, dilation: s.dilation, bias: bias, seed: c.seed)
        }
        return try TuckerConv2d<T>(inChannels: cin, outChannels: cout, kernelSize: k, ranks: s.ranks, stride: s.stride,
                                   padding: s.padding, dilation: s.dilation, bias: bias, seed: c.seed)
    case .tt:
        if s.ranks.count == 1 {
            return try TTConv2d<T>(inputModes: ins, outputModes: outs, kernelSize: k, rank: s.ranks[0], stride: s.stride,
                                   padding: s.padding, dilation: s.dilation, bias: bias, seed: c.seed)
        }
        return try TTConv2d<T>(inputModes: ins, outputModes: outs, kernelSize: k, ranks: s.ranks, stride: s.stride,
                               padding: s.padding, dilation: s.dilation, bias: bias, seed: c.seed)
    }
}

private func readConfig(_ config: UnsafeRawPointer?) throws -> CConvConfig {
    guard let config else { throw ABIError.null("config") }
    return config.assumingMemoryBound(to: CConvConfig.self).pointee
}

/// `tn_conv_create`: a convolution with fresh, seeded parameters from a `tn_conv_config`.
@_cdecl("tn_conv_create")
public func tn_conv_create(_ config: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("the conv output pointer") }
        out.pointee = nil
        let c = try readConfig(config)
        let kind = try ConvKind.read(c.kind)
        let handle: ConvHandle
        switch try readDType(c.dtype) {
        case .float32: handle = ConvHandle(.float32(try makeConv(c, kind, Float.self)), kind: kind.rawValue, paddingMode: c.paddingMode)
        case .float64: handle = ConvHandle(.float64(try makeConv(c, kind, Double.self)), kind: kind.rawValue, paddingMode: c.paddingMode)
        }
        out.pointee = handle.register()
    }
}

// MARK: - From a dense kernel

private func fromDense<T: LAPACKScalar>(_ c: CConvConfig, _ kind: ConvKind, _ kernel: UnsafePointer<CTensor>,
                                        _ biasTensor: UnsafePointer<CTensor>?, _ eps: Double, _ iterations: Int64,
                                        _: T.Type) throws -> ConvLayer<T> {
    let s = try ConvSettings(c)
    let (values, shape) = try withContiguous(kernel, what: "kernel") { (p: UnsafePointer<T>, shape: [Int]) -> ([T], [Int]) in
        guard shape.count == 4 else {
            throw TNError.shape("the kernel must have shape (out_channels, in_channels, kh, kw); it has shape \(shape)")
        }
        return (Array(UnsafeBufferPointer(start: p, count: shape.reduce(1, *))), shape)
    }
    let given = [size(c.outChannels), size(c.inChannels), size(c.kernelSize.0), size(c.kernelSize.1)]
    for (g, k) in zip(given, shape) where g != 0 && g != k {
        throw TNError.shape("the config says (out_channels, in_channels, kh, kw) = \(given) but the kernel has shape \(shape) (0 means: take the kernel's)")
    }
    let bias: [T]? = try biasTensor.map { b in
        try withContiguous(b, what: "bias") { (p: UnsafePointer<T>, bs: [Int]) -> [T] in
            guard bs.count == 1 else { throw TNError.shape("the bias must be a vector (out_channels,); it has shape \(bs)") }
            return Array(UnsafeBufferPointer(start: p, count: bs[0]))
        }
    }
    let e = eps < 0 ? nil : eps
    let rank = s.ranks.count == 1 ? s.ranks[0] : nil
    switch kind {
    case .dense:
        guard s.ranks.isEmpty, e == nil, s.inModes == nil, s.outModes == nil else {
            throw TNError.value("a DENSE convolution copies the kernel: no ranks, no modes, eps negative (not given)")
        }
        return try Conv2d<T>(kernel: values, shape: shape, bias: bias, stride: s.stride, padding: s.padding, dilation: s.dilation)
    case .cp:
        guard s.ranks.count <= 1 else { throw TNError.shape("a CP convolution takes one rank (got \(s.ranks.count))") }
        return try CPConv2d<T>.fromDense(kernel: values, shape: shape, bias: bias, inputModes: s.inModes, outputModes: s.outModes,
                                         rank: rank, eps: e, stride: s.stride, padding: s.padding, dilation: s.dilation,
                                         maxIterations: iterations > 0 ? Int(iterations) : 500)
    case .tucker:
        guard s.inModes == nil, s.outModes == nil else { throw TNError.shape("a TUCKER convolution takes no channel modes") }
        guard s.ranks.count <= 2 else { throw TNError.shape("a TUCKER convolution takes one or two ranks (got \(s.ranks.count))") }
        return try TuckerConv2d<T>.fromDense(kernel: values, shape: shape, bias: bias, rank: rank,
                                             ranks: s.ranks.count == 2 ? s.ranks : nil, eps: e, stride: s.stride,
                                             padding: s.padding, dilation: s.dilation,
                                             maxIterations: iterations > 0 ? Int(iterations) : 50)
    case .tt:
        guard s.ranks.count <= 1 else { throw TNError.shape("from_dense of a TT convolution takes one rank cap (got \(s.ranks.count))") }
        return try TTConv2d<T>.fromDense(kernel: values, shape: shape, bias: bias, inputModes: s.inModes, outputModes: s.outModes,
                                         rank: rank, eps: e, stride: s.stride, padding: s.padding, dilation: s.dilation)
    }
}

/// `tn_conv_from_dense`: a convolution fitted to a dense kernel; the target is the config's
/// ranks or eps ≥ 0 (exactly one; neither for DENSE).
@_cdecl("tn_conv_from_dense")
public func tn_conv_from_dense(_ config: UnsafeRawPointer?, _ kernel: UnsafeRawPointer?, _ bias: UnsafeRawPointer?,
                               _ eps: Double, _ iterations: Int64,
                               _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("the conv output pointer") }
        out.pointee = nil
        let c = try readConfig(config)
        let kind = try ConvKind.read(c.kind)
        guard let kernel else { throw ABIError.null("kernel") }
        let k = kernel.assumingMemoryBound(to: CTensor.self)
        let b = bias?.assumingMemoryBound(to: CTensor.self)
        let handle: ConvHandle
        switch try readDType(c.dtype) {
        case .float32:
            handle = ConvHandle(.float32(try fromDense(c, kind, k, b, eps, iterations, Float.self)), kind: kind.rawValue, paddingMode: c.paddingMode)
        case .float64:
            handle = ConvHandle(.float64(try fromDense(c, kind, k, b, eps, iterations, Double.self)), kind: kind.rawValue, paddingMode: c.paddingMode)
        }
        out.pointee = handle.register()
    }
}

/// `tn_conv_destroy`: releases the convolution; its parameter pointers become invalid.
@_cdecl("tn_conv_destroy")
public func tn_conv_destroy(_ conv: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { try ConvHandle.destroy(conv) }
}

// MARK: - Facts and parameters

private func convInfo<T>(_ l: ConvLayer<T>, _ h: ConvHandle) -> CConvInfo {
    let p = l.appliedPadding.map { Int64($0) }
    return CConvInfo(kind: h.kind, dtype: Int32(h.dtype.rawValue), inChannels: Int64(l.inChannels), outChannels: Int64(l.outChannels),
                     kernelSize: (Int64(l.kernelSize[0]), Int64(l.kernelSize[1])), stride: (Int64(l.stride[0]), Int64(l.stride[1])),
                     dilation: (Int64(l.dilation[0]), Int64(l.dilation[1])), padding: (p[0], p[1], p[2], p[3]),
                     paddingMode: h.paddingMode, hasBias: l.hasBias ? 1 : 0, nParams: Int64(h.count),
                     parameterCount: Int64(l.parameterCount), compression: l.compression)
}

/// `tn_conv_info_get`: kind, dtype, channels, window, parameter counts, compression.
@_cdecl("tn_conv_info_get")
public func tn_conv_info_get(_ conv: UnsafeRawPointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try ConvHandle.lookup(conv)
        guard let info else { throw ABIError.null("info") }
        let p = info.assumingMemoryBound(to: CConvInfo.self)
        switch h.layer {
        case .float32(let l): p.pointee = convInfo(l, h)
        case .float64(let l): p.pointee = convInfo(l, h)
        }
    }
}

private func convParameter<T>(_ l: ConvLayer<T>, _ h: ConvHandle, _ i: Int) -> CLayerParam {
    let (data, grad): (UnsafeMutableBufferPointer<T>, UnsafeMutableBufferPointer<T>)
    if i < l.parameterShapes.count {
        (data, grad) = (l.parameter(i), l.gradient(i))
    } else {
        // Only reached when the layer has a bias (the handle lists it last).
        (data, grad) = (l.biasValues!, l.biasGradientValues!)
    }
    return h.table.entry(i, data: data, grad: grad)
}

/// `tn_conv_param_get`: name, shape and data / gradient pointers of parameter `i` (the bias
/// last), all pointing into the layer and valid until `tn_conv_destroy`.
@_cdecl("tn_conv_param_get")
public func tn_conv_param_get(_ conv: UnsafeRawPointer?, _ i: Int64, _ param: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try ConvHandle.lookup(conv)
        let (_, p) = try h.table.slot(i, param, holds: "this convolution has \(h.count) parameters (the bias included)")
        switch h.layer {
        case .float32(let l): p.pointee = convParameter(l, h, Int(i))
        case .float64(let l): p.pointee = convParameter(l, h, Int(i))
        }
    }
}

/// `tn_conv_output_shape`: (N, out_channels, H', W') for an input (N, C, H, W).
@_cdecl("tn_conv_output_shape")
public func tn_conv_output_shape(_ conv: UnsafeRawPointer?, _ input: UnsafePointer<Int64>?, _ output: UnsafeMutablePointer<Int64>?) -> Int32 {
    ErrorState.guarded {
        let h = try ConvHandle.lookup(conv)
        guard let input else { throw ABIError.null("input_shape") }
        guard let output else { throw ABIError.null("output_shape") }
        let shape = (0..<4).map { size(input[$0]) }
        let result: [Int]
        switch h.layer {
        case .float32(let l): result = try l.outputShape(forInput: shape)
        case .float64(let l): result = try l.outputShape(forInput: shape)
        }
        for k in 0..<4 { output[k] = Int64(result[k]) }
    }
}

// MARK: - Forward, backward, kernel

private func checkConvDType(_ h: ConvHandle, _ dtype: Int32) throws {
    let t = try readDType(dtype)
    guard t == h.dtype else { throw TNError.dtype("the arrays are \(t) but the convolution is \(h.dtype)") }
}

private func convTensor(_ p: UnsafeRawPointer?, _ what: String) throws -> CTensor {
    guard let p else { throw ABIError.null(what) }
    return p.assumingMemoryBound(to: CTensor.self).pointee
}

/// `tn_conv_forward`: y = conv2d(x, K) + b for strided NCHW views.
@_cdecl("tn_conv_forward")
public func tn_conv_forward(_ conv: UnsafeMutableRawPointer?, _ dtype: Int32, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try ConvHandle.lookup(conv)
        try checkConvDType(h, dtype)
        let (xt, yt) = (try convTensor(x, "x"), try convTensor(y, "y"))
        switch h.layer {
        case .float32(let l): try l.forward(try readView(xt, what: "x"), into: try readView(yt, what: "y"))
        case .float64(let l): try l.forward(try readView(xt, what: "x"), into: try readView(yt, what: "y"))
        }
    }
}

private func convBackward<T: LAPACKScalar>(_ l: ConvLayer<T>, _ dy: CTensor, _ x: CTensor, _ dx: CTensor?) throws {
    let dxView: StridedView<T>? = try dx.map { try readView($0, what: "dx") }
    try l.backward(try readView(dy, what: "dy"), input: try readView(x, what: "x"), inputGradient: dxView)
}

/// `tn_conv_backward`: overwrites every parameter gradient and, when `dx` is not NULL, dx.
@_cdecl("tn_conv_backward")
public func tn_conv_backward(_ conv: UnsafeMutableRawPointer?, _ dtype: Int32, _ dy: UnsafeRawPointer?, _ x: UnsafeRawPointer?,
                             _ dx: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try ConvHandle.lookup(conv)
        try checkConvDType(h, dtype)
        let (dyt, xt) = (try convTensor(dy, "dy"), try convTensor(x, "x"))
        let dxt = try dx.map { try convTensor($0, "dx") }
        switch h.layer {
        case .float32(let l): try convBackward(l, dyt, xt, dxt)
        case .float64(let l): try convBackward(l, dyt, xt, dxt)
        }
    }
}

private func copyKernel<T: LAPACKScalar>(_ l: ConvLayer<T>, to t: CTensor) throws {
    let shape = try readShape(t.ndim, t.shape, what: "out")
    let want = [l.outChannels, l.inChannels] + l.kernelSize
    guard shape == want else { throw TNError.shape("out has shape \(shape); the kernel is \(want) (out_channels, in_channels, kh, kw)") }
    let k = try l.denseKernel()
    guard let data = t.data else { throw ABIError.null("the data of out") }
    let strides = t.strides.map { s in (0..<4).map { Int(s[$0]) } } ?? StridedView<T>.contiguousStrides(shape)
    k.withUnsafeBufferPointer { v in
        copyStrided(from: v.baseAddress!, StridedView<T>.contiguousStrides(shape), to: data.assumingMemoryBound(to: T.self),
                    strides, shape: shape)
    }
}

/// `tn_conv_dense_kernel`: K into a strided (out_channels, in_channels, kh, kw) array.
@_cdecl("tn_conv_dense_kernel")
public func tn_conv_dense_kernel(_ conv: UnsafeRawPointer?, _ dtype: Int32, _ out: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try ConvHandle.lookup(conv)
        try checkConvDType(h, dtype)
        let t = try convTensor(out, "out")
        switch h.layer {
        case .float32(let l): try copyKernel(l, to: t)
        case .float64(let l): try copyKernel(l, to: t)
        }
    }
}
