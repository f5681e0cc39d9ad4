import TNSwift

/// `tn_model_info` as laid out in tnswift.h.
struct CModelInfo {
    var dtype: Int32
    var reserved: Int32
    var inFeatures: Int64
    var outFeatures: Int64
    var stages: Int64
}

/// `tn_model_load`: reads, validates and builds the model at `path`.
@_cdecl("tn_model_load")
public func tn_model_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    out?.pointee = nil
    return ErrorState.guarded {
        guard let path else { throw ABIError.null("path") }
        guard let out else { throw ABIError.null("model") }
        let file = try SafeTensors.read(path: String(cString: path))
        let handle: ModelHandle
        switch Sequential<Float>.modelDType(of: file) {
        case .float32?: handle = ModelHandle(.float32(try Sequential<Float>.load(file: file)))
        case .float64?: handle = ModelHandle(.float64(try Sequential<Double>.load(file: file)))
        case nil: throw TNError.value("'\(String(cString: path))' is not a tnswift model (no valid 'tnswift.model' metadata)")
        }
        out.pointee = handle.register()
    }
}

/// `tn_model_destroy`: releases the model.
@_cdecl("tn_model_destroy")
public func tn_model_destroy(_ model: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { try ModelHandle.destroy(model) }
}

/// `tn_model_info_get`: dtype, widths, number of stages.
@_cdecl("tn_model_info_get")
public func tn_model_info_get(_ model: UnsafeRawPointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try ModelHandle.lookup(model)
        guard let info else { throw ABIError.null("info") }
        let p = info.assumingMemoryBound(to: CModelInfo.self)
        switch h.model {
        case .float32(let m):
            p.pointee = CModelInfo(dtype: Int32(DType.float32.rawValue), reserved: 0, inFeatures: Int64(m.inFeatures),
                                   outFeatures: Int64(m.outFeatures), stages: Int64(m.stages.count))
        case .float64(let m):
            p.pointee = CModelInfo(dtype: Int32(DType.float64.rawValue), reserved: 0, inFeatures: Int64(m.inFeatures),
                                   outFeatures: Int64(m.outFeatures), stages: Int64(m.stages.count))
        }
    }
}

/// Runs `m` on `batch` rows read from `x`, writing `y`.
private func run<T: LAPACKScalar>(_ m: Sequential<T>, _ batch: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeMutableRawPointer?) throws {
    guard batch >= 0 else { throw TNError.value("the batch must be non-negative (got \(batch))") }
    let n = Int(batch)
    let (inCount, o1) = n.multipliedReportingOverflow(by: m.inFeatures)
    let (outCount, o2) = n.multipliedReportingOverflow(by: m.outFeatures)
    guard !o1, !o2 else { throw TNError.memory("a batch of \(batch) rows overflows the buffer sizes") }
    if n == 0 { return }
    guard let x else { throw ABIError.null("x") }
    guard let y else { throw ABIError.null("y") }
    let input = Array(UnsafeBufferPointer(start: x.assumingMemoryBound(to: T.self), count: inCount))
    let out = try m.forward(input, batch: n)
    y.assumingMemoryBound(to: T.self).update(from: out, count: outCount)
}

/// `tn_model_forward`: y = model(x) for contiguous batch × features buffers.
@_cdecl("tn_model_forward")
public func tn_model_forward(_ model: UnsafeMutableRawPointer?, _ dtype: Int32, _ batch: Int64,
                             _ x: UnsafeRawPointer?, _ y: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try ModelHandle.lookup(model)
        let t = try readDType(dtype)
        switch h.model {
        case .float32(let m):
            guard t == .float32 else { throw TNError.dtype("the buffers are \(t) but the model is float32") }
            try run(m, batch, x, y)
        case .float64(let m):
            guard t == .float64 else { throw TNError.dtype("the buffers are \(t) but the model is float64") }
            try run(m, batch, x, y)
        }
    }
}

// MARK: - Building, saving and taking apart models

/// `tn_stage_kind` values.
private enum StageKind: Int32 {
    case layer = 0, activation = 1, flatten = 2, dropout = 3
}

/// `tn_model_stage` as laid out in tnswift.h.
struct CModelStage {
    var kind: Int32
    var activation: Int32
    var dropout: Double
    var layer: UnsafeMutableRawPointer?
}

/// The stages of one dtype from the caller's descriptions; every layer must be of that dtype.
private func stages<T: LAPACKScalar>(_ described: [(CModelStage, LayerHandle?)], _: T.Type) throws -> [ModelStage<T>] {
    try described.enumerated().map { i, entry -> ModelStage<T> in
        let (s, handle) = entry
        switch StageKind(rawValue: s.kind) {
        case .layer?:
            switch handle?.layer {
            case .float32(let l)?:
                guard let l = l as? EinsumLayer<T> else { throw TNError.dtype("stage \(i) is a float32 layer in a \(T.dtype) model") }
                return .layer(l)
            case .float64(let l)?:
                guard let l = l as? EinsumLayer<T> else { throw TNError.dtype("stage \(i) is a float64 layer in a \(T.dtype) model") }
                return .layer(l)
            case nil:
                throw ABIError.null("stage \(i)'s layer")
            }
        case .activation?: return .activation(try readActivation(s.activation))
        case .flatten?: return .flatten
        case .dropout?: return .dropout(s.dropout)
        case nil:
            throw TNError.value("stage \(i) has kind \(s.kind); valid: TN_STAGE_LAYER (0) to TN_STAGE_DROPOUT (3)")
        }
    }
}

/// `tn_model_create`: a model over the caller's layers (shared, not copied) and stages.
@_cdecl("tn_model_create")
public func tn_model_create(_ n: Int64, _ described: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    out?.pointee = nil
    return ErrorState.guarded {
        guard let out else { throw ABIError.null("model") }
        guard n > 0 else { throw TNError.shape("a model needs at least one stage (got \(n))") }
        guard n <= 1 << 20 else { throw TNError.value("\(n) stages is more than the 2^20 supported") }
        guard let described else { throw ABIError.null("stages") }
        let raw = described.assumingMemoryBound(to: CModelStage.self)
        let entries = try (0..<Int(n)).map { i -> (CModelStage, LayerHandle?) in
            let s = raw[i]
            return (s, s.kind == StageKind.layer.rawValue ? try LayerHandle.lookup(s.layer) : nil)
        }
        // The model's dtype is its first layer's.
        let first = entries.first { $0.1 != nil }?.1
        let handle: ModelHandle
        switch first?.dtype {
        case .float64?: handle = ModelHandle(.float64(try Sequential(stages(entries, Double.self))))
        default: handle = ModelHandle(.float32(try Sequential(stages(entries, Float.self))))
        }
        out.pointee = handle.register()
    }
}

/// `tn_model_save`: writes the model (its layers' current parameters) atomically.
@_cdecl("tn_model_save")
public func tn_model_save(_ model: UnsafeRawPointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    ErrorState.guarded {
        let h = try ModelHandle.lookup(model)
        guard let path else { throw ABIError.null("path") }
        switch h.model {
        case .float32(let m): try m.save(path: String(cString: path))
        case .float64(let m): try m.save(path: String(cString: path))
        }
    }
}

/// Stage `i` of `m` described for C; a layer gets a new handle sharing the model's layer.
private func describe<T>(_ m: Sequential<T>, _ i: Int, wrap: (EinsumLayer<T>) -> LayerHandle.Layer) -> (CModelStage, LayerHandle?) {
    switch m.stages[i] {
    case .layer(let l):
        return (CModelStage(kind: StageKind.layer.rawValue, activation: 0, dropout: 0, layer: nil),
                LayerHandle(wrap(l), kind: LayerKind.of(l).rawValue))
    case .activation(let a):
        return (CModelStage(kind: StageKind.activation.rawValue, activation: activationCode(a), dropout: 0, layer: nil), nil)
    case .flatten:
        return (CModelStage(kind: StageKind.flatten.rawValue, activation: 0, dropout: 0, layer: nil), nil)
    case .dropout(let p):
        return (CModelStage(kind: StageKind.dropout.rawValue, activation: 0, dropout: p, layer: nil), nil)
    }
}

/// `tn_model_stage_get`: what stage `i` is; a layer comes back as a new `tn_layer` handle.
@_cdecl("tn_model_stage_get")
public func tn_model_stage_get(_ model: UnsafeRawPointer?, _ i: Int64, _ stage: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try ModelHandle.lookup(model)
        guard let stage else { throw ABIError.null("stage") }
        let count: Int
        switch h.model {
        case .float32(let m): count = m.stages.count
        case .float64(let m): count = m.stages.count
        }
        guard i >= 0, i < count else { throw TNError.value("stage \(i) is out of range: the model has \(count) stages") }
        var (described, layer): (CModelStage, LayerHandle?)
        switch h.model {
        case .float32(let m): (described, layer) = describe(m, Int(i)) { .float32($0) }
        case .float64(let m): (described, layer) = describe(m, Int(i)) { .float64($0) }
        }
        if let layer { described.layer = layer.register() }
        stage.assumingMemoryBound(to: CModelStage.self).pointee = described
    }
}
