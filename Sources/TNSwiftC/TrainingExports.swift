import TNSwift

/// `tn_activation` → `Activation`.
func readActivation(_ a: Int32) throws -> Activation {
    switch a {
    case 0: return .identity
    case 1: return .relu
    case 2: return .gelu
    case 3: return .tanh
    case 4: return .sigmoid
    default: throw TNError.value("activation \(a) is unknown; valid: TN_ACT_IDENTITY (0) to TN_ACT_SIGMOID (4)")
    }
}

/// `Activation` → `tn_activation`.
func activationCode(_ a: Activation) -> Int32 {
    switch a {
    case .identity: return 0
    case .relu: return 1
    case .gelu: return 2
    case .tanh: return 3
    case .sigmoid: return 4
    }
}

/// Checks a count and the pointers a kernel will read or write (NULL only when count is 0).
private func checkBuffers(_ count: Int64, _ buffers: [(UnsafeRawPointer?, String)]) throws -> Int {
    guard count >= 0 else { throw TNError.value("the element count must be non-negative (got \(count))") }
    if count > 0 { for (p, name) in buffers where p == nil { throw ABIError.null(name) } }
    return Int(count)
}

@_cdecl("tn_activation_forward")
public func tn_activation_forward(_ act: Int32, _ dtype: Int32, _ count: Int64, _ x: UnsafeRawPointer?,
                                  _ y: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let a = try readActivation(act), t = try readDType(dtype)
        let n = try checkBuffers(count, [(x, "x"), (y.map { UnsafeRawPointer($0) }, "y")])
        guard n > 0, let x, let y else { return }
        switch t {
        case .float32: a.forward(x.assumingMemoryBound(to: Float.self), into: y.assumingMemoryBound(to: Float.self), count: n)
        case .float64: a.forward(x.assumingMemoryBound(to: Double.self), into: y.assumingMemoryBound(to: Double.self), count: n)
        }
    }
}

@_cdecl("tn_activation_backward")
public func tn_activation_backward(_ act: Int32, _ dtype: Int32, _ count: Int64, _ x: UnsafeRawPointer?,
                                   _ dy: UnsafeRawPointer?, _ dx: UnsafeMutableRawPointer?) -> Int32 {
    ErrorState.guarded {
        let a = try readActivation(act), t = try readDType(dtype)
        let n = try checkBuffers(count, [(x, "x"), (dy, "dy"), (dx.map { UnsafeRawPointer($0) }, "dx")])
        guard n > 0, let x, let dy, let dx else { return }
        switch t {
        case .float32:
            a.backward(input: x.assumingMemoryBound(to: Float.self), gradient: dy.assumingMemoryBound(to: Float.self),
                       into: dx.assumingMemoryBound(to: Float.self), count: n)
        case .float64:
            a.backward(input: x.assumingMemoryBound(to: Double.self), gradient: dy.assumingMemoryBound(to: Double.self),
                       into: dx.assumingMemoryBound(to: Double.self), count: n)
        }
    }
}

@_cdecl("tn_loss_cross_entropy")
public func tn_loss_cross_entropy(_ dtype: Int32, _ batch: Int64, _ classes: Int64, _ logits: UnsafeRawPointer?,
                                  _ labels: UnsafePointer<Int32>?, _ grad: UnsafeMutableRawPointer?,
                                  _ loss: UnsafeMutablePointer<Double>?) -> Int32 {
    ErrorState.guarded {
        let t = try readDType(dtype)
        guard let loss else { throw ABIError.null("loss") }
        guard batch >= 1, classes >= 1 else { throw TNError.shape("cross-entropy needs a batch and classes of at least 1 (got \(batch)×\(classes))") }
        let (total, overflow) = batch.multipliedReportingOverflow(by: classes)
        guard !overflow, total <= Int64(Int.max / 8) else { throw TNError.memory("\(batch)×\(classes) logits overflow") }
        guard let logits else { throw ABIError.null("logits") }
        guard let labels else { throw ABIError.null("labels") }
        switch t {
        case .float32:
            loss.pointee = try Loss.softmaxCrossEntropy(logits: logits.assumingMemoryBound(to: Float.self), labels: labels,
                                                        batch: Int(batch), classes: Int(classes),
                                                        gradient: grad?.assumingMemoryBound(to: Float.self))
        case .float64:
            loss.pointee = try Loss.softmaxCrossEntropy(logits: logits.assumingMemoryBound(to: Double.self), labels: labels,
                                                        batch: Int(batch), classes: Int(classes),
                                                        gradient: grad?.assumingMemoryBound(to: Double.self))
        }
    }
}

@_cdecl("tn_loss_mse")
public func tn_loss_mse(_ dtype: Int32, _ count: Int64, _ pred: UnsafeRawPointer?, _ target: UnsafeRawPointer?,
                        _ grad: UnsafeMutableRawPointer?, _ loss: UnsafeMutablePointer<Double>?) -> Int32 {
    ErrorState.guarded {
        let t = try readDType(dtype)
        guard let loss else { throw ABIError.null("loss") }
        guard count >= 1 else { throw TNError.shape("mean squared error needs at least one element (got \(count))") }
        guard let pred else { throw ABIError.null("pred") }
        guard let target else { throw ABIError.null("target") }
        switch t {
        case .float32:
            loss.pointee = try Loss.meanSquaredError(prediction: pred.assumingMemoryBound(to: Float.self),
                                                     target: target.assumingMemoryBound(to: Float.self), count: Int(count),
                                                     gradient: grad?.assumingMemoryBound(to: Float.self))
        case .float64:
            loss.pointee = try Loss.meanSquaredError(prediction: pred.assumingMemoryBound(to: Double.self),
                                                     target: target.assumingMemoryBound(to: Double.self), count: Int(count),
                                                     gradient: grad?.assumingMemoryBound(to: Double.self))
        }
    }
}
