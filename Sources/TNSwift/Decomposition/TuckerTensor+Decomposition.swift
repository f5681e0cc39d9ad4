extension TuckerTensor {
    /// Tucker decomposition of the C-contiguous tensor at `values` by HOSVD or HOOI.
    ///
    /// HOSVD takes factor k from the leading left singular vectors of the mode-k unfolding
    /// and the core as X ×_1 U_1ᵀ ⋯ ×_d U_dᵀ. With `eps`, each mode discards singular values
    /// whose squares sum to at most eps² · ‖X‖² / d, so ‖X − X̂‖_F ≤ eps · ‖X‖_F; `ranks` then
    /// caps each mode and wins over eps. HOOI starts from HOSVD and replaces each factor in
    /// turn by the leading left singular vectors of X contracted with all other factors
    /// (X ×_d U_d is shared by modes 1…d−1, X ×_1 U_1 serves mode d), which never increases the
    /// error, so the eps guarantee still holds. It stops after `maxIterations` or when the
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
    ///   2 · Π shape · (r_1 + r_d) operations for the two contractions with the full tensor
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
        if let e = eps, !(e >= 0 && e.isFinite) { throw TNError.value("eps must be finite and non-negative (got \(e))") }
        guard maxIterations >= 0 else { throw TNError.value("the number of iterations must be non-negative (got \(maxIterations))") }
        guard tolerance >= 0, tolerance.isFinite else {
            throw TNError.value("the tolerance must be finite and non-negative (got \(tolerance))")
        }
        let normSquared = TTKernels.squaredNorm(UnsafeBufferPointer(start: values, count: total))
        guard normSquared.isFinite else {
            throw TNError.value("Tucker: the tensor has a NaN or an infinity (or its norm overflows)")
        }
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
                                                                          squaredErrorBudget: budget)
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

        // HOOI. Mode n < d−1 reduces X ×_d U_d; mode d reduces X ×_1 U_1.
        let rankLabels = (0..<d).map(ModeKernels.rankLabel)
        func labels(_ contracted: Set<Int>) -> String {
            String((0..<d).map { contracted.contains($0) ? rankLabels[$0] : letters[$0] })
        }
        func sizes(_ contracted: Set<Int>) -> [Int] { (0..<d).map { contracted.contains($0) ? ranks[$0] : shape[$0] } }
        let x = String(letters)
        let contractLast: ContractionPlan<T> = try ModeKernels.plan("\(x),\(projection[d - 1])->\(labels([d - 1]))",
                                                                    [shape, [shape[d - 1], ranks[d - 1]]])
        let contractFirst: ContractionPlan<T> = try ModeKernels.plan("\(x),\(projection[0])->\(labels([0]))",
                                                                     [shape, [shape[0], ranks[0]]])
        var reductions: [(plan: ContractionPlan<T>?, others: [Int], shape: [Int])] = []
        for n in 0..<d {
            let start: Set<Int> = n == d - 1 ? [0] : [d - 1]
            let others = (0..<d).filter { $0 != n && !start.contains($0) }
            let result = start.union(others)
            guard !others.isEmpty else { reductions.append((nil, [], sizes(start))); continue }
            let inputs = [labels(start)] + others.map { projection[$0] }
            let plan: ContractionPlan<T> = try ModeKernels.plan(inputs.joined(separator: ",") + "->" + labels(result),
                                                                [sizes(start)] + others.map { [shape[$0], ranks[$0]] })
            reductions.append((plan, others, sizes(result)))
        }
        let finalCore: ContractionPlan<T> = try ModeKernels.plan("\(labels(Set(0..<(d - 1)))),\(projection[d - 1])->\(String(rankLabels))",
                                                                 [sizes(Set(0..<(d - 1))), [shape[d - 1], ranks[d - 1]]])
        let contracted = try Workspace<T>(count: Swift.max(total / shape[d - 1] * ranks[d - 1], total / shape[0] * ranks[0]))
        errors = []
        for iteration in 0..<maxIterations {
            var y: [T] = []
            for n in 0..<d {
                if n == 0 {
                    try ModeKernels.withPointers([factors[d - 1]]) { try ModeKernels.run(contractLast, [values, $0[0]], into: contracted.pointer) }
                } else if n == d - 1 {
                    try ModeKernels.withPointers([factors[0]]) { try ModeKernels.run(contractFirst, [values, $0[0]], into: contracted.pointer) }
                }
                let (plan, others, yShape) = reductions[n]
                if let plan {
                    y = [T](repeating: 0, count: yShape.reduce(1, *))
                    try ModeKernels.withPointers(others.map { factors[$0] }) { pointers in
                        try y.withUnsafeMutableBufferPointer {
                            try ModeKernels.run(plan, [UnsafePointer(contracted.pointer)] + pointers, into: $0.baseAddress!)
                        }
                    }
                } else {
                    y = Array(UnsafeBufferPointer(start: contracted.pointer, count: yShape.reduce(1, *)))
                }
                factors[n] = try y.withUnsafeBufferPointer {
                    try ModeKernels.leadingLeftSingularVectors($0.baseAddress!, shape: yShape, mode: n, maxRank: ranks[n],
                                                               squaredErrorBudget: nil).u
                }
            }
            try ModeKernels.withPointers([y, factors[d - 1]]) { pointers in
                try core.withUnsafeMutableBufferPointer { try ModeKernels.run(finalCore, pointers, into: $0.baseAddress!) }
            }
            let error = relativeError(core)
            errors.append(error)
            try DecompositionProgress.report(progress, "HOOI", step: iteration + 1, of: maxIterations, error: error)
            if errors.count >= 2, abs(errors[errors.count - 2] - error) < tolerance { break }
        }
        withExtendedLifetime(contracted) {}
        return TuckerTensor(unchecked: core, ranks: ranks, factors: factors, shape: shape, errors: errors)
    }
}
