#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TNSwift

// The decompositions in the C ABI (tnswift.h, "Decompositions"). Inputs are read in place
// when C-contiguous (a large matrix is never copied here) and packed once otherwise; results
// come back in a tn_decomposition handle whose arrays the caller copies out.

/// `tn_progress_fn`: (context, step, total, relative error or NaN) -> nonzero to go on.
public typealias CProgress = @convention(c) (UnsafeMutableRawPointer?, Int64, Int64, Double) -> Int32

private func progressHandler(_ fn: CProgress?, _ context: UnsafeMutableRawPointer?) -> DecompositionProgressHandler? {
    guard let fn else { return nil }
    return { p in fn(context, Int64(p.step), Int64(p.totalSteps), p.relativeError ?? .nan) != 0 }
}

/// Negative means "no tolerance"; NaN and infinities reach Swift, which refuses them.
private func readEps(_ eps: Double) -> Double? { eps < 0 ? nil : eps }

/// `count` rank caps, or nil when the pointer is NULL (no caps).
private func readCaps(_ p: UnsafePointer<Int64>?, count: Int) -> [Int]? {
    guard let p else { return nil }
    return (0..<count).map { Int(p[$0]) }
}

private func readInts(_ p: UnsafePointer<Int64>?, count: Int, what: String) throws -> [Int] {
    if count == 0 { return [] }
    guard let p else { throw ABIError.null(what) }
    return (0..<count).map { Int(p[$0]) }
}

/// The number of elements of `shape`, refusing sizes whose byte count overflows.
private func elementCount(_ shape: [Int], itemSize: Int, what: @autoclosure () -> String) throws -> Int {
    var n = 1
    for s in shape {
        let (r, o) = n.multipliedReportingOverflow(by: s)
        guard !o else { throw TNError.memory("the size of \(what()) (shape \(shape)) overflows") }
        n = r
    }
    guard !n.multipliedReportingOverflow(by: itemSize).overflow else {
        throw TNError.memory("the size of \(what()) (shape \(shape)) overflows")
    }
    return n
}

/// Whether element strides `strides` lay out a non-empty `shape` in C order (axes of size 1
/// may have any stride, as NumPy allows).
func isCContiguous(_ shape: [Int], _ strides: UnsafePointer<Int64>) -> Bool {
    var expected = 1
    for k in stride(from: shape.count - 1, through: 0, by: -1) where shape[k] != 1 {
        guard Int(strides[k]) == expected else { return false }
        expected &*= shape[k]
    }
    return true
}

/// Copies a non-empty strided array into another of the same shape (element strides).
func copyStrided<T>(from src: UnsafePointer<T>, _ srcStrides: [Int],
                            to dst: UnsafeMutablePointer<T>, _ dstStrides: [Int], shape: [Int]) {
    let d = shape.count
    if d == 0 { dst.pointee = src.pointee; return }
    var index = [Int](repeating: 0, count: d)
    var s = 0, t = 0
    while true {
        dst[t] = src[s]
        var a = d - 1
        while true {
            index[a] &+= 1
            s &+= srcStrides[a]
            t &+= dstStrides[a]
            if index[a] < shape[a] { break }
            s &-= srcStrides[a] &* shape[a]
            t &-= dstStrides[a] &* shape[a]
            index[a] = 0
            if a == 0 { return }
            a -= 1
        }
    }
}

/// Runs `body` on the values of `*p` in C order: the caller's memory itself when it is
/// C-contiguous, else a packed copy that lives for the call.
func withContiguous<T: BLASScalar, R>(_ p: UnsafePointer<CTensor>?, what: String,
                                              _ body: (UnsafePointer<T>, [Int]) throws -> R) throws -> R {
    guard let p else { throw ABIError.null(what) }
    let t = p.pointee
    let shape = try readShape(t.ndim, t.shape, what: what)
    let count = try elementCount(shape, itemSize: MemoryLayout<T>.stride, what: what)
    if count == 0 {
        // Nothing is read; the decompositions refuse empty modes with a shape error.
        return try body(UnsafePointer(UnsafeMutablePointer<T>(bitPattern: MemoryLayout<T>.alignment)!), shape)
    }
    guard let data = t.data else { throw ABIError.null("the data of \(what)") }
    let base = UnsafePointer(data.assumingMemoryBound(to: T.self))
    guard let strides = t.strides, !isCContiguous(shape, strides) else { return try body(base, shape) }
    guard let raw = malloc(count * MemoryLayout<T>.stride) else {
        throw TNError.memory("cannot allocate a contiguous copy of \(what) (shape \(shape))")
    }
    defer { free(raw) }
    let packed = raw.bindMemory(to: T.self, capacity: count)
    copyStrided(from: base, (0..<shape.count).map { Int(strides[$0]) },
                to: packed, StridedView<T>.contiguousStrides(shape), shape: shape)
    return try body(UnsafePointer(packed), shape)
}

/// Copies `count` tensors (each of `ndim` dimensions when given) into Swift arrays.
private func readArrays<T: BLASScalar>(_ p: UnsafePointer<CTensor>?, count: Int, ndim: Int?,
                                       what: String) throws -> (values: [[T]], shapes: [[Int]]) {
    guard count == 0 || p != nil else { throw ABIError.null("the \(what) array") }
    var values: [[T]] = []
    var shapes: [[Int]] = []
    for i in 0..<count {
        try withContiguous(p! + i, what: "\(what) \(i)") { (v: UnsafePointer<T>, shape: [Int]) in
            if let ndim, shape.count != ndim {
                throw TNError.shape("\(what) \(i) has shape \(shape); it must have \(ndim) dimensions")
            }
            values.append(Array(UnsafeBufferPointer(start: v, count: shape.reduce(1, *))))
            shapes.append(shape)
        }
    }
    return (values, shapes)
}

private func checkCoreCount(_ n: Int64) throws -> Int {
    guard n >= 1, n <= 65_536 else { throw TNError.shape("a TT tensor needs 1 to 65536 cores (got \(n))") }
    return Int(n)
}

private func readTT<T: ABIScalar>(_ p: UnsafePointer<CTensor>?, count: Int, what: String) throws -> TTTensor<T> {
    let (values, shapes) = try readArrays(p, count: count, ndim: 3, what: what) as ([[T]], [[Int]])
    return try TTTensor<T>(cores: values, coreShapes: shapes)
}

private func ttHandle<T: ABIScalar>(_ tt: TTTensor<T>) -> DecompositionHandle {
    DecompositionHandle(arrays: tt.cores, shapes: (0..<tt.order).map { tt.coreShape($0) })
}

/// Runs `make` for the dtype and hands the result out through `out` (NULL on failure).
private func produce(_ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ dtype: Int32,
                     float32: () throws -> DecompositionHandle,
                     float64: () throws -> DecompositionHandle) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("the result pointer (out)") }
        out.pointee = nil
        let handle = try readDType(dtype) == .float32 ? try float32() : try float64()
        out.pointee = handle.register()
    }
}

// MARK: - Tensor train

private func ttSVD<T: ABIScalar>(_ x: UnsafePointer<CTensor>?, _ maxRanks: UnsafePointer<Int64>?, _ eps: Double,
                                 _ progress: DecompositionProgressHandler?, _: T.Type) throws -> DecompositionHandle {
    let tt = try withContiguous(x, what: "x") { (p: UnsafePointer<T>, shape: [Int]) -> TTTensor<T> in
        if let caps = readCaps(maxRanks, count: max(shape.count - 1, 0)) {
            return try TTTensor<T>(decomposing: p, shape: shape, maxRanks: caps, eps: readEps(eps), progress: progress)
        }
        return try TTTensor<T>(decomposing: p, shape: shape, maxRank: nil, eps: readEps(eps), progress: progress)
    }
    return ttHandle(tt)
}

@_cdecl("tn_tt_svd")
public func tn_tt_svd(_ dtype: Int32, _ x: UnsafeRawPointer?, _ maxRanks: UnsafePointer<Int64>?, _ eps: Double,
                      _ progress: CProgress?, _ context: UnsafeMutableRawPointer?,
                      _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    let x = x?.assumingMemoryBound(to: CTensor.self)
    let handler = progressHandler(progress, context)
    return produce(out, dtype, float32: { try ttSVD(x, maxRanks, eps, handler, Float.self) },
                   float64: { try ttSVD(x, maxRanks, eps, handler, Double.self) })
}

private func ttMatrix<T: ABIScalar>(_ w: UnsafePointer<CTensor>?, _ rowModes: [Int], _ columnModes: [Int],
                                    _ maxRanks: UnsafePointer<Int64>?, _ eps: Double, _ progress: DecompositionProgressHandler?,
                                    _: T.Type) throws -> DecompositionHandle {
    let d = rowModes.count
    let m = try withContiguous(w, what: "w") { (p: UnsafePointer<T>, shape: [Int]) -> TTMatrix<T> in
        guard shape.count == 2 else { throw TNError.shape("w must be a matrix (2 dimensions); it has shape \(shape)") }
        // No caps: a cap no bond reaches (and one the randomized SVD never takes).
        let caps = readCaps(maxRanks, count: d - 1) ?? [Int](repeating: Int.max, count: d - 1)
        return try TTMatrix<T>(decomposing: p, rows: shape[0], columns: shape[1], rowModes: rowModes,
                               columnModes: columnModes, maxRanks: caps, eps: readEps(eps), progress: progress)
    }
    return DecompositionHandle(arrays: m.cores,
                               shapes: (0..<d).map { [m.ranks[$0], m.rowModes[$0], m.columnModes[$0], m.ranks[$0 + 1]] })
}

@_cdecl("tn_tt_matrix")
public func tn_tt_matrix(_ dtype: Int32, _ w: UnsafeRawPointer?, _ d: Int64, _ rowModes: UnsafePointer<Int64>?,
                         _ columnModes: UnsafePointer<Int64>?, _ maxRanks: UnsafePointer<Int64>?, _ eps: Double,
                         _ progress: CProgress?, _ context: UnsafeMutableRawPointer?,
                         _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    let w = w?.assumingMemoryBound(to: CTensor.self)
    let handler = progressHandler(progress, context)
    func run<T: ABIScalar>(_ t: T.Type) throws -> DecompositionHandle {
        guard d >= 1, d <= 64 else { throw TNError.shape("a TT-matrix needs 1 to 64 modes (got d = \(d))") }
        let rows = try readInts(rowModes, count: Int(d), what: "row_modes")
        let columns = try readInts(columnModes, count: Int(d), what: "col_modes")
        return try ttMatrix(w, rows, columns, maxRanks, eps, handler, t)
    }
    return produce(out, dtype, float32: { try run(Float.self) }, float64: { try run(Double.self) })
}

private func ttRound<T: ABIScalar>(_ n: Int64, _ cores: UnsafePointer<CTensor>?, _ maxRanks: UnsafePointer<Int64>?,
                                   _ eps: Double, _: T.Type) throws -> DecompositionHandle {
    let tt: TTTensor<T> = try readTT(cores, count: try checkCoreCount(n), what: "core")
    if let caps = readCaps(maxRanks, count: tt.order - 1) {
        return ttHandle(try tt.rounded(eps: readEps(eps), maxRanks: caps))
    }
    return ttHandle(try tt.rounded(eps: readEps(eps), maxRank: nil))
}

@_cdecl("tn_tt_round")
public func tn_tt_round(_ dtype: Int32, _ n: Int64, _ cores: UnsafeRawPointer?, _ maxRanks: UnsafePointer<Int64>?,
                        _ eps: Double, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    let c = cores?.assumingMemoryBound(to: CTensor.self)
    return produce(out, dtype, float32: { try ttRound(n, c, maxRanks, eps, Float.self) },
                   float64: { try ttRound(n, c, maxRanks, eps, Double.self) })
}

private func ttInner<T: ABIScalar>(_ n: Int64, _ a: UnsafePointer<CTensor>?, _ b: UnsafePointer<CTensor>?,
                                   _: T.Type) throws -> Double {
    let count = try checkCoreCount(n)
    let x: TTTensor<T> = try readTT(a, count: count, what: "a core")
    let y: TTTensor<T> = try readTT(b, count: count, what: "b core")
    return Double(try x.inner(y))
}

@_cdecl("tn_tt_inner")
public func tn_tt_inner(_ dtype: Int32, _ n: Int64, _ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?,
                        _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    ErrorState.guarded {
        guard let out else { throw ABIError.null("out") }
        let (x, y) = (a?.assumingMemoryBound(to: CTensor.self), b?.assumingMemoryBound(to: CTensor.self))
        out.pointee = try readDType(dtype) == .float32 ? try ttInner(n, x, y, Float.self) : try ttInner(n, x, y, Double.self)
    }
}

private func ttAdd<T: ABIScalar>(_ n: Int64, _ a: UnsafePointer<CTensor>?, _ b: UnsafePointer<CTensor>?,
                                 _: T.Type) throws -> DecompositionHandle {
    let count = try checkCoreCount(n)
    let x: TTTensor<T> = try readTT(a, count: count, what: "a core")
    let y: TTTensor<T> = try readTT(b, count: count, what: "b core")
    return ttHandle(try x + y)
}

@_cdecl("tn_tt_add")
public func tn_tt_add(_ dtype: Int32, _ n: Int64, _ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?,
                      _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    let (x, y) = (a?.assumingMemoryBound(to: CTensor.self), b?.assumingMemoryBound(to: CTensor.self))
    return produce(out, dtype, float32: { try ttAdd(n, x, y, Float.self) }, float64: { try ttAdd(n, x, y, Double.self) })
}

@_cdecl("tn_balanced_modes")
public func tn_balanced_modes(_ n: Int64, _ order: Int64, _ modes: UnsafeMutablePointer<Int64>?) -> Int32 {
    ErrorState.guarded {
        guard order <= 4096 else { throw TNError.value("balanced_modes: the order must be at most 4096 (got \(order))") }
        let result = try balancedModes(Int(n), order: Int(order))
        guard let modes else { throw ABIError.null("modes") }
        for (k, m) in result.enumerated() { modes[k] = Int64(m) }
    }
}

// MARK: - CP

private func cpInitialization<T: ABIScalar>(_ kind: Int32, seed: UInt64, arrays p: UnsafePointer<CTensor>?,
                                            shape: [Int], rank: Int) throws -> CPInitialization<T> {
    switch kind {
    case 0: return .svd
    case 1: return .random(seed: seed)
    case 2:
        guard let p else { throw ABIError.null("init_arrays (init is TN_CP_INIT_GIVEN)") }
        let (values, shapes) = try readArrays(p, count: shape.count + 1, ndim: nil, what: "init array") as ([[T]], [[Int]])
        guard shapes[0] == [rank] else {
            throw TNError.shape("init array 0 (the weights) has shape \(shapes[0]); expected [\(rank)] for rank \(rank)")
        }
        for k in 0..<shape.count where shapes[k + 1] != [shape[k], rank] {
            throw TNError.shape("init array \(k + 1) (factor \(k)) has shape \(shapes[k + 1]); expected [\(shape[k]), \(rank)]")
        }
        return .given(try CPTensor<T>(weights: values[0], factors: Array(values[1...]), shape: shape))
    default:
        throw TNError.value("init \(kind) is not a tn_cp_init value (0 svd, 1 random, 2 given)")
    }
}

private func cpALS<T: ABIScalar>(_ x: UnsafePointer<CTensor>?, _ rank: Int64, _ kind: Int32, _ seed: UInt64,
                                 _ initArrays: UnsafePointer<CTensor>?, _ iterations: Int64, _ tol: Double,
                                 _ progress: DecompositionProgressHandler?, _: T.Type) throws -> DecompositionHandle {
    let cp = try withContiguous(x, what: "x") { (p: UnsafePointer<T>, shape: [Int]) -> CPTensor<T> in
        guard rank >= 1 else { throw TNError.value("the CP rank must be at least 1 (got \(rank))") }
        let start: CPInitialization<T> = try cpInitialization(kind, seed: seed, arrays: initArrays, shape: shape, rank: Int(rank))
        return try CPTensor<T>(decomposing: p, shape: shape, rank: Int(rank), initialization: start,
                               maxIterations: Int(iterations), tolerance: tol, progress: progress)
    }
    return DecompositionHandle(arrays: [cp.weights] + cp.factors,
                               shapes: [[cp.rank]] + cp.shape.map { [$0, cp.rank] }, errors: cp.errors)
}

@_cdecl("tn_cp_als")
public func tn_cp_als(_ dtype: Int32, _ x: UnsafeRawPointer?, _ rank: Int64, _ initKind: Int32, _ seed: UInt64,
                      _ initArrays: UnsafeRawPointer?, _ nIterMax: Int64, _ tol: Double,
                      _ progress: CProgress?, _ context: UnsafeMutableRawPointer?,
                      _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    let x = x?.assumingMemoryBound(to: CTensor.self)
    let given = initArrays?.assumingMemoryBound(to: CTensor.self)
    let handler = progressHandler(progress, context)
    return produce(out, dtype,
                   float32: { try cpALS(x, rank, initKind, seed, given, nIterMax, tol, handler, Float.self) },
                   float64: { try cpALS(x, rank, initKind, seed, given, nIterMax, tol, handler, Double.self) })
}

// MARK: - The result handle

@_cdecl("tn_decomposition_destroy")
public func tn_decomposition_destroy(_ h: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { try DecompositionHandle.destroy(h) }
}

@_cdecl("tn_decomposition_count")
public func tn_decomposition_count(_ h: UnsafeRawPointer?, _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    ErrorState.guarded {
        let d = try DecompositionHandle.lookup(h)
        guard let count else { throw ABIError.null("count") }
        count.pointee = Int64(d.count)
    }
}

private func arrayIndex(_ d: DecompositionHandle, _ i: Int64) throws -> Int {
    guard i >= 0, i < Int64(d.count) else {
        throw TNError.value("array index \(i) is out of range: this decomposition has \(d.count) arrays")
    }
    return Int(i)
}

@_cdecl("tn_decomposition_array_shape")
public func tn_decomposition_array_shape(_ h: UnsafeRawPointer?, _ i: Int64, _ ndim: UnsafeMutablePointer<Int64>?,
                                         _ shape: UnsafeMutablePointer<Int64>?, _ cap: Int64) -> Int32 {
    ErrorState.guarded {
        let d = try DecompositionHandle.lookup(h)
        let s = d.shapes[try arrayIndex(d, i)]
        guard let ndim else { throw ABIError.null("ndim") }
        ndim.pointee = Int64(s.count)
        guard cap >= Int64(s.count) else { throw TNError.value("capacity \(cap) is less than array \(i)'s \(s.count) dimensions") }
        guard s.isEmpty || shape != nil else { throw ABIError.null("shape") }
        for (k, n) in s.enumerated() { shape![k] = Int64(n) }
    }
}

private func copyOut<T>(_ values: [T], shape: [Int], index: Int64, to dst: CTensor) throws {
    let what = "dst"
    let given = try readShape(dst.ndim, dst.shape, what: what)
    guard given == shape else { throw TNError.shape("array \(index) has shape \(shape) but dst has shape \(given)") }
    if values.isEmpty { return }
    guard let data = dst.data else { throw ABIError.null("the data of dst") }
    let strides = dst.strides.map { s in (0..<shape.count).map { Int(s[$0]) } } ?? StridedView<Float>.contiguousStrides(shape)
    values.withUnsafeBufferPointer { v in
        copyStrided(from: v.baseAddress!, StridedView<Float>.contiguousStrides(shape),
                    to: data.assumingMemoryBound(to: T.self), strides, shape: shape)
    }
}

@_cdecl("tn_decomposition_array_copy")
public func tn_decomposition_array_copy(_ h: UnsafeRawPointer?, _ i: Int64, _ dst: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let d = try DecompositionHandle.lookup(h)
        let k = try arrayIndex(d, i)
        guard let dst else { throw ABIError.null("dst") }
        let t = dst.assumingMemoryBound(to: CTensor.self).pointee
        switch d.arrays {
        case .float32(let a): try copyOut(a[k], shape: d.shapes[k], index: i, to: t)
        case .float64(let a): try copyOut(a[k], shape: d.shapes[k], index: i, to: t)
        }
    }
}

@_cdecl("tn_decomposition_errors")
public func tn_decomposition_errors(_ h: UnsafeRawPointer?, _ errors: UnsafeMutablePointer<Double>?, _ cap: Int64,
                                    _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    ErrorState.guarded {
        let d = try DecompositionHandle.lookup(h)
        count?.pointee = Int64(d.errors.count)
        let n = Int(max(0, min(cap, Int64(d.errors.count))))
        guard n == 0 || errors != nil else { throw ABIError.null("errors") }
        for k in 0..<n { errors![k] = d.errors[k] }
    }
}

// MARK: - Tucker

private func tucker<T: ABIScalar>(_ x: UnsafePointer<CTensor>?, _ ranks: UnsafePointer<Int64>?, _ eps: Double,
                                  _ method: Int32, _ iterations: Int64, _ tol: Double,
                                  _ progress: DecompositionProgressHandler?, _: T.Type) throws -> DecompositionHandle {
    let methods: [TuckerMethod] = [.hosvd, .hooi]
    guard method >= 0, Int(method) < methods.count else {
        throw TNError.value("method \(method) is not a tn_tucker_method value (0 hosvd, 1 hooi)")
    }
    let t = try withContiguous(x, what: "x") { (p: UnsafePointer<T>, shape: [Int]) -> TuckerTensor<T> in
        try TuckerTensor<T>(decomposing: p, shape: shape, ranks: readCaps(ranks, count: shape.count), eps: readEps(eps),
                            method: methods[Int(method)], maxIterations: Int(iterations), tolerance: tol, progress: progress)
    }
    return DecompositionHandle(arrays: [t.core] + t.factors,
                               shapes: [t.ranks] + t.shape.indices.map { [t.shape[$0], t.ranks[$0]] }, errors: t.errors)
}

@_cdecl("tn_tucker")
public func tn_tucker(_ dtype: Int32, _ x: UnsafeRawPointer?, _ ranks: UnsafePointer<Int64>?, _ eps: Double,
                      _ method: Int32, _ nIterMax: Int64, _ tol: Double,
                      _ progress: CProgress?, _ context: UnsafeMutableRawPointer?,
                      _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    let x = x?.assumingMemoryBound(to: CTensor.self)
    let handler = progressHandler(progress, context)
    return produce(out, dtype,
                   float32: { try tucker(x, ranks, eps, method, nIterMax, tol, handler, Float.self) },
                   float64: { try tucker(x, ranks, eps, method, nIterMax, tol, handler, Double.self) })
}
