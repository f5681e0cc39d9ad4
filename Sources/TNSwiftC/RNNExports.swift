import TNSwift

// TT recurrent layers in the C ABI (tnswift.h, "Recurrent layers"): a tn_rnn handle owns one
// TTLSTM or TTGRU. Sequences and states are the caller's strided arrays, read and written in
// place; parameters and gradients are handed out as pointers into the layer's own storage
// (tn_layer_param).

/// `tn_rnn_config`
struct CRNNConfig {
    var kind: Int32
    var dtype: Int32
    var hiddenSize: Int64
    var nModes: Int64
    var inputModes: UnsafePointer<Int64>?
    var outputModes: UnsafePointer<Int64>?
    var nRanks: Int64
    var ranks: UnsafePointer<Int64>?
    var seed: UInt64
}

/// `tn_rnn_info`
struct CRNNInfo {
    var kind: Int32
    var dtype: Int32
    var inputSize: Int64
    var hiddenSize: Int64
    var nModes: Int64
    var nParams: Int64
    var parameterCount: Int64
    var compression: Double
}

/// `n` integers from a C array (callers bound `n`).
private func rnnList(_ p: UnsafePointer<Int64>?, _ n: Int, what: String) throws -> [Int] {
    if n == 0 { return [] }
    guard let p else { throw ABIError.null(what) }
    return (0..<n).map { Int(truncatingIfNeeded: p[$0]) }
}

/// The modes and ranks of a config; output modes NULL: a balanced split of gates · hidden.
private func rnnSettings(_ c: CRNNConfig) throws -> (lstm: Bool, ins: [Int], outs: [Int], ranks: [Int], hidden: Int) {
    let gates: Int
    switch c.kind {
    case 0: gates = 4
    case 1: gates = 3
    default: throw TNError.value("kind \(c.kind) is not a tn_rnn_kind (0 LSTM, 1 GRU)")
    }
    guard c.nModes >= 1, c.nModes <= 16 else { throw TNError.value("n_modes must be 1 to 16 (got \(c.nModes))") }
    guard c.hiddenSize >= 1, c.hiddenSize <= Int64(Int32.max) else {
        throw TNError.value("hidden_size must be 1 to 2^31 - 1 (got \(c.hiddenSize))")
    }
    let d = Int(c.nModes), hidden = Int(c.hiddenSize)
    let ins = try rnnList(c.inputModes, d, what: "input_modes")
    let outs = try c.outputModes == nil ? balancedModes(gates * hidden, order: d) : rnnList(c.outputModes, d, what: "output_modes")
    let ranks: [Int]
    switch c.nRanks {
    case 0 where d == 1: ranks = []
    case 1: ranks = [Int](repeating: try rnnList(c.ranks, 1, what: "ranks")[0], count: d - 1)
    case Int64(d - 1): ranks = try rnnList(c.ranks, d - 1, what: "ranks")
    default:
        throw TNError.shape("n_ranks must be 1 (every bond) or n_modes - 1 = \(d - 1) (got \(c.nRanks))")
    }
    return (gates == 4, ins, outs, ranks, hidden)
}

/// `tn_rnn_create`: a TT-LSTM or TT-GRU with fresh, seeded parameters.
@_cdecl("tn_rnn_create")
public func tn_rnn_create(_ config: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("the rnn output pointer") }
        out.pointee = nil
        guard let config else { throw ABIError.null("config") }
        let c = config.assumingMemoryBound(to: CRNNConfig.self).pointee
        let dtype = try readDType(c.dtype)
        let s = try rnnSettings(c)
        let handle: RNNHandle
        switch (dtype, s.lstm) {
        case (.float32, true):
            handle = RNNHandle(.lstm32(try TTLSTM(inputModes: s.ins, hiddenSize: s.hidden, outputModes: s.outs,
                                                  ranks: s.ranks, seed: c.seed)))
        case (.float64, true):
            handle = RNNHandle(.lstm64(try TTLSTM(inputModes: s.ins, hiddenSize: s.hidden, outputModes: s.outs,
                                                  ranks: s.ranks, seed: c.seed)))
        case (.float32, false):
            handle = RNNHandle(.gru32(try TTGRU(inputModes: s.ins, hiddenSize: s.hidden, outputModes: s.outs,
                                                ranks: s.ranks, seed: c.seed)))
        case (.float64, false):
            handle = RNNHandle(.gru64(try TTGRU(inputModes: s.ins, hiddenSize: s.hidden, outputModes: s.outs,
                                                ranks: s.ranks, seed: c.seed)))
        }
        out.pointee = handle.register()
    }
}

/// `tn_rnn_destroy`: releases the layer; its parameter pointers become invalid.
@_cdecl("tn_rnn_destroy")
public func tn_rnn_destroy(_ rnn: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { try RNNHandle.destroy(rnn) }
}

private func rnnInfo<T>(_ l: TTRecurrentLayer<T>, _ h: RNNHandle) -> CRNNInfo {
    // A dense single-layer nn.LSTM / nn.GRU: W_ih, W_hh, b_ih and b_hh.
    let width = Double(l.gateCount * l.hiddenSize)
    let dense = width * Double(l.inputSize + l.hiddenSize) + 2 * width
    return CRNNInfo(kind: h.kind, dtype: Int32(h.dtype.rawValue), inputSize: Int64(l.inputSize),
                    hiddenSize: Int64(l.hiddenSize), nModes: Int64(l.inputModes.count), nParams: Int64(l.parameterShapes.count),
                    parameterCount: Int64(l.parameterCount), compression: dense / Double(l.parameterCount))
}

/// `tn_rnn_info_get`: kind, dtype, sizes, parameter counts, compression.
@_cdecl("tn_rnn_info_get")
public func tn_rnn_info_get(_ rnn: UnsafeRawPointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try RNNHandle.lookup(rnn)
        guard let info else { throw ABIError.null("info") }
        let p = info.assumingMemoryBound(to: CRNNInfo.self)
        switch h.layer {
        case .lstm32(let l): p.pointee = rnnInfo(l, h)
        case .lstm64(let l): p.pointee = rnnInfo(l, h)
        case .gru32(let l): p.pointee = rnnInfo(l, h)
        case .gru64(let l): p.pointee = rnnInfo(l, h)
        }
    }
}

private func rnnParameter<T>(_ l: TTRecurrentLayer<T>, _ h: RNNHandle, _ i: Int) -> CLayerParam {
    h.table.entry(i, data: l.parameter(i), grad: l.gradient(i))
}

/// `tn_rnn_param_get`: parameter i's name, shape and data / gradient pointers.
@_cdecl("tn_rnn_param_get")
public func tn_rnn_param_get(_ rnn: UnsafeRawPointer?, _ i: Int64, _ param: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try RNNHandle.lookup(rnn)
        let (_, p) = try h.table.slot(i, param, holds: "this rnn has \(h.table.count) parameters")
        switch h.layer {
        case .lstm32(let l): p.pointee = rnnParameter(l, h, Int(i))
        case .lstm64(let l): p.pointee = rnnParameter(l, h, Int(i))
        case .gru32(let l): p.pointee = rnnParameter(l, h, Int(i))
        case .gru64(let l): p.pointee = rnnParameter(l, h, Int(i))
        }
    }
}

// MARK: - Forward and backward

private func checkRNNDType(_ h: RNNHandle, _ dtype: Int32) throws {
    let t = try readDType(dtype)
    guard t == h.dtype else { throw TNError.dtype("the arrays are \(t) but the rnn is \(h.dtype)") }
}

/// A required strided view.
private func rnnView<T: BLASScalar>(_ p: UnsafeRawPointer?, _ what: String) throws -> StridedView<T> {
    guard let p else { throw ABIError.null(what) }
    return try readView(p.assumingMemoryBound(to: CTensor.self).pointee, what: what)
}

/// An optional strided view (NULL: nil).
private func rnnOptional<T: BLASScalar>(_ p: UnsafeRawPointer?, _ what: String) throws -> StridedView<T>? {
    guard let p else { return nil }
    return try readView(p.assumingMemoryBound(to: CTensor.self).pointee, what: what)
}

/// Refuses cell-state arrays for a GRU.
private func noCell(_ tensors: [UnsafeRawPointer?], _ names: String) throws {
    guard tensors.allSatisfy({ $0 == nil }) else {
        throw TNError.value("a GRU has no cell state: \(names) must be NULL")
    }
}

private func lstmForward<T: LAPACKScalar>(_ l: TTLSTM<T>, _ x: UnsafeRawPointer?, _ h0: UnsafeRawPointer?, _ c0: UnsafeRawPointer?,
                                          _ out: UnsafeRawPointer?, _ hn: UnsafeRawPointer?, _ cn: UnsafeRawPointer?) throws {
    try l.forward(try rnnView(x, "x"), initialHidden: try rnnOptional(h0, "h0"), initialCell: try rnnOptional(c0, "c0"),
                  output: try rnnView(out, "out"), finalHidden: try rnnOptional(hn, "h_n"), finalCell: try rnnOptional(cn, "c_n"))
}

private func gruForward<T: LAPACKScalar>(_ l: TTGRU<T>, _ x: UnsafeRawPointer?, _ h0: UnsafeRawPointer?,
                                         _ out: UnsafeRawPointer?, _ hn: UnsafeRawPointer?) throws {
    try l.forward(try rnnView(x, "x"), initialHidden: try rnnOptional(h0, "h0"), output: try rnnView(out, "out"),
                  finalHidden: try rnnOptional(hn, "h_n"))
}

/// `tn_rnn_forward`: runs the sequence (out, and h_n / c_n when given) and records it for
/// backward.
@_cdecl("tn_rnn_forward")
public func tn_rnn_forward(_ rnn: UnsafeMutableRawPointer?, _ dtype: Int32, _ x: UnsafeRawPointer?, _ h0: UnsafeRawPointer?,
                           _ c0: UnsafeRawPointer?, _ out: UnsafeRawPointer?, _ hn: UnsafeRawPointer?,
                           _ cn: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try RNNHandle.lookup(rnn)
        try checkRNNDType(h, dtype)
        switch h.layer {
        case .lstm32(let l): try lstmForward(l, x, h0, c0, out, hn, cn)
        case .lstm64(let l): try lstmForward(l, x, h0, c0, out, hn, cn)
        case .gru32(let l):
            try noCell([c0, cn], "c0 and c_n")
            try gruForward(l, x, h0, out, hn)
        case .gru64(let l):
            try noCell([c0, cn], "c0 and c_n")
            try gruForward(l, x, h0, out, hn)
        }
    }
}

private func lstmBackward<T: LAPACKScalar>(_ l: TTLSTM<T>, _ dOut: UnsafeRawPointer?, _ dhn: UnsafeRawPointer?,
                                           _ dcn: UnsafeRawPointer?, _ dx: UnsafeRawPointer?, _ dh0: UnsafeRawPointer?,
                                           _ dc0: UnsafeRawPointer?) throws {
    try l.backward(outputGradient: try rnnOptional(dOut, "d_out"), finalHiddenGradient: try rnnOptional(dhn, "d_h_n"),
                   finalCellGradient: try rnnOptional(dcn, "d_c_n"), inputGradient: try rnnOptional(dx, "dx"),
                   initialHiddenGradient: try rnnOptional(dh0, "dh0"), initialCellGradient: try rnnOptional(dc0, "dc0"))
}

private func gruBackward<T: LAPACKScalar>(_ l: TTGRU<T>, _ dOut: UnsafeRawPointer?, _ dhn: UnsafeRawPointer?,
                                          _ dx: UnsafeRawPointer?, _ dh0: UnsafeRawPointer?) throws {
    try l.backward(outputGradient: try rnnOptional(dOut, "d_out"), finalHiddenGradient: try rnnOptional(dhn, "d_h_n"),
                   inputGradient: try rnnOptional(dx, "dx"), initialHiddenGradient: try rnnOptional(dh0, "dh0"))
}

/// `tn_rnn_backward`: backpropagation through time of the last forward.
@_cdecl("tn_rnn_backward")
public func tn_rnn_backward(_ rnn: UnsafeMutableRawPointer?, _ dtype: Int32, _ dOut: UnsafeRawPointer?, _ dhn: UnsafeRawPointer?,
                            _ dcn: UnsafeRawPointer?, _ dx: UnsafeRawPointer?, _ dh0: UnsafeRawPointer?,
                            _ dc0: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try RNNHandle.lookup(rnn)
        try checkRNNDType(h, dtype)
        switch h.layer {
        case .lstm32(let l): try lstmBackward(l, dOut, dhn, dcn, dx, dh0, dc0)
        case .lstm64(let l): try lstmBackward(l, dOut, dhn, dcn, dx, dh0, dc0)
        case .gru32(let l):
            try noCell([dcn, dc0], "d_c_n and dc0")
            try gruBackward(l, dOut, dhn, dx, dh0)
        case .gru64(let l):
            try noCell([dcn, dc0], "d_c_n and dc0")
            try gruBackward(l, dOut, dhn, dx, dh0)
        }
    }
}
