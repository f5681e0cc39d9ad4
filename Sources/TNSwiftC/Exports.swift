#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TNSwift

// The C ABI (include/tnswift.h). Every entry point validates its pointers, runs inside
// ErrorState.guarded, and returns a tn_status; nothing a caller passes may trap.

private let maxDims = 64

func readShape(_ ndim: Int64, _ shape: UnsafePointer<Int64>?, what: @autoclosure () -> String) throws -> [Int] {
    guard ndim >= 0, ndim <= Int64(maxDims) else {
        throw TNError.shape("\(what()) has \(ndim) dimensions; 0 to \(maxDims) are supported")
    }
    if ndim == 0 { return [] }
    guard let shape else { throw ABIError.null("the shape of \(what())") }
    let dims = (0..<Int(ndim)).map { Int(shape[$0]) }
    if let bad = dims.firstIndex(where: { $0 < 0 }) {
        throw TNError.shape("\(what()) has a negative size \(dims[bad]) in dimension \(bad)")
    }
    return dims
}

func readView<T: BLASScalar>(_ t: CTensor, what: @autoclosure () -> String) throws -> StridedView<T> {
    let shape = try readShape(t.ndim, t.shape, what: what())
    let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
    guard count < Int.max / 16 else { throw TNError.memory("the size of \(what()) overflows") }
    guard let data = t.data else {
        if count == 0 { return StridedView(contiguous: UnsafeMutablePointer<T>(bitPattern: MemoryLayout<T>.alignment)!, shape: shape) }
        throw ABIError.null("the data of \(what())")
    }
    let strides = t.strides.map { s in (0..<shape.count).map { Int(s[$0]) } } ?? StridedView<T>.contiguousStrides(shape)
    return try StridedView(base: data.assumingMemoryBound(to: T.self), shape: shape, strides: strides)
}

private func readViews<T: BLASScalar>(_ p: UnsafePointer<CTensor>?, count: Int, what: String) throws -> [StridedView<T>] {
    guard count == 0 || p != nil else { throw ABIError.null(what) }
    return try (0..<count).map { try readView(p![$0], what: "\(what) \($0)") }
}

func readDType(_ d: Int32) throws -> DType {
    guard let t = DType(rawValue: Int(d)) else {
        throw TNError.dtype("dtype \(d) is not supported; accepted: TN_FLOAT32 (0), TN_FLOAT64 (1)")
    }
    return t
}

private func readOptions(_ o: UnsafePointer<CPlanOptions>?) throws -> (PathStrategy, Int?) {
    guard let o = o?.pointee else { return (.auto, nil) }
    let strategies: [PathStrategy] = [.auto, .optimal, .greedy, .none]
    guard o.optimize >= 0, Int(o.optimize) < strategies.count else {
        throw TNError.value("optimize \(o.optimize) is not a tn_optimize value (0-3)")
    }
    return (strategies[Int(o.optimize)], o.memoryLimit > 0 ? Int(o.memoryLimit) : nil)
}

private func readShapes(_ n: Int64, _ ndims: UnsafePointer<Int64>?, _ shapes: UnsafePointer<UnsafePointer<Int64>?>?) throws -> [[Int]] {
    guard n >= 1 else { throw TNError.shape("at least one operand is needed (got \(n))") }
    guard n <= 1024 else { throw TNError.shape("\(n) operands; at most 1024 are supported") }
    guard let ndims else { throw ABIError.null("ndims") }
    guard let shapes else { throw ABIError.null("shapes") }
    return try (0..<Int(n)).map { try readShape(ndims[$0], shapes[$0], what: "operand \($0)") }
}

private func makePlan(_ e: () throws -> EinsumExpression, shapes: [[Int]], dtype: DType,
                      options: UnsafePointer<CPlanOptions>?) throws -> PlanHandle {
    let (strategy, limit) = try readOptions(options)
    let expression = try e()
    switch dtype {
    case .float32: return PlanHandle(.float32(try ContractionPlan<Float>(expression: expression, shapes: shapes, strategy: strategy, memoryLimit: limit)))
    case .float64: return PlanHandle(.float64(try ContractionPlan<Double>(expression: expression, shapes: shapes, strategy: strategy, memoryLimit: limit)))
    }
}

@_cdecl("tn_abi_version")
public func tn_abi_version() -> UInt32 { abiVersion }

@_cdecl("tn_last_error")
public func tn_last_error() -> UnsafePointer<CChar> { ErrorState.message }

private let versionString = UnsafePointer(strdup(libraryVersion)!)
nonisolated(unsafe) private let blasString = UnsafePointer(strdup(ThreadSettings.blasConfig)!)

@_cdecl("tn_version")
public func tn_version(_ version: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ blas: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    ErrorState.guarded {
        version?.pointee = versionString
        blas?.pointee = blasString
    }
}

@_cdecl("tn_plan_create")
public func tn_plan_create(_ subscripts: UnsafePointer<CChar>?, _ n: Int64, _ ndims: UnsafePointer<Int64>?,
                           _ shapes: UnsafePointer<UnsafePointer<Int64>?>?, _ dtype: Int32,
                           _ options: UnsafeRawPointer?, _ plan: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let plan else { throw ABIError.null("the plan output pointer") }
        plan.pointee = nil
        guard let subscripts else { throw ABIError.null("subscripts") }
        let s = try readShapes(n, ndims, shapes)
        let text = String(cString: subscripts)
        let handle = try makePlan({ try EinsumParser.parse(text, ndims: s.map(\.count)) }, shapes: s,
                                  dtype: try readDType(dtype), options: options?.assumingMemoryBound(to: CPlanOptions.self))
        plan.pointee = handle.register()
    }
}

@_cdecl("tn_plan_create_ncon")
public func tn_plan_create_ncon(_ n: Int64, _ ndims: UnsafePointer<Int64>?, _ shapes: UnsafePointer<UnsafePointer<Int64>?>?,
                                _ labels: UnsafePointer<UnsafePointer<Int64>?>?, _ dtype: Int32,
                                _ options: UnsafeRawPointer?, _ plan: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        guard let plan else { throw ABIError.null("the plan output pointer") }
        plan.pointee = nil
        let s = try readShapes(n, ndims, shapes)
        guard let labels else { throw ABIError.null("labels") }
        let ls: [[Int]] = try s.enumerated().map { i, shape in
            if shape.isEmpty { return [] }
            guard let l = labels[i] else { throw ABIError.null("labels of tensor \(i)") }
            return (0..<shape.count).map { Int(l[$0]) }
        }
        let handle = try makePlan({ try NconNetwork.expression(labels: ls, ndims: s.map(\.count)) }, shapes: s,
                                  dtype: try readDType(dtype), options: options?.assumingMemoryBound(to: CPlanOptions.self))
        plan.pointee = handle.register()
    }
}

@_cdecl("tn_plan_destroy")
public func tn_plan_destroy(_ plan: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { try PlanHandle.destroy(plan) }
}

/// Facts every plan answers, whatever its dtype (cheap: the report text is built separately).
private struct PlanFacts {
    var path: ContractionPath
    var outputShape: [Int]
    var largest: Int
    var operandCount: Int
}

private func facts(_ h: PlanHandle) -> PlanFacts {
    switch h.plan {
    case .float32(let p): return PlanFacts(path: p.path, outputShape: p.outputShape, largest: p.largestIntermediate, operandCount: p.shapes.count)
    case .float64(let p): return PlanFacts(path: p.path, outputShape: p.outputShape, largest: p.largestIntermediate, operandCount: p.shapes.count)
    }
}

private func report(_ h: PlanHandle) -> String {
    switch h.plan {
    case .float32(let p): return p.report
    case .float64(let p): return p.report
    }
}

@_cdecl("tn_plan_info_get")
public func tn_plan_info_get(_ plan: UnsafeRawPointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try PlanHandle.lookup(plan)
        guard let info else { throw ABIError.null("info") }
        let f = facts(h)
        info.assumingMemoryBound(to: CPlanInfo.self).pointee = CPlanInfo(
            naiveFlops: f.path.naiveFlops, optFlops: f.path.optimizedFlops, largestIntermediate: Int64(f.largest),
            nSteps: Int64(f.path.positionalSteps.count), nOperands: Int64(f.operandCount), outNdim: Int64(f.outputShape.count))
    }
}

@_cdecl("tn_plan_output_shape")
public func tn_plan_output_shape(_ plan: UnsafeRawPointer?, _ shape: UnsafeMutablePointer<Int64>?, _ cap: Int64) -> Int32 {
    ErrorState.guarded {
        let s = facts(try PlanHandle.lookup(plan)).outputShape
        guard cap >= Int64(s.count) else { throw TNError.value("capacity \(cap) is less than the output's \(s.count) dimensions") }
        guard s.isEmpty || shape != nil else { throw ABIError.null("shape") }
        for (i, d) in s.enumerated() { shape![i] = Int64(d) }
    }
}

@_cdecl("tn_plan_path")
public func tn_plan_path(_ plan: UnsafeRawPointer?, _ pairs: UnsafeMutablePointer<Int64>?, _ cap: Int64) -> Int32 {
    ErrorState.guarded {
        let steps = facts(try PlanHandle.lookup(plan)).path.positionalSteps
        guard cap >= Int64(2 * steps.count) else { throw TNError.value("capacity \(cap) is less than the path's \(2 * steps.count) entries") }
        guard steps.isEmpty || pairs != nil else { throw ABIError.null("pairs") }
        for (s, (i, j)) in steps.enumerated() { pairs![2 * s] = Int64(i); pairs![2 * s + 1] = Int64(j) }
    }
}

@_cdecl("tn_plan_report")
public func tn_plan_report(_ plan: UnsafeRawPointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ cap: Int, _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    ErrorState.guarded {
        try writeText(report(try PlanHandle.lookup(plan)), buffer, cap, needed)
    }
}

@_cdecl("tn_plan_execute")
public func tn_plan_execute(_ plan: UnsafeMutableRawPointer?, _ operands: UnsafeRawPointer?, _ out: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try PlanHandle.lookup(plan)
        guard let out else { throw ABIError.null("out") }
        let ops = operands?.assumingMemoryBound(to: CTensor.self)
        let outDescriptor = out.assumingMemoryBound(to: CTensor.self)
        let o = outDescriptor.pointee
        // Repeated calls with the same shapes and strides skip building views.
        switch h.plan {
        case .float32(let p):
            if let ops, try p.executeIfRepeated(ops, outDescriptor) { return }
            try p.execute(try readViews(ops, count: p.shapes.count, what: "operand"), into: try readView(o, what: "out"))
        case .float64(let p):
            if let ops, try p.executeIfRepeated(ops, outDescriptor) { return }
            try p.execute(try readViews(ops, count: p.shapes.count, what: "operand"), into: try readView(o, what: "out"))
        }
    }
}

private func runBackward<T: BLASScalar>(_ p: ContractionPlan<T>, _ dy: CTensor, _ ops: UnsafePointer<CTensor>?, _ grads: UnsafePointer<CTensor>?) throws {
    guard let grads else { throw ABIError.null("grads") }
    let n = p.shapes.count
    let g: [StridedView<T>?] = try (0..<n).map { grads[$0].data == nil ? nil : try readView(grads[$0], what: "gradient \($0)") }
    try p.backward(dy: try readView(dy, what: "dy"), operands: try readViews(ops, count: n, what: "operand"), grads: g)
}

@_cdecl("tn_plan_backward")
public func tn_plan_backward(_ plan: UnsafeMutableRawPointer?, _ dy: UnsafeRawPointer?, _ operands: UnsafeRawPointer?, _ grads: UnsafeRawPointer?) -> Int32 {
    ErrorState.guarded {
        let h = try PlanHandle.lookup(plan)
        guard let dy else { throw ABIError.null("dy") }
        let d = dy.assumingMemoryBound(to: CTensor.self).pointee
        let ops = operands?.assumingMemoryBound(to: CTensor.self)
        let gs = grads?.assumingMemoryBound(to: CTensor.self)
        switch h.plan {
        case .float32(let p): try runBackward(p, d, ops, gs)
        case .float64(let p): try runBackward(p, d, ops, gs)
        }
    }
}

@_cdecl("tn_einsum")
public func tn_einsum(_ subscripts: UnsafePointer<CChar>?, _ n: Int64, _ operands: UnsafeRawPointer?, _ dtype: Int32,
                      _ options: UnsafeRawPointer?, _ out: UnsafeRawPointer?) -> Int32 {
    var status: Int32 = 0
    var plan: UnsafeMutableRawPointer? = nil
    status = ErrorState.guarded {
        guard n >= 1, n <= 1024 else { throw TNError.shape("at least one and at most 1024 operands are needed (got \(n))") }
        guard let operands else { throw ABIError.null("operands") }
        let ops = operands.assumingMemoryBound(to: CTensor.self)
        var ndims = (0..<Int(n)).map { ops[$0].ndim }
        var shapes: [UnsafePointer<Int64>?] = (0..<Int(n)).map { ops[$0].shape }
        let s = ndims.withUnsafeMutableBufferPointer { nd in
            shapes.withUnsafeMutableBufferPointer { sh in
                tn_plan_create(subscripts, n, nd.baseAddress, UnsafePointer(sh.baseAddress), dtype, options, &plan)
            }
        }
        guard s == Status.ok.rawValue else { throw ABIError(status: Status(rawValue: s) ?? .internalError, message: String(cString: ErrorState.message)) }
    }
    guard status == Status.ok.rawValue else { return status }
    status = tn_plan_execute(plan, operands, out)
    let message = status == 0 ? nil : String(cString: ErrorState.message)
    _ = tn_plan_destroy(plan)
    if let message { ErrorState.set(message) }
    return status
}

/// `tn_interrupt_check_set`: the calling thread's interrupt check (NULL removes it).
@_cdecl("tn_interrupt_check_set")
public func tn_interrupt_check_set(_ check: InterruptCheck.Function?, _ context: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { InterruptCheck.install(check, context: context) }
}

@_cdecl("tn_set_num_threads")
public func tn_set_num_threads(_ n: Int64, _ previous: UnsafeMutablePointer<Int64>?) -> Int32 {
    ErrorState.guarded {
        let old = ThreadSettings.setThreads(Int(n))
        previous?.pointee = Int64(old)
    }
}

@_cdecl("tn_plan_last_operand_address")
public func tn_plan_last_operand_address(_ plan: UnsafeRawPointer?, _ i: Int64, _ address: UnsafeMutablePointer<UInt>?) -> Int32 {
    ErrorState.guarded {
        let h = try PlanHandle.lookup(plan)
        guard let address else { throw ABIError.null("address") }
        switch h.plan {
        case .float32(let p):
            guard i >= 0, Int(i) < p.shapes.count else { throw TNError.value("operand index \(i) is out of range 0..<\(p.shapes.count)") }
            address.pointee = p.lastOperandAddress(Int(i))
        case .float64(let p):
            guard i >= 0, Int(i) < p.shapes.count else { throw TNError.value("operand index \(i) is out of range 0..<\(p.shapes.count)") }
            address.pointee = p.lastOperandAddress(Int(i))
        }
    }
}
