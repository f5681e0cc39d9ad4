import TNSwift

// The layers in the C ABI (tnswift.h, "Layers"): a tn_layer handle owns one EinsumLayer
// (Linear, TTLinear, CPLinear, TuckerLinear, TCL, TTTensorLinear or a custom equation). Inputs and outputs are the
// caller's strided buffers, read and written in place; parameters and gradients are handed
// out as pointers into the layer's own storage.

/// `tn_layer_config`
struct CLayerConfig {
    var kind: Int32
    var dtype: Int32
    var nInModes: Int64
    var inModes: UnsafePointer<Int64>?
    var nOutModes: Int64
    var outModes: UnsafePointer<Int64>?
    var nRanks: Int64
    var ranks: UnsafePointer<Int64>?
    var equation: UnsafePointer<CChar>?
    var nParams: Int64
    var paramNdims: UnsafePointer<Int64>?
    var paramShapes: UnsafePointer<UnsafePointer<Int64>?>?
    var bias: Int32
    var reserved: Int32
    var seed: UInt64
}

/// `tn_layer_info`
struct CLayerInfo {
    var kind: Int32
    var dtype: Int32
    var inFeatures: Int64
    var outFeatures: Int64
    var nInModes: Int64
    var nOutModes: Int64
    var nParams: Int64
    var parameterCount: Int64
    var compression: Double
    var hasBias: Int32
    var reserved: Int32
}

/// `tn_layer_param`
struct CLayerParam {
    var name: UnsafePointer<CChar>?
    var ndim: Int64
    var shape: UnsafePointer<Int64>?
    var size: Int64
    var data: UnsafeMutableRawPointer?
    var grad: UnsafeMutableRawPointer?
}

/// `tn_layer_report`
struct CLayerReport {
    var batch: Int64
    var flops: Double
    var denseFlops: Double
    var largestIntermediate: Int64
    var parameterBytes: Int64
    var denseBytes: Int64
    var reconstructsWeight: Int32
    var reserved: Int32
}

/// `tn_layer_kind` values.
enum LayerKind: Int32 {
    case linear = 0, tt = 1, cp = 2, tucker = 3, einsum = 4, tcl = 5, ttTensor = 6

    /// The kind a layer was made as (a loaded model's layers carry no handle of their own).
    static func of<T>(_ layer: EinsumLayer<T>) -> LayerKind {
        switch layer {
        case is Linear<T>: return .linear
        case is TTLinear<T>: return .tt
        case is CPLinear<T>: return .cp
        case is TuckerLinear<T>: return .tucker
        case is TCL<T>: return .tcl
        case is TTTensorLinear<T>: return .ttTensor
        default: return .einsum
        }
    }

    static func read(_ k: Int32) throws -> LayerKind {
        guard let kind = LayerKind(rawValue: k) else {
            throw TNError.value("kind \(k) is not a tn_layer_kind (0 LINEAR, 1 TT, 2 CP, 3 TUCKER, 4 EINSUM, 5 TCL, 6 TT_TENSOR)")
        }
        return kind
    }
}

/// `n` integers (bounded so a garbage count cannot make us read far).
private func readList(_ p: UnsafePointer<Int64>?, _ n: Int64, what: String, limit: Int64 = 64) throws -> [Int] {
    guard n >= 0, n <= limit else { throw TNError.shape("\(what) has \(n) entries; 0 to \(limit) are supported") }
    if n == 0 { return [] }
    guard let p else { throw ABIError.null(what) }
    return (0..<Int(n)).map { Int(p[$0]) }
}

private func makeLayer<T: LAPACKScalar>(_ c: CLayerConfig, _ kind: LayerKind, _: T.Type) throws -> EinsumLayer<T> {
    let bias = c.bias != 0
    if kind == .einsum {
        guard let equation = c.equation else { throw ABIError.null("equation (kind TN_LAYER_EINSUM)") }
        guard c.nParams >= 1, c.nParams <= 1024 else {
            throw TNError.shape("an einsum layer needs 1 to 1024 parameters (got n_params = \(c.nParams))")
        }
        guard let ndims = c.paramNdims else { throw ABIError.null("param_ndims") }
        guard let shapes = c.paramShapes else { throw ABIError.null("param_shapes") }
        let s = try (0..<Int(c.nParams)).map { try readShape(ndims[$0], shapes[$0], what: "parameter \($0)") }
        return try EinsumLayer<T>(equation: String(cString: equation), parameterShapes: s, bias: bias, seed: c.seed)
    }
    let ins = try readList(c.inModes, c.nInModes, what: "in_modes")
    let outs = try readList(c.outModes, c.nOutModes, what: "out_modes")
    let ranks = try readList(c.ranks, c.nRanks, what: "ranks")
    switch kind {
    case .linear:
        guard ins.count == 1, outs.count == 1 else {
            throw TNError.shape("a LINEAR layer takes one input mode (in_features) and one output mode (out_features); got \(ins) and \(outs)")
        }
        guard ranks.isEmpty else { throw TNError.shape("a LINEAR layer takes no ranks (got \(ranks))") }
        return try Linear<T>(inFeatures: ins[0], outFeatures: outs[0], bias: bias, seed: c.seed)
    case .tt:
        if ranks.count == 1 { return try TTLinear<T>(inputModes: ins, outputModes: outs, rank: ranks[0], bias: bias, seed: c.seed) }
        return try TTLinear<T>(inputModes: ins, outputModes: outs, ranks: ranks, bias: bias, seed: c.seed)
    case .cp:
        guard ranks.count == 1 else { throw TNError.shape("a CP layer takes one rank (got \(ranks.count))") }
        return try CPLinear<T>(inputModes: ins, outputModes: outs, rank: ranks[0], bias: bias, seed: c.seed)
    case .tucker:
        if ranks.count == 1 { return try TuckerLinear<T>(inputModes: ins, outputModes: outs, rank: ranks[0], bias: bias, seed: c.seed) }
        return try TuckerLinear<T>(inputModes: ins, outputModes: outs, ranks: ranks, bias: bias, seed: c.seed)
    case .tcl:
        // The output modes are the ranks: given as ranks (one for every mode, or one per
        // mode), as out_modes, or as both when they agree.
        let rs = ranks.isEmpty ? outs : ranks.count == 1 ? [Int](repeating: ranks[0], count: ins.count) : ranks
        guard outs.isEmpty || outs == rs else {
            throw TNError.shape("a TCL layer's output modes are its ranks: out_modes \(outs) differ from ranks \(rs)")
        }
        return try TCL<T>(inputModes: ins, ranks: rs, bias: bias, seed: c.seed)
    case .ttTensor:
        if ranks.count == 1 { return try TTTensorLinear<T>(inputModes: ins, outputModes: outs, rank: ranks[0], bias: bias, seed: c.seed) }
        return try TTTensorLinear<T>(inputModes: ins, outputModes: outs, ranks: ranks, bias: bias, seed: c.seed)
    case .einsum:
        throw TNError.value("internal: EINSUM layers are made above")
    }
}

/// `tn_layer_create`: a layer with fresh, seeded parameters from a `tn_layer_config`.
@_cdecl("tn_layer_create")
public func tn_layer_create(_ config: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("the layer output pointer") }
        out.pointee = nil
        guard let config else { throw ABIError.null("config") }
        let c = config.assumingMemoryBound(to: CLayerConfig.self).pointee
        let kind = try LayerKind.read(c.kind)
        let handle: LayerHandle
        switch try readDType(c.dtype) {
        case .float32: handle = LayerHandle(.float32(try makeLayer(c, kind, Float.self)), kind: kind.rawValue)
        case .float64: handle = LayerHandle(.float64(try makeLayer(c, kind, Double.self)), kind: kind.rawValue)
        }
        out.pointee = handle.register()
    }
}

// MARK: - From a dense weight

/// The caller's weight as a Matrix (copied: the layer keeps no reference to caller memory).
private func readWeight<T: BLASScalar>(_ w: UnsafePointer<CTensor>?) throws -> Matrix<T> {
    try withContiguous(w, what: "weight") { (p: UnsafePointer<T>, shape: [Int]) in
        guard shape.count == 2 else {
            throw TNError.shape("the weight must be a matrix (in_features, out_features); it has shape \(shape)")
        }
        return try Matrix<T>(rows: shape[0], columns: shape[1], values: Array(UnsafeBufferPointer(start: p, count: shape[0] * shape[1])))
    }
}

private func readBias<T: BLASScalar>(_ b: UnsafePointer<CTensor>?) throws -> [T]? {
    guard let b else { return nil }
    return try withContiguous(b, what: "bias") { (p: UnsafePointer<T>, shape: [Int]) in
        guard shape.count == 1 else { throw TNError.shape("the bias must be a vector (out_features,); it has shape \(shape)") }
        return Array(UnsafeBufferPointer(start: p, count: shape[0]))
    }
}

private func fromDense<T: LAPACKScalar>(_ kind: LayerKind, _ w: UnsafePointer<CTensor>?, _ b: UnsafePointer<CTensor>?,
                                        _ ins: [Int], _ outs: [Int], _ rank: Int64, _ eps: Double, _ budget: Int64,
                                        _ iterations: Int64, _ tol: Double, _: T.Type) throws -> EinsumLayer<T> {
    let weight: Matrix<T> = try readWeight(w)
    let bias: [T]? = try readBias(b)
    // Empty mode lists mean one mode each: the weight's own sizes.
    let inModes = ins.isEmpty ? [weight.rows] : ins
    let outModes = outs.isEmpty ? [weight.columns] : outs
    // Negative means "not given" for each target; Swift checks that exactly one is left.
    let r = rank < 0 ? nil : Int(rank)
    let e = eps < 0 ? nil : eps
    let g = budget < 0 ? nil : Int(budget)
    switch kind {
    case .linear:
        guard r == nil, e == nil, g == nil else {
            throw TNError.value("a LINEAR layer copies the weight: rank, eps and budget must all be negative (not given)")
        }
        guard inModes == [weight.rows], outModes == [weight.columns] else {
            throw TNError.shape("a LINEAR layer has one input and one output mode; got \(inModes) and \(outModes) for a \(weight.rows)×\(weight.columns) weight")
        }
        return try Linear<T>(weight: weight, bias: bias)
    case .tt:
        return try TTLinear<T>.fromDense(weight: weight, bias: bias, inputModes: inModes, outputModes: outModes, rank: r, eps: e, budget: g)
    case .cp:
        return try CPLinear<T>.fromDense(weight: weight, bias: bias, inputModes: inModes, outputModes: outModes, rank: r, eps: e, budget: g,
                                         maxIterations: iterations > 0 ? Int(iterations) : 500, tolerance: tol < 0 ? 1e-12 : tol)
    case .tucker:
        return try TuckerLinear<T>.fromDense(weight: weight, bias: bias, inputModes: inModes, outputModes: outModes, rank: r, eps: e, budget: g,
                                             maxIterations: iterations > 0 ? Int(iterations) : 50)
    case .ttTensor:
        return try TTTensorLinear<T>.fromDense(weight: weight, bias: bias, inputModes: inModes, outputModes: outModes, rank: r, eps: e, budget: g)
    case .einsum, .tcl:
        throw TNError.value("tn_layer_from_dense supports TN_LAYER_LINEAR, TT, CP, TUCKER and TT_TENSOR, not EINSUM or TCL")
    }
}

/// `tn_layer_from_dense`: a layer fitted to a dense weight; negative rank / eps / budget mean
/// "not given" (exactly one must be given, none for LINEAR).
@_cdecl("tn_layer_from_dense")
public func tn_layer_from_dense(_ kind: Int32, _ dtype: Int32, _ weight: UnsafeRawPointer?, _ bias: UnsafeRawPointer?,
                                _ nIn: Int64, _ inModes: UnsafePointer<Int64>?, _ nOut: Int64, _ outModes: UnsafePointer<Int64>?,
                                _ rank: Int64, _ eps: Double, _ budget: Int64, _ iterations: Int64, _ tol: Double,
                                _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("the layer output pointer") }
        out.pointee = nil
        let k = try LayerKind.read(kind)
        let t = try readDType(dtype)
        guard let weight else { throw ABIError.null("weight") }
        let w = weight.assumingMemoryBound(to: CTensor.self)
        let b = bias?.assumingMemoryBound(to: CTensor.self)
        let ins = try readList(inModes, nIn, what: "in_modes")
        let outs = try readList(outModes, nOut, what: "out_modes")
        let handle: LayerHandle
        switch t {
        case .float32: handle = LayerHandle(.float32(try fromDense(k, w, b, ins, outs, rank, eps, budget, iterations, tol, Float.self)), kind: k.rawValue)
        case .float64: handle = LayerHandle(.float64(try fromDense(k, w, b, ins, outs, rank, eps, budget, iterations, tol, Double.self)), kind: k.rawValue)
        }
        out.pointee = handle.register()
    }
}

/// `tn_layer_destroy`: releases the layer; its parameter pointers become invalid.
@_cdecl("tn_layer_destroy")
public func tn_layer_destroy(_ layer: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { try LayerHandle.destroy(layer) }
}

// MARK: - Facts and parameters

private func layerInfo<T>(_ l: EinsumLayer<T>, _ h: LayerHandle) -> CLayerInfo {
    CLayerInfo(kind: h.kind, dtype: Int32(h.dtype.rawValue), inFeatures: Int64(l.inFeatures), outFeatures: Int64(l.outFeatures),
               nInModes: Int64(l.inputModes.count), nOutModes: Int64(l.outputModes.count), nParams: Int64(h.count),
               parameterCount: Int64(l.parameterCount), compression: l.compression, hasBias: l.hasBias ? 1 : 0, reserved: 0)
}

/// `tn_layer_info_get`: kind, dtype, features, mode and parameter counts, compression.
@_cdecl("tn_layer_info_get")
public func tn_layer_info_get(_ layer: UnsafeRawPointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try LayerHandle.lookup(layer)
        guard let info else { throw ABIError.null("info") }
        let p = info.assumingMemoryBound(to: CLayerInfo.self)
        switch h.layer {
        case .float32(let l): p.pointee = layerInfo(l, h)
        case .float64(let l): p.pointee = layerInfo(l, h)
        }
    }
}

/// `tn_layer_modes`: the input and output modes into caller arrays of the given capacities.
@_cdecl("tn_layer_modes")
public func tn_layer_modes(_ layer: UnsafeRawPointer?, _ inModes: UnsafeMutablePointer<Int64>?, _ inCap: Int64,
                           _ outModes: UnsafeMutablePointer<Int64>?, _ outCap: Int64) -> Int32 {
    ErrorState.guarded {
        let h = try LayerHandle.lookup(layer)
        let (ins, outs): ([Int], [Int])
        switch h.layer {
        case .float32(let l): (ins, outs) = (l.inputModes, l.outputModes)
        case .float64(let l): (ins, outs) = (l.inputModes, l.outputModes)
        }
        guard inCap >= Int64(ins.count) else { throw TNError.value("in_cap \(inCap) is less than the layer's \(ins.count) input modes") }
        guard outCap >= Int64(outs.count) else { throw TNError.value("out_cap \(outCap) is less than the layer's \(outs.count) output modes") }
        guard let inModes else { throw ABIError.null("in_modes") }
        guard let outModes else { throw ABIError.null("out_modes") }
        for (k, m) in ins.enumerated() { inModes[k] = Int64(m) }
        for (k, m) in outs.enumerated() { outModes[k] = Int64(m) }
    }
}

private func parameterEntry<T>(_ l: EinsumLayer<T>, _ h: LayerHandle, _ i: Int) -> CLayerParam {
    let count = l.parameterShapes.count
    let (data, grad): (UnsafeMutableBufferPointer<T>, UnsafeMutableBufferPointer<T>)
    if i < count {
        (data, grad) = (l.parameter(i), l.gradient(i))
    } else {
        // Only reached when the layer has a bias (the handle lists it last).
        (data, grad) = (l.biasValues!, l.biasGradientValues!)
    }
    return h.table.entry(i, data: data, grad: grad)
}

/// `tn_layer_param_get`: name, shape and data / gradient pointers of parameter `i` (the bias
/// last), all pointing into the layer and valid until `tn_layer_destroy`.
@_cdecl("tn_layer_param_get")
public func tn_layer_param_get(_ layer: UnsafeRawPointer?, _ i: Int64, _ param: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try LayerHandle.lookup(layer)
        let (_, p) = try h.table.slot(i, param, holds: "this layer has \(h.count) parameters (the bias included)")
        switch h.layer {
        case .float32(let l): p.pointee = parameterEntry(l, h, Int(i))
        case .float64(let l): p.pointee = parameterEntry(l, h, Int(i))
        }
    }
}

// MARK: - Forward, backward, weight, report

/// Refuses a call whose declared dtype is not the layer's (tn_tensor carries no dtype).
private func checkDType(_ h: LayerHandle, _ dtype: Int32) throws {
    let t = try readDType(dtype)
    guard t == h.dtype else { throw TNError.dtype("the arrays are \(t) but the layer is \(h.dtype)") }
}

private func tensor(_ p: UnsafeRawPointer?, _ what: String) throws -> CTensor {
    guard let p else { throw ABIError.null(what) }
    return p.assumingMemoryBound(to: CTensor.self).pointee
}

/// `tn_layer_forward`: y = x · W + b for strided (batch, features) or (batch, modes…) views.
@_cdecl("tn_layer_forward")
public func tn_layer_forward(_ layer: UnsafeMutableRawPointer?, _ dtype: Int32, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try LayerHandle.lookup(layer)
        try checkDType(h, dtype)
        let (xt, yt) = (try tensor(x, "x"), try tensor(y, "y"))
        switch h.layer {
        case .float32(let l): try l.forward(try readView(xt, what: "x"), into: try readView(yt, what: "y"))
        case .float64(let l): try l.forward(try readView(xt, what: "x"), into: try readView(yt, what: "y"))
        }
    }
}

private func runBackward<T: BLASScalar>(_ l: EinsumLayer<T>, _ dy: CTensor, _ x: CTensor, _ dx: CTensor?) throws {
    let dxView: StridedView<T>? = try dx.map { try readView($0, what: "dx") }
    try l.backward(try readView(dy, what: "dy"), input: try readView(x, what: "x"), inputGradient: dxView)
}

/// `tn_layer_backward`: overwrites every parameter gradient and, when `dx` is not NULL, dx.
@_cdecl("tn_layer_backward")
public func tn_layer_backward(_ layer: UnsafeMutableRawPointer?, _ dtype: Int32, _ dy: UnsafeRawPointer?, _ x: UnsafeRawPointer?,
                              _ dx: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try LayerHandle.lookup(layer)
        try checkDType(h, dtype)
        let (dyt, xt) = (try tensor(dy, "dy"), try tensor(x, "x"))
        let dxt = try dx.map { try tensor($0, "dx") }
        switch h.layer {
        case .float32(let l): try runBackward(l, dyt, xt, dxt)
        case .float64(let l): try runBackward(l, dyt, xt, dxt)
        }
    }
}

private func copyWeight<T: LAPACKScalar>(_ l: EinsumLayer<T>, to t: CTensor) throws {
    let shape = try readShape(t.ndim, t.shape, what: "out")
    let matrix = [l.inFeatures, l.outFeatures], modes = l.inputModes + l.outputModes
    guard shape == matrix || shape == modes else {
        throw TNError.shape("out has shape \(shape); the weight is \(matrix) (in_features, out_features) or \(modes) (modes)")
    }
    let w = try l.denseWeight()
    if w.count == 0 { return }
    guard let data = t.data else { throw ABIError.null("the data of out") }
    let strides = t.strides.map { s in (0..<shape.count).map { Int(s[$0]) } } ?? StridedView<T>.contiguousStrides(shape)
    w.withUnsafeBufferPointer { v in
        copyStrided(from: v.baseAddress!, StridedView<T>.contiguousStrides(shape), to: data.assumingMemoryBound(to: T.self),
                    strides, shape: shape)
    }
}

/// `tn_layer_dense_weight`: W into a strided (in_features, out_features) or (modes…) array.
@_cdecl("tn_layer_dense_weight")
public func tn_layer_dense_weight(_ layer: UnsafeRawPointer?, _ dtype: Int32, _ out: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try LayerHandle.lookup(layer)
        try checkDType(h, dtype)
        let t = try tensor(out, "out")
        switch h.layer {
        case .float32(let l): try copyWeight(l, to: t)
        case .float64(let l): try copyWeight(l, to: t)
        }
    }
}

/// `tn_layer_plan_report`: the plan for `batch` as numbers (`report`, may be NULL) and text
/// (tn_plan_report's buffer protocol).
@_cdecl("tn_layer_plan_report")
public func tn_layer_plan_report(_ layer: UnsafeRawPointer?, _ batch: Int64, _ report: UnsafeMutableRawPointer?,
                                 _ buffer: UnsafeMutablePointer<CChar>?, _ cap: Int, _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    ErrorState.guarded {
        let h = try LayerHandle.lookup(layer)
        let r: LayerPlanReport
        switch h.layer {
        case .float32(let l): r = try l.planReport(batch: Int(batch))
        case .float64(let l): r = try l.planReport(batch: Int(batch))
        }
        report?.assumingMemoryBound(to: CLayerReport.self).pointee = CLayerReport(
            batch: Int64(r.batch), flops: r.flops, denseFlops: r.denseFlops, largestIntermediate: Int64(r.largestIntermediate),
            parameterBytes: Int64(r.parameterBytes), denseBytes: Int64(r.denseBytes), reconstructsWeight: r.reconstructsWeight ? 1 : 0,
            reserved: 0)
        try writeText(r.description, buffer, cap, needed)
    }
}

/// `tn_layer_describe`: the layer's configuration as JSON (what a model file stores for it).
@_cdecl("tn_layer_describe")
public func tn_layer_describe(_ layer: UnsafeRawPointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ cap: Int,
                              _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    ErrorState.guarded {
        let h = try LayerHandle.lookup(layer)
        switch h.layer {
        case .float32(let l): try writeText(l.configuration.serialized, buffer, cap, needed)
        case .float64(let l): try writeText(l.configuration.serialized, buffer, cap, needed)
        }
    }
}
