/// A 2-D convolution whose kernel is a tensor train over the channels (Garipov et al. 2016):
/// in_channels = Π c_k, out_channels = Π s_k (the same number d of modes), and
///
///     K[(s_1…s_d), (c_1…c_d), i, j] = Σ S[i, j, r_0] · G_1[r_0, c_1, s_1, r_1] ⋯ G_d[r_{d-1}, c_d, s_d, 1].
///
/// Parameters, in order: "core_0" the spatial core S (kh, kw, r_0), then "core_k" G_k
/// (r_{k-1}, c_k, s_k, r_k), r_d = 1. Factorized, the TT-matrix cores are contracted into
/// one (O · r_0) × C matrix applied as a 1 × 1 convolution, followed by the spatial core as a
/// convolution r_0 → 1 shared by the O output channels (the layer's stride, padding and
/// dilation).
public final class TTConv2d<T: LAPACKScalar>: ConvLayer<T> {
    /// The ranks r_0 (spatial), r_1 … r_{d-1}.
    public let ranks: [Int]
    /// The input-channel modes c_k.
    public let inputModes: [Int]
    /// The output-channel modes s_k.
    public let outputModes: [Int]

    /// A TT convolution with fresh cores (dense-init variance).
    /// - Parameters:
    ///   - inputModes / outputModes: d ≥ 1 modes each (1 to 12), every mode ≥ 1.
    ///   - ranks: d values r_0 … r_{d-1}, each ≥ 1 (`init(…rank:…)` uses one for all).
    /// - Throws: `TNError.shape` for bad modes or a rank list of the wrong length;
    ///   `TNError.value` for a rank below 1 or the window errors of `Conv2d`.
    public init(inputModes: [Int], outputModes: [Int], kernelSize: [Int], ranks: [Int], stride: [Int] = [1, 1],
                padding: ConvPadding = .explicit(0, 0), dilation: [Int] = [1, 1], bias: Bool = true, seed: UInt64 = 0) throws {
        try LayerLabels.check("TTConv2d", inputModes: inputModes, outputModes: outputModes, sameCount: true)
        let d = inputModes.count
        guard ranks.count == d else {
            throw TNError.shape("TTConv2d with \(d) channel modes takes \(d) ranks (r_0 for the spatial core, then \(d - 1) bonds); got \(ranks.count)")
        }
        guard ranks.allSatisfy({ $0 >= 1 }) else { throw TNError.value("TTConv2d: ranks must be at least 1 (got \(ranks))") }
        guard kernelSize.count == 2 else { throw TNError.value("TTConv2d: kernel_size takes two values (height, width)") }
        self.ranks = ranks
        self.inputModes = inputModes
        self.outputModes = outputModes
        let c = try checkedProduct(inputModes, what: "the input channels"), o = try checkedProduct(outputModes, what: "the output channels")
        let all = ranks + [1]
        let bond = { (k: Int) in String(LayerLabels.bond(k)) }
        let ins = String((0..<d).map(ConvLayer<T>.inLabel)), outs = String((0..<d).map(ConvLayer<T>.outLabel))
        let y = ConvLayer<T>.heightLabel, z = ConvLayer<T>.widthLabel
        let cores = (0..<d).map { k in bond(k) + String(ConvLayer<T>.inLabel(k)) + String(ConvLayer<T>.outLabel(k)) + bond(k + 1) }
        let spatial = "\(y)\(z)" + bond(0)
        let window = try ConvWindow(layer: "TTConv2d", kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation)
        let stages: [ConvStage] = [
            .dense(operand: 0, inChannels: c, outChannels: o * ranks[0], groups: 1, window: .pointwise),
            .dense(operand: 1, inChannels: ranks[0], outChannels: 1, groups: o, window: window),
        ]
        let operands: [ConvOperandSpec] = [.contraction(cores.joined(separator: ",") + "->" + outs + bond(0) + ins, Array(1...d)),
                                           .contraction(spatial + "->" + bond(0) + "\(y)\(z)", [0])]
        try super.init(layer: "TTConv2d", inChannels: c, outChannels: o, kernelSize: kernelSize, stride: stride, padding: padding,
                       dilation: dilation, bias: bias,
                       parameterShapes: [kernelSize + [ranks[0]]] + (0..<d).map { [all[$0], inputModes[$0], outputModes[$0], all[$0 + 1]] },
                       parameterNames: (0...d).map { "core_\($0)" },
                       kernelEquation: ([spatial] + cores).joined(separator: ",") + "->" + outs + ins + "\(y)\(z)",
                       factorized: (operands, stages), bondProduct: ranks.reduce(1.0) { $0 * Double($1) })
        fillInitial(seed: seed)
    }

    /// A TT convolution with the same rank for the spatial core and every bond.
    /// - Throws: as `init(inputModes:outputModes:kernelSize:ranks:…)`.
    public convenience init(inputModes: [Int], outputModes: [Int], kernelSize: [Int], rank: Int, stride: [Int] = [1, 1],
                            padding: ConvPadding = .explicit(0, 0), dilation: [Int] = [1, 1], bias: Bool = true,
                            seed: UInt64 = 0) throws {
        try self.init(inputModes: inputModes, outputModes: outputModes, kernelSize: kernelSize,
                      ranks: [Int](repeating: rank, count: inputModes.count), stride: stride, padding: padding,
                      dilation: dilation, bias: bias, seed: seed)
    }

    /// A TT convolution fitted to a dense kernel (O, C, kh, kw) by TT-SVD of the tensor
    /// (kh · kw, c_1 · s_1, …, c_d · s_d): with a cap on every rank (`rank`), or with
    /// ‖K − K̂‖_F ≤ eps · ‖K‖_F. Give exactly one of them.
    /// - Parameters:
    ///   - inputModes / outputModes: the channel modes, the same number of each (nil: one).
    /// - Throws: `TNError.shape` for a bad kernel, bias or modes; `TNError.value` for a bad
    ///   target, a NaN or an infinity, or a bad window.
    /// - Complexity: TT-SVD of the kernel.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func fromDense(kernel: [T], shape: [Int], bias: [T]? = nil, inputModes: [Int]? = nil,
                                 outputModes: [Int]? = nil, rank: Int? = nil, eps: Double? = nil, stride: [Int] = [1, 1],
                                 padding: ConvPadding = .explicit(0, 0), dilation: [Int] = [1, 1]) throws -> TTConv2d<T> {
        let s = try checkDense("TTConv2d", kernel: kernel, shape: shape, bias: bias)
        let outs = try channelModes("TTConv2d", outputModes, channels: s[0], what: "output")
        let ins = try channelModes("TTConv2d", inputModes, channels: s[1], what: "input")
        try LayerLabels.check("TTConv2d", inputModes: ins, outputModes: outs, sameCount: true)
        try LayerLabels.checkTarget("TTConv2d", rank: rank != nil, eps: eps, budget: nil)
        if let r = rank, r < 1 { throw TNError.value("TTConv2d: the rank must be at least 1 (got \(r))") }
        _ = try ConvWindow(layer: "TTConv2d", kernelSize: [s[2], s[3]], stride: stride, padding: padding, dilation: dilation)
        let d = ins.count
        // K (s_1…s_d, c_1…c_d, kh, kw) → (kh, kw, c_1, s_1, …, c_d, s_d).
        let perm = [2 * d, 2 * d + 1] + (0..<d).flatMap { [d + $0, $0] }
        var permuted = [T](repeating: 0, count: kernel.count)
        kernel.withUnsafeBufferPointer { src in
            permuted.withUnsafeMutableBufferPointer { dst in
                TTKernels.permute(src.baseAddress!, shape: outs + ins + [s[2], s[3]], perm: perm, into: dst.baseAddress!)
            }
        }
        let tt = try permuted.withUnsafeBufferPointer {
            try TTTensor<T>(ttsvd: $0.baseAddress!, shape: [s[2] * s[3]] + zip(ins, outs).map { $0 * $1 },
                            caps: [Int?](repeating: rank, count: d), eps: eps)
        }
        let layer = try TTConv2d(inputModes: ins, outputModes: outs, kernelSize: [s[2], s[3]], ranks: Array(tt.ranks[1...d]),
                                 stride: stride, padding: padding, dilation: dilation, bias: bias != nil)
        layer.load(tt.cores, bias: bias)
        return layer
    }
}
