/// A 2-D convolution whose kernel is in CP form (Lebedev et al. 2015; tensorly-torch's CP
/// convolution): with the channels optionally tensorized, O = Π o_k and C = Π c_k,
///
///     K[o, c, i, j] = Σ_r λ_r · Π_k U^out_k[o_k, r] · Π_k U^in_k[c_k, r] · U^h[i, r] · U^w[j, r].
///
/// Parameters, in order: "weights" λ (rank,), "factor_k" for the output modes (o_k, rank),
/// then the input modes (c_k, rank), then the kernel height (kh, rank) and width (kw, rank) —
/// tensorly-torch's layout. Factorized, it runs a 1 × 1 convolution C → rank, a depthwise
/// kh × 1 and a depthwise 1 × kw convolution (carrying the stride, padding and dilation of
/// each axis), and a 1 × 1 convolution rank → O.
public final class CPConv2d<T: LAPACKScalar>: ConvLayer<T> {
    /// The CP rank.
    public let rank: Int
    /// The output-channel modes (Π = out_channels).
    public let outputModes: [Int]
    /// The input-channel modes (Π = in_channels).
    public let inputModes: [Int]

    /// A CP convolution with fresh factors (dense-init variance, weights one).
    /// - Parameters:
    ///   - inputModes / outputModes: the channel modes (one each for plain channels), 1 to 12
    ///     each, every mode ≥ 1.
    /// - Throws: `TNError.shape` for bad modes; `TNError.value` for a rank below 1 or the
    ///   window errors of `Conv2d`.
    public init(inputModes: [Int], outputModes: [Int], kernelSize: [Int], rank: Int, stride: [Int] = [1, 1],
                padding: ConvPadding = .explicit(0, 0), dilation: [Int] = [1, 1], bias: Bool = true, seed: UInt64 = 0) throws {
        try LayerLabels.check("CPConv2d", inputModes: inputModes, outputModes: outputModes, sameCount: false)
        guard rank >= 1 else { throw TNError.value("CPConv2d: the CP rank must be at least 1 (got \(rank))") }
        guard kernelSize.count == 2 else { throw TNError.value("CPConv2d: kernel_size takes two values (height, width)") }
        self.rank = rank
        self.outputModes = outputModes
        self.inputModes = inputModes
        let c = try checkedProduct(inputModes, what: "the input channels"), o = try checkedProduct(outputModes, what: "the output channels")
        let outs = String(outputModes.indices.map(ConvLayer<T>.outLabel)), ins = String(inputModes.indices.map(ConvLayer<T>.inLabel))
        let y = ConvLayer<T>.heightLabel, z = ConvLayer<T>.widthLabel
        let dOut = outputModes.count, dIn = inputModes.count
        let outFactors = (0..<dOut).map { 1 + $0 }, inFactors = (0..<dIn).map { 1 + dOut + $0 }
        let hFactor = 1 + dOut + dIn, wFactor = hFactor + 1
        let factorTerms = (outs + ins + String([y, z])).map { "\($0)R" }
        let kernel = "R," + factorTerms.joined(separator: ",") + "->" + outs + ins + String([y, z])
        let inMatrix = ins.map { "\($0)R" }.joined(separator: ",") + "->R" + ins
        let outMatrix = "R," + outs.map { "\($0)R" }.joined(separator: ",") + "->" + outs + "R"
        let window = try ConvWindow(layer: "CPConv2d", kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation)
        let operands: [ConvOperandSpec] = [.contraction(inMatrix, inFactors), .contraction("\(y)R->R\(y)", [hFactor]),
                                           .contraction("\(z)R->R\(z)", [wFactor]), .contraction(outMatrix, [0] + outFactors)]
        let stages: [ConvStage] = [
            .dense(operand: 0, inChannels: c, outChannels: rank, groups: 1, window: .pointwise),
            .depthwise(operand: 1, channels: rank, window: window.heightPart),
            .depthwise(operand: 2, channels: rank, window: window.widthPart),
            .dense(operand: 3, inChannels: rank, outChannels: o, groups: 1, window: .pointwise),
        ]
        try super.init(layer: "CPConv2d", inChannels: c, outChannels: o, kernelSize: kernelSize, stride: stride, padding: padding,
                       dilation: dilation, bias: bias,
                       parameterShapes: [[rank]] + (outputModes + inputModes + kernelSize).map { [$0, rank] },
                       parameterNames: ["weights"] + (0..<(dOut + dIn + 2)).map { "factor_\($0)" },
                       kernelEquation: kernel, factorized: (operands, stages), bondProduct: Double(rank), unitParameters: [0])
        fillInitial(seed: seed)
    }

    /// A CP convolution on plain channels (one mode each).
    /// - Throws: as `init(inputModes:outputModes:kernelSize:rank:…)`.
    public convenience init(inChannels: Int, outChannels: Int, kernelSize: [Int], rank: Int, stride: [Int] = [1, 1],
                            padding: ConvPadding = .explicit(0, 0), dilation: [Int] = [1, 1], bias: Bool = true,
                            seed: UInt64 = 0) throws {
        try self.init(inputModes: [inChannels], outputModes: [outChannels], kernelSize: kernelSize, rank: rank, stride: stride,
                      padding: padding, dilation: dilation, bias: bias, seed: seed)
    }

    /// A CP convolution fitted to a dense kernel (O, C, kh, kw) seen as the tensor (output
    /// modes…, input modes…, kh, kw), by CP-ALS (SVD init): with `rank`, or with `eps` the
    /// smallest rank (doubling, then bisecting, up to the rank where CP stores as many values
    /// as the kernel) whose relative error is at most eps. Give exactly one. The stride,
    /// padding and dilation are the layer's.
    /// - Parameters:
    ///   - inputModes / outputModes: nil for plain channels.
    ///   - maxIterations / tolerance: for each CP-ALS run.
    /// - Throws: `TNError.shape` for a bad kernel, bias or modes; `TNError.value` for a bad
    ///   target, an eps no rank reaches, a NaN or an infinity, or a bad window.
    /// - Complexity: CP-ALS of the kernel (per iteration about 4 · rank · kernel size).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func fromDense(kernel: [T], shape: [Int], bias: [T]? = nil, inputModes: [Int]? = nil,
                                 outputModes: [Int]? = nil, rank: Int? = nil, eps: Double? = nil, stride: [Int] = [1, 1],
                                 padding: ConvPadding = .explicit(0, 0), dilation: [Int] = [1, 1],
                                 maxIterations: Int = 500, tolerance: Double = 1e-12) throws -> CPConv2d<T> {
        let s = try checkDense("CPConv2d", kernel: kernel, shape: shape, bias: bias)
        let outs = try channelModes("CPConv2d", outputModes, channels: s[0], what: "output")
        let ins = try channelModes("CPConv2d", inputModes, channels: s[1], what: "input")
        try LayerLabels.checkTarget("CPConv2d", rank: rank != nil, eps: eps, budget: nil)
        _ = try ConvWindow(layer: "CPConv2d", kernelSize: [s[2], s[3]], stride: stride, padding: padding, dilation: dilation)
        let tensorShape = outs + ins + [s[2], s[3]]
        let decompose = { (r: Int) throws -> CPTensor<T> in
            try kernel.withUnsafeBufferPointer {
                try CPTensor<T>.alternatingLeastSquares($0.baseAddress!, shape: tensorShape, rank: r, initialization: .svd,
                                                        maxIterations: maxIterations, tolerance: tolerance, progress: nil)
            }
        }
        var cp: CPTensor<T>
        if let r = rank {
            guard r >= 1 else { throw TNError.value("CPConv2d: the CP rank must be at least 1 (got \(r))") }
            cp = try decompose(r)
        } else {
            let target = eps!
            let norm = kernel.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let error = { (c: CPTensor<T>) throws -> Double in
                let dense = try c.dense()
                var e = 0.0
                for (a, b) in zip(kernel, dense) { e += (Double(a) - Double(b)) * (Double(a) - Double(b)) }
                return norm == 0 ? 0 : e.squareRoot() / norm
            }
            let limit = Swift.max(1, kernel.count / (1 + tensorShape.reduce(0, +)))
            var lo = 0, hi = 1
            cp = try decompose(1)
            while try error(cp) > target {
                guard hi < limit else {
                    throw TNError.value("CPConv2d.fromDense: no CP rank up to \(limit) (as many values as the kernel) reaches eps \(target)")
                }
                lo = hi
                hi = Swift.min(hi * 2, limit)
                cp = try decompose(hi)
            }
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                let c = try decompose(mid)
                if try error(c) <= target { hi = mid; cp = c } else { lo = mid }
            }
        }
        let layer = try CPConv2d(inputModes: ins, outputModes: outs, kernelSize: [s[2], s[3]], rank: cp.rank, stride: stride,
                                 padding: padding, dilation: dilation, bias: bias != nil)
        layer.load([cp.weights] + cp.factors, bias: bias)
        return layer
    }
}
