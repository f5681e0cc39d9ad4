import TNSwift

// The transformer feed-forward block and multi-linear attention in the C ABI (tnswift.h,
// "Feed-forward and attention"): a tn_ff handle owns one TTFeedForward, a tn_attention one
// MultiLinearAttention. Inputs and outputs are the caller's strided arrays, read and written in
// place; parameters and gradients are handed out as pointers into the layer's own storage
// (tn_layer_param).

/// `tn_ff_config`
struct CFFConfig {
    var dtype: Int32
    var activation: Int32
    var nModes: Int64
    var modelModes: UnsafePointer<Int64>?
    var hiddenModes: UnsafePointer<Int64>?
    var nRanks: Int64
    var ranks: UnsafePointer<Int64>?
    var bias: Int32
    var seed: UInt64
}

/// `tn_ff_info`
struct CFFInfo {
    var dtype: Int32
    var activation: Int32
    var modelDim: Int64
    var hiddenDim: Int64
    var nModes: Int64
    var nParams: Int64
    var parameterCount: Int64
    var compression: Double
    var bias: Int32
}

/// `tn_attention_config`
struct CAttentionConfig {
    var dtype: Int32
    var bias: Int32
    var softmaxCores: Int32
    var modelDim: Int64
    var keyLength: Int64
    var blocks: Int64
    var rank: Int64
    var seed: UInt64
}

/// `tn_attention_info`
struct CAttentionInfo {
    var dtype: Int32
    var bias: Int32
    var softmaxCores: Int32
    var modelDim: Int64
    var keyLength: Int64
    var blocks: Int64
    var rank: Int64
    var nParams: Int64
    var parameterCount: Int64
}

/// `n` integers from a C array (callers bound `n`).
private func ffList(_ p: UnsafePointer<Int64>?, _ n: Int, what: String) throws -> [Int] {
    if n == 0 { return [] }
    guard let p else { throw ABIError.null(what) }
    return (0..<n).map { Int(truncatingIfNeeded: p[$0]) }
}

/// A required strided view.
private func view<T: BLASScalar>(_ p: UnsafeRawPointer?, _ what: String) throws -> StridedView<T> {
    guard let p else { throw ABIError.null(what) }
    return try readView(p.assumingMemoryBound(to: CTensor.self).pointee, what: what)
}

/// An optional strided view (NULL: nil).
private func optionalView<T: BLASScalar>(_ p: UnsafeRawPointer?, _ what: String) throws -> StridedView<T>? {
    guard let p else { return nil }
    return try readView(p.assumingMemoryBound(to: CTensor.self).pointee, what: what)
}

/// Refuses arrays whose dtype is not the layer's.
private func checkDType(_ layerType: DType, _ dtype: Int32, _ noun: String) throws {
    let t = try readDType(dtype)
    guard t == layerType else { throw TNError.dtype("the arrays are \(t) but the \(noun) is \(layerType)") }
}

// MARK: - Feed-forward

/// `tn_ff_create`: a TT feed-forward block with fresh, seeded parameters.
@_cdecl("tn_ff_create")
public func tn_ff_create(_ config: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("the ff output pointer") }
        out.pointee = nil
        guard let config else { throw ABIError.null("config") }
        let c = config.assumingMemoryBound(to: CFFConfig.self).pointee
        let dtype = try readDType(c.dtype)
        let activation = try readActivation(c.activation)
        guard c.nModes >= 1, c.nModes <= 16 else { throw TNError.value("n_modes must be 1 to 16 (got \(c.nModes))") }
        let d = Int(c.nModes)
        let model = try ffList(c.modelModes, d, what: "model_modes")
        let hidden = try ffList(c.hiddenModes, d, what: "hidden_modes")
        let ranks: [Int]
        switch c.nRanks {
        case 0 where d == 1: ranks = []
        case 1: ranks = [Int](repeating: try ffList(c.ranks, 1, what: "ranks")[0], count: d - 1)
        case Int64(d - 1): ranks = try ffList(c.ranks, d - 1, what: "ranks")
        default:
            throw TNError.shape("n_ranks must be 1 (every bond) or n_modes - 1 = \(d - 1) (got \(c.nRanks))")
        }
        let handle: FeedForwardHandle
        switch dtype {
        case .float32:
            handle = FeedForwardHandle(.float32(try TTFeedForward(modelModes: model, hiddenModes: hidden, ranks: ranks,
                                                                  activation: activation, bias: c.bias != 0, seed: c.seed)))
        case .float64:
            handle = FeedForwardHandle(.float64(try TTFeedForward(modelModes: model, hiddenModes: hidden, ranks: ranks,
                                                                  activation: activation, bias: c.bias != 0, seed: c.seed)))
        }
        out.pointee = handle.register()
    }
}

/// `tn_ff_destroy`: releases the block; its parameter pointers become invalid.
@_cdecl("tn_ff_destroy")
public func tn_ff_destroy(_ ff: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { try FeedForwardHandle.destroy(ff) }
}

private func ffInfo<T>(_ b: TTFeedForward<T>, _ h: FeedForwardHandle) -> CFFInfo {
    // Two dense nn.Linear layers, d_model → d_ff → d_model, with the same bias setting.
    let (m, f) = (Double(b.modelDim), Double(b.hiddenDim))
    let dense = 2 * m * f + (b.hasBias ? m + f : 0)
    return CFFInfo(dtype: Int32(h.dtype.rawValue), activation: activationCode(b.activation), modelDim: Int64(b.modelDim),
                   hiddenDim: Int64(b.hiddenDim), nModes: Int64(b.modelModes.count), nParams: Int64(b.parameterShapes.count),
                   parameterCount: Int64(b.parameterCount), compression: dense / Double(b.parameterCount),
                   bias: b.hasBias ? 1 : 0)
}

/// `tn_ff_info_get`: dtype, activation, sizes, parameter counts, compression.
@_cdecl("tn_ff_info_get")
public func tn_ff_info_get(_ ff: UnsafeRawPointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try FeedForwardHandle.lookup(ff)
        guard let info else { throw ABIError.null("info") }
        let p = info.assumingMemoryBound(to: CFFInfo.self)
        switch h.block {
        case .float32(let b): p.pointee = ffInfo(b, h)
        case .float64(let b): p.pointee = ffInfo(b, h)
        }
    }
}

/// `tn_ff_param_get`: parameter i's name, shape and data / gradient pointers.
@_cdecl("tn_ff_param_get")
public func tn_ff_param_get(_ ff: UnsafeRawPointer?, _ i: Int64, _ param: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try FeedForwardHandle.lookup(ff)
        let (_, p) = try h.table.slot(i, param, holds: "this ff has \(h.table.count) parameters")
        switch h.block {
        case .float32(let b): p.pointee = h.table.entry(Int(i), data: b.parameter(Int(i)), grad: b.gradient(Int(i)))
        case .float64(let b): p.pointee = h.table.entry(Int(i), data: b.parameter(Int(i)), grad: b.gradient(Int(i)))
        }
    }
}

private func ffForward<T: LAPACKScalar>(_ b: TTFeedForward<T>, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?) throws {
    try b.forward(try view(x, "x"), into: try view(y, "y"))
}

private func ffBackward<T: LAPACKScalar>(_ b: TTFeedForward<T>, _ dy: UnsafeRawPointer?, _ x: UnsafeRawPointer?,
                                         _ dx: UnsafeRawPointer?) throws {
    try b.backward(try view(dy, "dy"), input: try view(x, "x"), inputGradient: try optionalView(dx, "dx"))
}

/// `tn_ff_forward`: y = TT₂(act(TT₁(x))) for every row of x.
@_cdecl("tn_ff_forward")
public func tn_ff_forward(_ ff: UnsafeMutableRawPointer?, _ dtype: Int32, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try FeedForwardHandle.lookup(ff)
        try checkDType(h.dtype, dtype, "ff")
        switch h.block {
        case .float32(let b): try ffForward(b, x, y)
        case .float64(let b): try ffForward(b, x, y)
        }
    }
}

/// `tn_ff_backward`: every parameter's gradient and dx (when given) at input x.
@_cdecl("tn_ff_backward")
public func tn_ff_backward(_ ff: UnsafeMutableRawPointer?, _ dtype: Int32, _ dy: UnsafeRawPointer?, _ x: UnsafeRawPointer?,
                           _ dx: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try FeedForwardHandle.lookup(ff)
        try checkDType(h.dtype, dtype, "ff")
        switch h.block {
        case .float32(let b): try ffBackward(b, dy, x, dx)
        case .float64(let b): try ffBackward(b, dy, x, dx)
        }
    }
}

// MARK: - Multi-linear attention

/// `tn_attention_create`: a multi-linear attention layer with fresh, seeded parameters.
@_cdecl("tn_attention_create")
public func tn_attention_create(_ config: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("the attention output pointer") }
        out.pointee = nil
        guard let config else { throw ABIError.null("config") }
        let c = config.assumingMemoryBound(to: CAttentionConfig.self).pointee
        let dtype = try readDType(c.dtype)
        for (name, v) in [("model_dim", c.modelDim), ("key_length", c.keyLength), ("blocks", c.blocks), ("rank", c.rank)]
        where v < 1 || v > Int64(Int32.max) {
            throw TNError.value("\(name) must be 1 to 2^31 - 1 (got \(v))")
        }
        let (d, n, hb, r) = (Int(c.modelDim), Int(c.keyLength), Int(c.blocks), Int(c.rank))
        let handle: AttentionHandle
        switch dtype {
        case .float32:
            handle = AttentionHandle(.float32(try MultiLinearAttention(modelDim: d, keyLength: n, blocks: hb, rank: r, bias: c.bias != 0,
                                                                       softmaxCores: c.softmaxCores != 0, seed: c.seed)))
        case .float64:
            handle = AttentionHandle(.float64(try MultiLinearAttention(modelDim: d, keyLength: n, blocks: hb, rank: r, bias: c.bias != 0,
                                                                       softmaxCores: c.softmaxCores != 0, seed: c.seed)))
        }
        out.pointee = handle.register()
    }
}

/// `tn_attention_destroy`: releases the layer; its parameter pointers become invalid.
@_cdecl("tn_attention_destroy")
public func tn_attention_destroy(_ attention: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { try AttentionHandle.destroy(attention) }
}

private func attentionInfo<T>(_ l: MultiLinearAttention<T>, _ h: AttentionHandle) -> CAttentionInfo {
    CAttentionInfo(dtype: Int32(h.dtype.rawValue), bias: l.hasBias ? 1 : 0, softmaxCores: l.softmaxCores ? 1 : 0,
                   modelDim: Int64(l.modelDim), keyLength: Int64(l.keyLength), blocks: Int64(l.blocks), rank: Int64(l.rank),
                   nParams: Int64(l.parameterShapes.count), parameterCount: Int64(l.parameterCount))
}

/// `tn_attention_info_get`: dtype, sizes, parameter counts.
@_cdecl("tn_attention_info_get")
public func tn_attention_info_get(_ attention: UnsafeRawPointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try AttentionHandle.lookup(attention)
        guard let info else { throw ABIError.null("info") }
        let p = info.assumingMemoryBound(to: CAttentionInfo.self)
        switch h.layer {
        case .float32(let l): p.pointee = attentionInfo(l, h)
        case .float64(let l): p.pointee = attentionInfo(l, h)
        }
    }
}

/// `tn_attention_param_get`: parameter i's name, shape and data / gradient pointers.
@_cdecl("tn_attention_param_get")
public func tn_attention_param_get(_ attention: UnsafeRawPointer?, _ i: Int64, _ param: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try AttentionHandle.lookup(attention)
        let (_, p) = try h.table.slot(i, param, holds: "this attention has \(h.table.count) parameters")
        switch h.layer {
        case .float32(let l): p.pointee = h.table.entry(Int(i), data: l.parameter(Int(i)), grad: l.gradient(Int(i)))
        case .float64(let l): p.pointee = h.table.entry(Int(i), data: l.parameter(Int(i)), grad: l.gradient(Int(i)))
        }
    }
}

private func attentionForward<T: LAPACKScalar>(_ l: MultiLinearAttention<T>, _ q: UnsafeRawPointer?, _ k: UnsafeRawPointer?,
                                               _ v: UnsafeRawPointer?, _ y: UnsafeRawPointer?) throws {
    try l.forward(query: try view(q, "q"), key: try view(k, "k"), value: try view(v, "v"), into: try view(y, "y"))
}

private func attentionBackward<T: LAPACKScalar>(_ l: MultiLinearAttention<T>, _ dy: UnsafeRawPointer?, _ q: UnsafeRawPointer?,
                                                _ k: UnsafeRawPointer?, _ v: UnsafeRawPointer?, _ dq: UnsafeRawPointer?,
                                                _ dk: UnsafeRawPointer?, _ dv: UnsafeRawPointer?) throws {
    try l.backward(try view(dy, "dy"), query: try view(q, "q"), key: try view(k, "k"), value: try view(v, "v"),
                   queryGradient: try optionalView(dq, "dq"), keyGradient: try optionalView(dk, "dk"),
                   valueGradient: try optionalView(dv, "dv"))
}

/// `tn_attention_forward`: y = MultiLinear(G; q, k, v).
@_cdecl("tn_attention_forward")
public func tn_attention_forward(_ attention: UnsafeMutableRawPointer?, _ dtype: Int32, _ q: UnsafeRawPointer?, _ k: UnsafeRawPointer?,
                                 _ v: UnsafeRawPointer?, _ y: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try AttentionHandle.lookup(attention)
        try checkDType(h.dtype, dtype, "attention")
        switch h.layer {
        case .float32(let l): try attentionForward(l, q, k, v, y)
        case .float64(let l): try attentionForward(l, q, k, v, y)
        }
    }
}

/// `tn_attention_backward`: every parameter's gradient and dq, dk, dv (when given).
@_cdecl("tn_attention_backward")
public func tn_attention_backward(_ attention: UnsafeMutableRawPointer?, _ dtype: Int32, _ dy: UnsafeRawPointer?,
                                  _ q: UnsafeRawPointer?, _ k: UnsafeRawPointer?, _ v: UnsafeRawPointer?,
                                  _ dq: UnsafeRawPointer?, _ dk: UnsafeRawPointer?, _ dv: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try AttentionHandle.lookup(attention)
        try checkDType(h.dtype, dtype, "attention")
        switch h.layer {
        case .float32(let l): try attentionBackward(l, dy, q, k, v, dq, dk, dv)
        case .float64(let l): try attentionBackward(l, dy, q, k, v, dq, dk, dv)
        }
    }
}
