import TNSwift

// TT embeddings in the C ABI (tnswift.h, "Embeddings"): a tn_embedding handle owns one
// TTEmbedding. Indices and offsets are the caller's int64 arrays; outputs are written into
// the caller's (rows, embedding_dim) arrays; cores and their gradients are handed out as
// pointers into the embedding's own storage (tn_layer_param).

/// `tn_embedding_config`
struct CEmbeddingConfig {
    var dtype: Int32
    var reserved: Int32
    var numEmbeddings: Int64
    var embeddingDim: Int64
    var nModes: Int64
    var rowModes: UnsafePointer<Int64>?
    var colModes: UnsafePointer<Int64>?
    var nRanks: Int64
    var ranks: UnsafePointer<Int64>?
    var paddingIdx: Int64
    var std: Double
    var seed: UInt64
}

/// `tn_embedding_info`
struct CEmbeddingInfo {
    var dtype: Int32
    var nModes: Int32
    var numEmbeddings: Int64
    var embeddingDim: Int64
    var paddingIdx: Int64
    var nParams: Int64
    var parameterCount: Int64
    var compression: Double
}

private func list(_ p: UnsafePointer<Int64>?, _ n: Int, what: String) throws -> [Int]? {
    guard let p else { return nil }
    return (0..<n).map { Int(truncatingIfNeeded: p[$0]) }
}

/// The modes and ranks of a config: d = n_modes (0: 3), NULL mode lists chosen by the library.
private func settings(_ c: CEmbeddingConfig) throws -> (rows: [Int]?, cols: [Int]?, order: Int, padding: Int?) {
    guard c.nModes >= 0, c.nModes <= 12 else { throw TNError.value("n_modes must be 0 (default 3) to 12 (got \(c.nModes))") }
    let d = c.nModes == 0 ? 3 : Int(c.nModes)
    guard c.paddingIdx >= -1 else { throw TNError.value("padding_idx must be a row or -1 for none (got \(c.paddingIdx))") }
    return (try list(c.rowModes, d, what: "row_modes"), try list(c.colModes, d, what: "col_modes"), d,
            c.paddingIdx < 0 ? nil : Int(c.paddingIdx))
}

private func makeEmbedding<T: LAPACKScalar>(_ c: CEmbeddingConfig, _: T.Type) throws -> TTEmbedding<T> {
    let s = try settings(c)
    guard c.nRanks == 1 || c.nRanks == Int64(s.order - 1) else {
        throw TNError.shape("n_ranks must be 1 (every bond) or n_modes - 1 = \(s.order - 1) (got \(c.nRanks))")
    }
    let ranks = try list(c.ranks, Int(c.nRanks), what: "ranks") ?? (c.nRanks == 0 ? [] : { throw ABIError.null("ranks") }())
    guard c.std.isNaN || c.std >= 0 else { throw TNError.value("std must be non-negative (got \(c.std)); NaN means the default 1") }
    let std = c.std.isNaN ? 1 : c.std
    let n = Int(truncatingIfNeeded: c.numEmbeddings), dim = Int(truncatingIfNeeded: c.embeddingDim)
    if ranks.count == 1 {
        return try TTEmbedding<T>(numEmbeddings: n, embeddingDim: dim, rank: ranks[0], rowModes: s.rows, columnModes: s.cols,
                                  order: s.order, paddingIndex: s.padding, std: std, seed: c.seed)
    }
    return try TTEmbedding<T>(numEmbeddings: n, embeddingDim: dim, ranks: ranks, rowModes: s.rows, columnModes: s.cols,
                              order: s.order, paddingIndex: s.padding, std: std, seed: c.seed)
}

private func readEmbeddingConfig(_ config: UnsafeRawPointer?) throws -> CEmbeddingConfig {
    guard let config else { throw ABIError.null("config") }
    return config.assumingMemoryBound(to: CEmbeddingConfig.self).pointee
}

/// `tn_embedding_create`: a TT embedding with fresh, seeded cores.
@_cdecl("tn_embedding_create")
public func tn_embedding_create(_ config: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("the embedding output pointer") }
        out.pointee = nil
        let c = try readEmbeddingConfig(config)
        let handle: EmbeddingHandle
        switch try readDType(c.dtype) {
        case .float32: handle = EmbeddingHandle(.float32(try makeEmbedding(c, Float.self)))
        case .float64: handle = EmbeddingHandle(.float64(try makeEmbedding(c, Double.self)))
        }
        out.pointee = handle.register()
    }
}

private func embeddingFromDense<T: LAPACKScalar>(_ c: CEmbeddingConfig, _ table: UnsafePointer<CTensor>, _ rank: Int64,
                                                 _ eps: Double, _: T.Type) throws -> TTEmbedding<T> {
    let s = try settings(c)
    return try withContiguous(table, what: "table") { (p: UnsafePointer<T>, shape: [Int]) in
        guard shape.count == 2 else { throw TNError.shape("the table must have shape (num_embeddings, embedding_dim); it has shape \(shape)") }
        return try TTEmbedding<T>.fromDense(table: Array(UnsafeBufferPointer(start: p, count: shape[0] * shape[1])),
                                            numEmbeddings: shape[0], embeddingDim: shape[1], rowModes: s.rows,
                                            columnModes: s.cols, order: s.order, rank: rank < 0 ? nil : Int(rank),
                                            eps: eps < 0 ? nil : eps, paddingIndex: s.padding)
    }
}

/// `tn_embedding_from_dense`: a TT embedding fitted to a dense table by TT-SVD (rank >= 1 or
/// eps >= 0, exactly one; the other negative).
@_cdecl("tn_embedding_from_dense")
public func tn_embedding_from_dense(_ config: UnsafeRawPointer?, _ table: UnsafeRawPointer?, _ rank: Int64, _ eps: Double,
                                    _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("the embedding output pointer") }
        out.pointee = nil
        let c = try readEmbeddingConfig(config)
        guard let table else { throw ABIError.null("table") }
        let t = table.assumingMemoryBound(to: CTensor.self)
        let handle: EmbeddingHandle
        switch try readDType(c.dtype) {
        case .float32: handle = EmbeddingHandle(.float32(try embeddingFromDense(c, t, rank, eps, Float.self)))
        case .float64: handle = EmbeddingHandle(.float64(try embeddingFromDense(c, t, rank, eps, Double.self)))
        }
        out.pointee = handle.register()
    }
}

/// `tn_embedding_destroy`: releases the embedding; its parameter pointers become invalid.
@_cdecl("tn_embedding_destroy")
public func tn_embedding_destroy(_ embedding: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { try EmbeddingHandle.destroy(embedding) }
}

private func embeddingInfo<T>(_ l: TTEmbedding<T>, _ h: EmbeddingHandle) -> CEmbeddingInfo {
    CEmbeddingInfo(dtype: Int32(h.dtype.rawValue), nModes: Int32(l.rowModes.count), numEmbeddings: Int64(l.numEmbeddings),
                   embeddingDim: Int64(l.embeddingDim), paddingIdx: Int64(l.paddingIndex ?? -1),
                   nParams: Int64(l.parameterShapes.count), parameterCount: Int64(l.parameterCount), compression: l.compression)
}

/// `tn_embedding_info_get`: dtype, sizes, modes count, padding index, parameter counts.
@_cdecl("tn_embedding_info_get")
public func tn_embedding_info_get(_ embedding: UnsafeRawPointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try EmbeddingHandle.lookup(embedding)
        guard let info else { throw ABIError.null("info") }
        let p = info.assumingMemoryBound(to: CEmbeddingInfo.self)
        switch h.layer {
        case .float32(let l): p.pointee = embeddingInfo(l, h)
        case .float64(let l): p.pointee = embeddingInfo(l, h)
        }
    }
}

/// `tn_embedding_modes`: the row modes, column modes (n_modes each) and the n_modes + 1 ranks.
@_cdecl("tn_embedding_modes")
public func tn_embedding_modes(_ embedding: UnsafeRawPointer?, _ rows: UnsafeMutablePointer<Int64>?,
                               _ cols: UnsafeMutablePointer<Int64>?, _ ranks: UnsafeMutablePointer<Int64>?, _ cap: Int64) -> Int32 {
    ErrorState.guarded {
        let h = try EmbeddingHandle.lookup(embedding)
        let (r, c, k): ([Int], [Int], [Int])
        switch h.layer {
        case .float32(let l): (r, c, k) = (l.rowModes, l.columnModes, l.ranks)
        case .float64(let l): (r, c, k) = (l.rowModes, l.columnModes, l.ranks)
        }
        guard cap >= Int64(k.count) else { throw TNError.value("cap must be at least n_modes + 1 = \(k.count) (got \(cap))") }
        guard let rows, let cols, let ranks else { throw ABIError.null("row_modes, col_modes and ranks") }
        for (i, v) in r.enumerated() { rows[i] = Int64(v) }
        for (i, v) in c.enumerated() { cols[i] = Int64(v) }
        for (i, v) in k.enumerated() { ranks[i] = Int64(v) }
    }
}

/// `tn_embedding_param_get`: core i's name, shape and data / gradient pointers.
@_cdecl("tn_embedding_param_get")
public func tn_embedding_param_get(_ embedding: UnsafeRawPointer?, _ i: Int64, _ param: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try EmbeddingHandle.lookup(embedding)
        let (_, p) = try h.table.slot(i, param, holds: "this embedding has \(h.table.count) cores")
        switch h.layer {
        case .float32(let l): p.pointee = h.table.entry(Int(i), data: l.parameter(Int(i)), grad: l.gradient(Int(i)))
        case .float64(let l): p.pointee = h.table.entry(Int(i), data: l.parameter(Int(i)), grad: l.gradient(Int(i)))
        }
    }
}

/// The lookups and bags of a forward or backward call.
private func lookups(_ indices: UnsafePointer<Int64>?, _ n: Int64, _ offsets: UnsafePointer<Int64>?, _ nBags: Int64,
                     _ mode: Int32) throws -> (UnsafeBufferPointer<Int64>, EmbeddingBags?) {
    guard n >= 0 else { throw TNError.value("n_indices must be non-negative (got \(n))") }
    guard n == 0 || indices != nil else { throw ABIError.null("indices") }
    let buffer = UnsafeBufferPointer(start: indices, count: Int(n))
    switch mode {
    case 0: return (buffer, nil)
    case 1, 2:
        guard nBags >= 1 else { throw TNError.value("a bag mode needs n_offsets >= 1 (got \(nBags))") }
        guard let offsets else { throw ABIError.null("offsets") }
        let starts = (0..<Int(nBags)).map { Int(truncatingIfNeeded: offsets[$0]) }
        return (buffer, EmbeddingBags(offsets: starts, mode: mode == 1 ? .sum : .mean))
    default:
        throw TNError.value("mode \(mode) is not a tn_embedding_mode (0 ROWS, 1 SUM, 2 MEAN)")
    }
}

private func checkEmbeddingDType(_ h: EmbeddingHandle, _ dtype: Int32) throws {
    let t = try readDType(dtype)
    guard t == h.dtype else { throw TNError.dtype("the arrays are \(t) but the embedding is \(h.dtype)") }
}

/// Checks that `t` is (rows, dim) and runs body on contiguous memory laid out that way: the
/// caller's own when C-contiguous, else a scratch copied back after (when `writeBack`).
private func withRows<T: BLASScalar>(_ t: UnsafeRawPointer?, _ what: String, rows: Int, dim: Int, writeBack: Bool,
                                     _ body: (UnsafeMutablePointer<T>) throws -> Void) throws {
    guard let t else { throw ABIError.null(what) }
    let tensor = t.assumingMemoryBound(to: CTensor.self).pointee
    let shape = try readShape(tensor.ndim, tensor.shape, what: what)
    guard shape == [rows, dim] else { throw TNError.shape("\(what) has shape \(shape) but the call needs (\(rows), \(dim))") }
    if rows * dim == 0 { return try body(UnsafeMutablePointer<T>(bitPattern: MemoryLayout<T>.alignment)!) }
    guard let data = tensor.data else { throw ABIError.null("the data of \(what)") }
    let base = data.assumingMemoryBound(to: T.self)
    guard let strides = tensor.strides, !isCContiguous(shape, strides) else { return try body(base) }
    let given = [Int(strides[0]), Int(strides[1])], packed = [dim, 1]
    var scratch = [T](repeating: 0, count: rows * dim)
    try scratch.withUnsafeMutableBufferPointer { s in
        if !writeBack { copyStrided(from: UnsafePointer(base), given, to: s.baseAddress!, packed, shape: shape) }
        try body(s.baseAddress!)
        if writeBack { copyStrided(from: UnsafePointer(s.baseAddress!), packed, to: base, given, shape: shape) }
    }
}

private func embeddingForward<T: LAPACKScalar>(_ l: TTEmbedding<T>, _ lookup: (UnsafeBufferPointer<Int64>, EmbeddingBags?),
                                               _ out: UnsafeRawPointer?) throws {
    let rows = lookup.1?.offsets.count ?? lookup.0.count
    try withRows(out, "out", rows: rows, dim: l.embeddingDim, writeBack: true) { (p: UnsafeMutablePointer<T>) in
        try l.forward(indices: lookup.0, output: p, bags: lookup.1)
    }
}

private func embeddingBackward<T: LAPACKScalar>(_ l: TTEmbedding<T>, _ lookup: (UnsafeBufferPointer<Int64>, EmbeddingBags?),
                                                _ dout: UnsafeRawPointer?) throws {
    let rows = lookup.1?.offsets.count ?? lookup.0.count
    try withRows(dout, "dout", rows: rows, dim: l.embeddingDim, writeBack: false) { (p: UnsafeMutablePointer<T>) in
        try l.backward(indices: lookup.0, outputGradient: UnsafePointer(p), bags: lookup.1)
    }
}

/// `tn_embedding_forward`: the rows of `indices` (mode ROWS) or one reduced row per bag.
@_cdecl("tn_embedding_forward")
public func tn_embedding_forward(_ embedding: UnsafeMutableRawPointer?, _ dtype: Int32, _ indices: UnsafePointer<Int64>?,
                                 _ n: Int64, _ offsets: UnsafePointer<Int64>?, _ nBags: Int64, _ mode: Int32,
                                 _ out: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try EmbeddingHandle.lookup(embedding)
        try checkEmbeddingDType(h, dtype)
        let l = try lookups(indices, n, offsets, nBags, mode)
        switch h.layer {
        case .float32(let e): try embeddingForward(e, l, out)
        case .float64(let e): try embeddingForward(e, l, out)
        }
    }
}

/// `tn_embedding_backward`: overwrites every core gradient from dL/d(out).
@_cdecl("tn_embedding_backward")
public func tn_embedding_backward(_ embedding: UnsafeMutableRawPointer?, _ dtype: Int32, _ indices: UnsafePointer<Int64>?,
                                  _ n: Int64, _ offsets: UnsafePointer<Int64>?, _ nBags: Int64, _ mode: Int32,
                                  _ dout: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try EmbeddingHandle.lookup(embedding)
        try checkEmbeddingDType(h, dtype)
        let l = try lookups(indices, n, offsets, nBags, mode)
        switch h.layer {
        case .float32(let e): try embeddingBackward(e, l, dout)
        case .float64(let e): try embeddingBackward(e, l, dout)
        }
    }
}

private func copyTable<T: LAPACKScalar>(_ l: TTEmbedding<T>, _ out: UnsafeRawPointer?) throws {
    let table = try l.denseTable()
    try withRows(out, "out", rows: l.numEmbeddings, dim: l.embeddingDim, writeBack: true) { (p: UnsafeMutablePointer<T>) in
        p.update(from: table, count: table.count)
    }
}

/// `tn_embedding_dense_table`: the whole table (num_embeddings, embedding_dim) into `out`.
@_cdecl("tn_embedding_dense_table")
public func tn_embedding_dense_table(_ embedding: UnsafeRawPointer?, _ dtype: Int32, _ out: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try EmbeddingHandle.lookup(embedding)
        try checkEmbeddingDType(h, dtype)
        switch h.layer {
        case .float32(let l): try copyTable(l, out)
        case .float64(let l): try copyTable(l, out)
        }
    }
}
