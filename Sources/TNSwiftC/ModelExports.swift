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
