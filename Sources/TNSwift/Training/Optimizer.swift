#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Updates parameters in place from their gradients, keeping per-parameter state (momentum,
/// Adam moments) in its own buffers.
///
/// It is built for a fixed list of parameter sizes; each `step` passes the parameter and
/// gradient buffers in the same order (typically every layer's `parameter(i)` and
/// `gradient(i)`, which live as long as their layers).
public final class Optimizer<T: BLASScalar> {
    /// The rule; `learningRate` can be changed between steps (schedules).
    public private(set) var rule: OptimizerRule
    /// The element count of each parameter, as given at creation.
    public let sizes: [Int]
    /// Steps taken so far.
    public private(set) var steps = 0
    private let first: [Workspace<T>]
    private let second: [Workspace<T>]

    /// - Throws: `TNError.value` for an invalid rule or a negative size; `TNError.memory`
    ///   when the state cannot be allocated.
    public init(_ rule: OptimizerRule, sizes: [Int]) throws {
        try rule.validate()
        guard sizes.allSatisfy({ $0 >= 0 }) else { throw TNError.value("parameter sizes must be non-negative (got \(sizes))") }
        self.rule = rule
        self.sizes = sizes
        let needsFirst: Bool, needsSecond: Bool
        switch rule {
        case let .sgd(_, momentum, _, _): needsFirst = momentum > 0; needsSecond = false
        case .adam, .adamW: needsFirst = true; needsSecond = true
        }
        first = try sizes.map { try Workspace<T>(count: needsFirst ? $0 : 0) }
        second = try sizes.map { try Workspace<T>(count: needsSecond ? $0 : 0) }
        for w in first + second { w.pointer.initialize(repeating: 0, count: w.count) }
    }

    /// The learning rate of the rule.
    public var learningRate: Double {
        get {
            switch rule {
            case let .sgd(lr, _, _, _), let .adam(lr, _, _, _, _), let .adamW(lr, _, _, _, _): return lr
            }
        }
    }

    /// Sets the learning rate (finite, ≥ 0) for the following steps.
    /// - Throws: `TNError.value` for a negative or non-finite rate.
    public func setLearningRate(_ lr: Double) throws {
        var r = rule
        switch rule {
        case let .sgd(_, m, d, n): r = .sgd(learningRate: lr, momentum: m, weightDecay: d, nesterov: n)
        case let .adam(_, b1, b2, e, d): r = .adam(learningRate: lr, beta1: b1, beta2: b2, epsilon: e, weightDecay: d)
        case let .adamW(_, b1, b2, e, d): r = .adamW(learningRate: lr, beta1: b1, beta2: b2, epsilon: e, weightDecay: d)
        }
        try r.validate()
        rule = r
    }

    /// One update of every parameter from its gradient.
    /// - Parameters:
    ///   - parameters / gradients: one buffer of `sizes[i]` elements each, in creation order.
    /// - Throws: `TNError.shape` when the counts or sizes differ from creation; `TNError.value`
    ///   when a gradient has a NaN or an infinity (nothing is updated then).
    /// - Complexity: O(Σ sizes).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func step(parameters: [UnsafeMutableBufferPointer<T>], gradients: [UnsafeBufferPointer<T>]) throws {
        guard parameters.count == sizes.count, gradients.count == sizes.count else {
            throw TNError.shape("the optimizer was made for \(sizes.count) parameters but got \(parameters.count) parameters and \(gradients.count) gradients")
        }
        for i in sizes.indices where parameters[i].count != sizes[i] || gradients[i].count != sizes[i] {
            throw TNError.shape("parameter \(i) has \(parameters[i].count) values and its gradient \(gradients[i].count); the optimizer expects \(sizes[i])")
        }
        for (i, g) in gradients.enumerated() where g.contains(where: { !$0.isFinite }) {
            throw TNError.value("the gradient of parameter \(i) has a NaN or an infinity; no parameter was updated")
        }
        steps += 1
        for i in sizes.indices {
            guard let p = parameters[i].baseAddress, let g = gradients[i].baseAddress else { continue }
            update(p, g, first[i].pointer, second[i].pointer, count: sizes[i])
        }
    }

    private func update(_ p: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ m: UnsafeMutablePointer<T>,
                        _ v: UnsafeMutablePointer<T>, count: Int) {
        switch rule {
        case let .sgd(lr, momentum, decay, nesterov):
            let (lr, mu, wd) = (T(lr), T(momentum), T(decay))
            for j in 0..<count {
                var d = g[j] + wd * p[j]
                if momentum > 0 {
                    m[j] = steps == 1 ? d : mu * m[j] + d
                    d = nesterov ? d + mu * m[j] : m[j]
                }
                p[j] -= lr * d
            }
        case let .adam(lr, b1, b2, eps, decay), let .adamW(lr, b1, b2, eps, decay):
            let decoupled: Bool
            if case .adamW = rule { decoupled = true } else { decoupled = false }
            let c1 = 1 - pow(b1, Double(steps)), c2 = 1 - pow(b2, Double(steps))
            let (tb1, tb2, teps) = (T(b1), T(b2), T(eps))
            let stepSize = T(lr / c1), root2 = T(c2.squareRoot())
            let shrink = T(1 - lr * decay), wd = T(decay)
            for j in 0..<count {
                var grad = g[j]
                if decoupled { p[j] *= shrink } else { grad += wd * p[j] }
                m[j] = tb1 * m[j] + (1 - tb1) * grad
                v[j] = tb2 * v[j] + (1 - tb2) * grad * grad
                // PyTorch: p -= lr / c1 · m / (√v / √c2 + eps)
                p[j] -= stepSize * m[j] / (v[j].squareRoot() / root2 + teps)
            }
        }
    }
}
