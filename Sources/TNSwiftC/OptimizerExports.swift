import TNSwift

/// `tn_optimizer_config` as laid out in tnswift.h.
struct COptimizerConfig {
    var kind: Int32
    var dtype: Int32
    var learningRate: Double
    var momentum: Double
    var nesterov: Int32
    var reserved: Int32
    var beta1: Double
    var beta2: Double
    var epsilon: Double
    var weightDecay: Double
}

@_cdecl("tn_optimizer_create")
public func tn_optimizer_create(_ config: UnsafeRawPointer?, _ n: Int64, _ sizes: UnsafePointer<Int64>?,
                                _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    out?.pointee = nil
    return ErrorState.guarded {
        guard let config else { throw ABIError.null("config") }
        guard let out else { throw ABIError.null("optimizer") }
        guard n >= 0, n <= 1 << 20 else { throw TNError.value("an optimizer takes 0 to 1048576 parameters (got \(n))") }
        guard n == 0 || sizes != nil else { throw ABIError.null("sizes") }
        let counts = (0..<Int(n)).map { Int(sizes![$0]) }
        let c = config.assumingMemoryBound(to: COptimizerConfig.self).pointee
        let rule: OptimizerRule
        switch c.kind {
        case 0: rule = .sgd(learningRate: c.learningRate, momentum: c.momentum, weightDecay: c.weightDecay, nesterov: c.nesterov != 0)
        case 1: rule = .adam(learningRate: c.learningRate, beta1: c.beta1, beta2: c.beta2, epsilon: c.epsilon, weightDecay: c.weightDecay)
        case 2: rule = .adamW(learningRate: c.learningRate, beta1: c.beta1, beta2: c.beta2, epsilon: c.epsilon, weightDecay: c.weightDecay)
        default: throw TNError.value("optimizer kind \(c.kind) is unknown; valid: TN_OPT_SGD (0), TN_OPT_ADAM (1), TN_OPT_ADAMW (2)")
        }
        let handle: OptimizerHandle
        switch try readDType(c.dtype) {
        case .float32: handle = OptimizerHandle(.float32(try Optimizer<Float>(rule, sizes: counts)))
        case .float64: handle = OptimizerHandle(.float64(try Optimizer<Double>(rule, sizes: counts)))
        }
        out.pointee = handle.register()
    }
}

@_cdecl("tn_optimizer_destroy")
public func tn_optimizer_destroy(_ optimizer: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded { try OptimizerHandle.destroy(optimizer) }
}

/// One step over raw buffers: each params[i] / grads[i] holds sizes[i] elements.
private func step<T: BLASScalar>(_ o: Optimizer<T>, _ n: Int64, _ params: UnsafePointer<UnsafeMutableRawPointer?>?,
                                 _ grads: UnsafePointer<UnsafeRawPointer?>?) throws {
    guard n == Int64(o.sizes.count) else {
        throw TNError.shape("the optimizer was made for \(o.sizes.count) parameters but \(n) were given")
    }
    guard n == 0 || (params != nil && grads != nil) else { throw ABIError.null("params or grads") }
    var p: [UnsafeMutableBufferPointer<T>] = []
    var g: [UnsafeBufferPointer<T>] = []
    for i in 0..<Int(n) {
        let size = o.sizes[i]
        guard size == 0 || (params![i] != nil && grads![i] != nil) else { throw ABIError.null("params[\(i)] or grads[\(i)]") }
        p.append(UnsafeMutableBufferPointer(start: params![i]?.assumingMemoryBound(to: T.self), count: size))
        g.append(UnsafeBufferPointer(start: grads![i]?.assumingMemoryBound(to: T.self), count: size))
    }
    try o.step(parameters: p, gradients: g)
}

@_cdecl("tn_optimizer_step")
public func tn_optimizer_step(_ optimizer: UnsafeMutableRawPointer?, _ n: Int64,
                              _ params: UnsafePointer<UnsafeMutableRawPointer?>?, _ grads: UnsafePointer<UnsafeRawPointer?>?) -> Int32 {
    ErrorState.guarded {
        switch try OptimizerHandle.lookup(optimizer).optimizer {
        case .float32(let o): try step(o, n, params, grads)
        case .float64(let o): try step(o, n, params, grads)
        }
    }
}

@_cdecl("tn_optimizer_set_learning_rate")
public func tn_optimizer_set_learning_rate(_ optimizer: UnsafeMutableRawPointer?, _ lr: Double) -> Int32 {
    ErrorState.guarded {
        switch try OptimizerHandle.lookup(optimizer).optimizer {
        case .float32(let o): try o.setLearningRate(lr)
        case .float64(let o): try o.setLearningRate(lr)
        }
    }
}
