/// An update rule, with PyTorch's definitions (`torch.optim.SGD`, `Adam`, `AdamW`).
public enum OptimizerRule: Sendable, Equatable {
    /// p ← p − lr · d, where g' = g + weightDecay · p and d = g' (no momentum), or
    /// b ← momentum · b + g' (b = g' on the first step) and d = b, or with Nesterov
    /// d = g' + momentum · b.
    case sgd(learningRate: Double, momentum: Double = 0, weightDecay: Double = 0, nesterov: Bool = false)
    /// Adam with L2 weight decay folded into the gradient (g' = g + weightDecay · p).
    case adam(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
              weightDecay: Double = 0)
    /// AdamW: decoupled weight decay, p ← p · (1 − lr · weightDecay) before the Adam step.
    case adamW(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
               weightDecay: Double = 0.01)

    /// - Throws: `TNError.value` for a negative or non-finite learning rate, momentum or
    ///   decay, betas outside [0, 1), a non-positive epsilon, or Nesterov without momentum.
    func validate() throws {
        func check(_ name: String, _ v: Double, _ ok: (Double) -> Bool, _ what: String) throws {
            guard v.isFinite, ok(v) else { throw TNError.value("\(name) must be \(what) (got \(v))") }
        }
        switch self {
        case let .sgd(lr, momentum, decay, nesterov):
            try check("the learning rate", lr, { $0 >= 0 }, "finite and non-negative")
            try check("momentum", momentum, { $0 >= 0 }, "finite and non-negative")
            try check("weight decay", decay, { $0 >= 0 }, "finite and non-negative")
            if nesterov && momentum == 0 { throw TNError.value("Nesterov momentum needs a momentum above 0") }
        case let .adam(lr, b1, b2, eps, decay), let .adamW(lr, b1, b2, eps, decay):
            try check("the learning rate", lr, { $0 >= 0 }, "finite and non-negative")
            try check("beta1", b1, { $0 >= 0 && $0 < 1 }, "in [0, 1)")
            try check("beta2", b2, { $0 >= 0 && $0 < 1 }, "in [0, 1)")
            try check("epsilon", eps, { $0 > 0 }, "positive")
            try check("weight decay", decay, { $0 >= 0 }, "finite and non-negative")
        }
    }
}
