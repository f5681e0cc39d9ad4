/// A 2-D convolution whose kernel is in Tucker-2 form (Kim et al. 2016): the channel modes
/// are factored, the spatial ones kept in the core,
///
///     K[o, c, i, j] = Σ_{a, b} U^out[o, a] · G[a, b, i, j] · U^in[c, b].
///
/// Parameters, in order: "core" G (R_out, R_in, kh, kw), "factor_0" U^out (out_channels,
/// R_out), "factor_1" U^in (in_channels, R_in). Factorized, it runs a 1 × 1 convolution
/// C → R_in, the core as a dense R_in → R_out convolution (with the layer's stride, padding
/// and dilation), and a 1 × 1 convolution R_out → O.
public final class TuckerConv2d<T: LAPACKScalar>: ConvLayer<T> {
    /// (R_out, R_in).
    public let ranks: [Int]

    /// A Tucker convolution with fresh parameters (dense-init variance).
    /// - Parameter ranks: (R_out, R_in), 1 ≤ R_out ≤ out_channels, 1 ≤ R_in ≤ in_channels.
    /// - Throws: `TNError.shape` for a rank list that is not two values; `TNError.value` for
    ///   a rank outside its bounds or the window errors of `Conv2d`.
    public init(inChannels: Int, outChannels: Int, kernelSize: [Int], ranks: [Int], stride: [Int] = [1, 1],
                padding: ConvPadding = .explicit(0, 0), dilation: [Int] = [1, 1], bias: Bool = true, seed: UInt64 = 0) throws {
        guard ranks.count == 2 else { throw TNError.shape("TuckerConv2d takes two ranks (R_out, R_in); got \(ranks)") }
        guard kernelSize.count == 2 else { throw TNError.value("TuckerConv2d: kernel_size takes two values (height, width)") }
        guard ranks[0] >= 1, ranks[0] <= outChannels, ranks[1] >= 1, ranks[1] <= inChannels else {
            throw TNError.value("TuckerConv2d: ranks \(ranks) must be between 1 and the channels (\(outChannels), \(inChannels))")
        }
        self.ranks = ranks
        let window = try ConvWindow(layer: "TuckerConv2d", kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation)
        let stages: [ConvStage] = [
            .dense(operand: 0, inChannels: inChannels, outChannels: ranks[1], groups: 1, window: .pointwise),
            .dense(operand: 1, inChannels: ranks[1], outChannels: ranks[0], groups: 1, window: window),
            .dense(operand: 2, inChannels: ranks[0], outChannels: outChannels, groups: 1, window: .pointwise),
        ]
        try super.init(layer: "TuckerConv2d", inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize,
                       stride: stride, padding: padding, dilation: dilation, bias: bias,
                       parameterShapes: [ranks + kernelSize, [outChannels, ranks[0]], [inChannels, ranks[1]]],
                       parameterNames: ["core", "factor_0", "factor_1"], kernelEquation: "AByz,oA,cB->ocyz",
                       factorized: ([.contraction("cB->Bc", [2]), .parameter(0), .parameter(1)], stages),
                       bondProduct: Double(ranks[0] * ranks[1]))
        fillInitial(seed: seed)
    }

    /// A Tucker convolution with one rank for both channel modes (clipped to each).
    /// - Throws: as `init(inChannels:outChannels:kernelSize:ranks:…)`.
    public convenience init(inChannels: Int, outChannels: Int, kernelSize: [Int], rank: Int, stride: [Int] = [1, 1],
                            padding: ConvPadding = .explicit(0, 0), dilation: [Int] = [1, 1], bias: Bool = true,
                            seed: UInt64 = 0) throws {
        guard rank >= 1 else { throw TNError.value("TuckerConv2d: the rank must be at least 1 (got \(rank))") }
        try self.init(inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize,
                      ranks: [Swift.min(rank, outChannels), Swift.min(rank, inChannels)], stride: stride, padding: padding,
                      dilation: dilation, bias: bias, seed: seed)
    }

    /// A Tucker convolution fitted to a dense kernel (O, C, kh, kw) by HOOI: with `ranks`
    /// (R_out, R_in; a single `rank` is clipped to each), or with `eps`
    /// (‖K − K̂‖_F ≤ eps · ‖K‖_F, the spatial modes then also truncated before they are folded
    /// into the core). Give exactly one of rank(s) and eps.
    /// - Throws: `TNError.shape` for a bad kernel or bias; `TNError.value` for a bad target,
    ///   a NaN or an infinity, or a bad window.
    /// - Complexity: HOOI of the kernel.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func fromDense(kernel: [T], shape: [Int], bias: [T]? = nil, rank: Int? = nil, ranks: [Int]? = nil,
                                 eps: Double? = nil, stride: [Int] = [1, 1], padding: ConvPadding = .explicit(0, 0),
                                 dilation: [Int] = [1, 1], maxIterations: Int = 50) throws -> TuckerConv2d<T> {
        let s = try checkDense("TuckerConv2d", kernel: kernel, shape: shape, bias: bias)
        guard rank == nil || ranks == nil else { throw TNError.value("TuckerConv2d.fromDense takes rank or ranks, not both") }
        try LayerLabels.checkTarget("TuckerConv2d", rank: rank != nil || ranks != nil, eps: eps, budget: nil)
        _ = try ConvWindow(layer: "TuckerConv2d", kernelSize: [s[2], s[3]], stride: stride, padding: padding, dilation: dilation)
        if let r = rank, r < 1 { throw TNError.value("TuckerConv2d: the rank must be at least 1 (got \(r))") }
        if let rs = ranks {
            guard rs.count == 2 else { throw TNError.shape("TuckerConv2d takes two ranks (R_out, R_in); got \(rs)") }
            guard rs[0] >= 1, rs[0] <= s[0], rs[1] >= 1, rs[1] <= s[1] else {
                throw TNError.value("TuckerConv2d: ranks \(rs) must be between 1 and the channels (\(s[0]), \(s[1]))")
            }
        }
        var target: [Int]? = (ranks ?? rank.map { [Swift.min($0, s[0]), Swift.min($0, s[1])] }).map { $0 + [s[2], s[3]] }
        // A rank above the product of the others cannot be kept: clip (the error is unchanged).
        if var t = target {
            var changed = true
            while changed {
                changed = false
                for k in t.indices {
                    let others = t.enumerated().reduce(1) { $1.offset == k ? $0 : $0 * $1.element }
                    if t[k] > others { t[k] = others; changed = true }
                }
            }
            target = t
        }
        let tucker = try kernel.withUnsafeBufferPointer {
            try TuckerTensor<T>.decompose($0.baseAddress!, shape: s, ranks: target, eps: eps, method: .hooi,
                                          maxIterations: maxIterations, tolerance: 1e-12, progress: nil)
        }
        let r = tucker.ranks
        // Fold the spatial factors into the core: G'[a, b, i, j] = Σ G[a, b, p, q] U_h[i, p] U_w[j, q].
        let fold = try ContractionPlan<T>(planning: EinsumParser.parse("abpq,ip,jq->abij", ndims: [4, 2, 2]),
                                          shapes: [r, [s[2], r[2]], [s[3], r[3]]])
        var core = [T](repeating: 0, count: r[0] * r[1] * s[2] * s[3])
        var g = tucker.core, uh = tucker.factors[2], uw = tucker.factors[3]
        try g.withUnsafeMutableBufferPointer { pg in
            try uh.withUnsafeMutableBufferPointer { ph in
                try uw.withUnsafeMutableBufferPointer { pw in
                    try core.withUnsafeMutableBufferPointer { pc in
                        try fold.run([StridedView(contiguous: pg.baseAddress!, shape: r),
                                      StridedView(contiguous: ph.baseAddress!, shape: [s[2], r[2]]),
                                      StridedView(contiguous: pw.baseAddress!, shape: [s[3], r[3]])],
                                     into: StridedView(contiguous: pc.baseAddress!, shape: [r[0], r[1], s[2], s[3]]))
                    }
                }
            }
        }
        let layer = try TuckerConv2d(inChannels: s[1], outChannels: s[0], kernelSize: [s[2], s[3]], ranks: [r[0], r[1]],
                                     stride: stride, padding: padding, dilation: dilation, bias: bias != nil)
        layer.load([core, tucker.factors[0], tucker.factors[1]], bias: bias)
        return layer
    }
}
