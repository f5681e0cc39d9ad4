extension TuckerTensor {
    /// Tucker decomposition of the C-contiguous tensor at `values` by HOSVD or HOOI.
    ///
    /// HOSVD takes factor k from the leading left singular vectors of the mode-k unfolding
    /// and the core as X ×_1 U_1ᵀ ⋯ ×_d U_dᵀ. With `eps`, each mode discards singular values
    /// whose squares sum to at most eps² · ‖X‖² / d, so ‖X − X̂‖_F ≤ eps · ‖X‖_F; `ranks` then
    /// caps each mode and wins over eps. HOOI starts from HOSVD and replaces each factor in
    /// turn by the leading left singular vectors of X contracted with all other factors (two
    /// passes over X per iteration, see `SweepContractions`), which never increases the error,
    /// so the eps guarantee still holds. It stops after `maxIterations` or when the
    /// relative error, ‖X‖² − ‖G‖² under orthonormal factors, changes by less than
    /// `tolerance`. When eps chooses ranks with r_k above the product of the other ranks
    /// (a rank HOOI cannot keep), HOSVD's result is returned.
    /// - Parameters:
    ///   - values: Π shape values, C order; only read.
    ///   - shape: order 1 to 26, every mode at least 1.
    ///   - ranks: one rank per mode, 1 ≤ r_k ≤ n_k and r_k ≤ Π_{j≠k} r_j; nil to let eps choose.
    ///   - eps: the relative Frobenius tolerance, finite and ≥ 0; nil for none (then `ranks`
    ///     is required).
    ///   - method: `.hooi` (default) or `.hosvd`.
    ///   - maxIterations: HOOI iterations at most (≥ 0).
    ///   - tolerance: HOOI stops when the error changes by less than this (≥ 0).
    ///   - progress: called after HOSVD (step 0 is not reported) and after each HOOI
    ///     iteration with the relative error; false stops with `TNError.interrupted`.
    /// - Throws: `TNError.shape` for an order outside 1…26, a mode below 1, or a rank list of
    ///   the wrong length; `TNError.value` for neither ranks nor eps, a rank outside its
    ///   bounds, a bad eps, negative `maxIterations`, a negative or non-finite tolerance, or a
    ///   NaN or infinity in the tensor; `TNError.memory` when a buffer cannot be allocated;
    ///   `TNError.interrupted` when `progress` returns false.
    /// - Complexity: HOSVD O(Σ_k n_k · Π shape); each HOOI iteration about
    ///   2 · Π shape · (r_1 + r_d) operations for the two contractions with the full tensor,
    ///   plus smaller ones.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(decomposing values: UnsafePointer<T>, shape: [Int], ranks: [Int]? = nil, eps: Double? = nil,
                method: TuckerMethod = .hooi, maxIterations: Int = 100, tolerance: Double = 1e-8,
                progress: DecompositionProgressHandler? = nil) throws {
        self = try TuckerTensor.decompose(values, shape: shape, ranks: ranks, eps: eps, method: method,
                                          maxIterations: maxIterations, tolerance: tolerance, progress: progress)
    }

    static func decompose(_ values: UnsafePointer<T>, shape: [Int], ranks requested: [Int]?, eps: Double?,
                          method: TuckerMethod, maxIterations: Int, tolerance: Double,
                          progress: DecompositionProgressHandler?) throws -> TuckerTensor<T> {
        let d = shape.count
        let letters = try ModeKernels.labels(d, operation: "Tucker")
        for (k, n) in shape.enumerated() where n < 1 {
            throw TNError.shape("mode \(k) of the shape \(shape) has size \(n); Tucker modes must be at least 1")
        }
        let total = try checkedProduct(shape, what: "a tensor of shape \(shape)")
        if let ranks = requested {
            guard ranks.count == d else {
                throw TNError.shape("a Tucker decomposition of shape \(shape) needs \(d) ranks (one per mode) but \(ranks.count) were given")
            }
            for k in 0..<d {
                guard ranks[k] >= 1, ranks[k] <= shape[k] else {
                    throw TNError.value("the Tucker rank of mode \(k) must be between 1 and the mode size \(shape[k]) (got \(ranks[k]))")
                }
                let others = ranks.enumerated().reduce(1) { $1.offset == k ? $0 : $0 * $1.element }
                guard ranks[k] <= others else {
                    throw TNError.value("the Tucker rank \(ranks[k]) of mode \(k) exceeds the product of the other ranks (\(others)), which bounds it; use at most \(others)")
                }
            }
        }
        guard requested != nil || eps != nil else { throw TNError.value("Tucker needs ranks, eps, or both") }
        try TTTensor<T>.checkEps(eps)
        try ModeKernels.checkIterations(maxIterations, tolerance: tolerance)
        let normSquared = try ModeKernels.finiteSquaredNorm(values, count: total, operation: "Tucker")
        let relativeError = { (core: [T]) -> Double in
            let kept = core.withUnsafeBufferPointer { TTKernels.squaredNorm($0) }
            return normSquared == 0 ? 0 : (Swift.max(normSquared - kept, 0) / normSquared).squareRoot()
        }

        // HOSVD.
        let budget = eps.map { $0 * $0 * normSquared / Double(d) }
        var factors: [[T]] = []
        var ranks: [Int] = []
        for k in 0..<d {
            let (u, kept, _) = try ModeKernels.leadingLeftSingularVectors(values, shape: shape, mode: k, maxRank: requested?[k],
                                                                          squaredErrorBudget: budget, relativeTolerance: eps)
            factors.append(u)
            ranks.append(kept)
        }
        let projection = (0..<d).map { String([letters[$0], ModeKernels.rankLabel($0)]) }
        let corePlan: ContractionPlan<T> = try ModeKernels.plan(([String(letters)] + projection).joined(separator: ",") + "->"
                                                                + String((0..<d).map(ModeKernels.rankLabel)),
                                                                [shape] + (0..<d).map { [shape[$0], ranks[$0]] })
        var core = [T](repeating: 0, count: ranks.reduce(1, *))
        try ModeKernels.withPointers(factors) { pointers in
            try core.withUnsafeMutableBufferPointer { try ModeKernels.run(corePlan, [values] + pointers, into: $0.baseAddress!) }
        }
        var errors = [relativeError(core)]
        let hooiKeepsRanks = (0..<d).allSatisfy { k in ranks[k] <= ranks.enumerated().reduce(1) { $1.offset == k ? $0 : $0 * $1.element } }
        if method == .hosvd || d == 1 || maxIterations == 0 || !hooiKeepsRanks || normSquared == 0 {
            return TuckerTensor(unchecked: core, ranks: ranks, factors: factors, shape: shape, errors: errors)
        }

        // HOOI. Mode n is updated from X ×_d U_d or X ×_1 U_1 (`SweepContractions`), reduced
        // against the other factors with mode n first, so the result is already the unfolding
        // whose leading left singular vectors are the new U_n.
        let rankLabels = (0..<d).map(ModeKernels.rankLabel)
        let x = String(letters)
        let lastLabels = String(letters[0..<(d - 1)]) + String(rankLabels[d - 1])
        let firstLabels = String(letters[1...]) + String(rankLabels[0])
        let contractions = try SweepContractions(
            values: values, order: d,
            lastPlan: try ModeKernels.plan("\(x),\(projection[d - 1])->\(lastLabels)", [shape, [shape[d - 1], ranks[d - 1]]]),
            firstPlan: try ModeKernels.plan("\(x),\(projection[0])->\(firstLabels)", [shape, [shape[0], ranks[0]]]))
        let unfoldingLabels = { (n: Int) in String(letters[n]) + String((0..<d).filter { $0 != n }.map { rankLabels[$0] }) }
        let unfoldingShape = { (n: Int) in [shape[n]] + (0..<d).filter { $0 != n }.map { ranks[$0] } }
        // Reductions by (mode, side), planned when first needed; nil when nothing is left to reduce.
        var reductions: [Int: (plan: ContractionPlan<T>, others: [Int])] = [:]
        func reduction(_ n: Int, _ side: SweepContractions<T>.Side) throws -> (plan: ContractionPlan<T>, others: [Int])? {
            let key = 2 * n + (side == .last ? 0 : 1)
            if let r = reductions[key] { return r }
            let (inputLabels, inputShape, kept) = side == .first
                ? (firstLabels, Array(shape[1...]) + [ranks[0]], Array(1..<d))
                : (lastLabels, Array(shape[0..<(d - 1)]) + [ranks[d - 1]], Array(0..<(d - 1)))
            let others = kept.filter { $0 != n }
            if others.isEmpty { return nil }
            let plan: ContractionPlan<T> = try ModeKernels.plan(
                ([inputLabels] + others.map { projection[$0] }).joined(separator: ",") + "->" + unfoldingLabels(n),
                [inputShape] + others.map { [shape[$0], ranks[$0]] })
            reductions[key] = (plan, others)
            return (plan, others)
        }
        // The core from the unfolding of the mode updated last: G = U_mᵀ · Y_(m), by mode.
        var corePlans: [Int: ContractionPlan<T>] = [:]
        errors = []
        for iteration in 0..<maxIterations {
            let sweep = Array(0..<d)
            var y: [T] = []
            for n in sweep {
                let (side, source) = try contractions.source(for: n, factors: factors)
                let count = unfoldingShape(n).reduce(1, *)
                if let (plan, others) = try reduction(n, side) {
                    y = [T](repeating: 0, count: count)
                    try ModeKernels.withPointers(others.map { factors[$0] }) { pointers in
                        try y.withUnsafeMutableBufferPointer { try ModeKernels.run(plan, [source] + pointers, into: $0.baseAddress!) }
                    }
                } else {
                    y = Array(UnsafeBufferPointer(start: source, count: count))
                }
                factors[n] = try y.withUnsafeBufferPointer {
                    try ModeKernels.leadingLeftSingularVectors(matrix: $0.baseAddress!, rows: shape[n], columns: count / shape[n],
                                                               maxRank: ranks[n], squaredErrorBudget: nil, relativeTolerance: nil).u
                }
                contractions.factorChanged(n)
            }
            let m = sweep[d - 1]
            if corePlans[m] == nil {
                corePlans[m] = try ModeKernels.plan("\(unfoldingLabels(m)),\(projection[m])->\(String(rankLabels))",
                                                    [unfoldingShape(m), [shape[m], ranks[m]]])
            }
            try ModeKernels.withPointers([y, factors[m]]) { pointers in
                try core.withUnsafeMutableBufferPointer { try ModeKernels.run(corePlans[m]!, pointers, into: $0.baseAddress!) }
            }
            let error = relativeError(core)
            errors.append(error)
            try DecompositionProgress.report(progress, "HOOI", step: iteration + 1, of: maxIterations, error: error)
            if errors.count >= 2, abs(errors[errors.count - 2] - error) < tolerance { break }
        }
        return TuckerTensor(unchecked: core, ranks: ranks, factors: factors, shape: shape, errors: errors)
    }
}
