extension CPTensor {
    /// CP decomposition by alternating least squares (CP-ALS) of the C-contiguous tensor at
    /// `values`.
    ///
    /// Each iteration updates every factor once, U_n ← M_n · (⊙_{k≠n} U_kᵀU_k)⁺, where the
    /// MTTKRP M_n = X(n) · (⊙_{k≠n} U_k) is computed without the Khatri–Rao product: the tensor
    /// is contracted with one factor by a single GEMM (the last factor serves modes 1…d−1, the
    /// first serves mode d), and that result, d−1 modes by `rank`, is reduced against the
    /// other factors one mode at a time; the modes are updated in order 1…d every iteration
    /// (two passes over the tensor, `SweepContractions`), the order TensorLy uses. The
    /// relative error after an iteration comes from ‖X − X̂‖² = ‖X‖² − 2⟨X, X̂⟩ + ‖X̂‖², with
    /// ⟨X, X̂⟩ from the last MTTKRP and ‖X̂‖² from the factors' Gram matrices, so it costs no
    /// reconstruction — except when that identity cancels too much to be trusted (a residual
    /// below 1e-6 of the terms, near an exact fit or with diverging factors), where the error
    /// is measured on the reconstruction.
    /// ALS stops after `maxIterations` or once the error changes by less than `tolerance`
    /// between two iterations. The iterate with the lowest error is returned (the last one
    /// whenever the errors decrease, as they do unless the fit is degenerate), with unit-norm
    /// factor columns and the scale in `weights`.
    /// - Parameters:
    ///   - values: Π shape values, C order; only read.
    ///   - shape: order 2 to 26, every mode at least 1.
    ///   - rank: the number of rank-one terms, 1 … Π shape.
    ///   - initialization: `.svd` (default), `.random(seed:)`, or `.given` factors.
    ///   - maxIterations: at most this many ALS iterations (≥ 0; 0 returns the initialisation).
    ///   - tolerance: stop when the relative error changes by less than this (≥ 0; 0 runs all
    ///     iterations).
    ///   - progress: called after each iteration with the relative error; false stops ALS
    ///     with `TNError.interrupted`.
    /// - Throws: `TNError.shape` for an order outside 2…26, a mode below 1, or given factors
    ///   whose shape or rank differ; `TNError.value` for a rank below 1 or above Π shape,
    ///   negative `maxIterations`, a negative or non-finite tolerance, or a NaN or infinity in
    ///   the tensor or given factors; `TNError.memory` when a buffer cannot be allocated;
    ///   `TNError.interrupted` when `progress` returns false.
    /// - Complexity: per iteration about 4 · rank · Π shape operations (two GEMMs) plus
    ///   O(rank · Π shape / min(n_1, n_d) + d · rank³).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(decomposing values: UnsafePointer<T>, shape: [Int], rank: Int,
                initialization: CPInitialization<T> = .svd, maxIterations: Int = 100,
                tolerance: Double = 1e-8, progress: DecompositionProgressHandler? = nil) throws {
        self = try CPTensor.alternatingLeastSquares(values, shape: shape, rank: rank, initialization: initialization,
                                                    maxIterations: maxIterations, tolerance: tolerance, progress: progress)
    }

    static func alternatingLeastSquares(_ values: UnsafePointer<T>, shape: [Int], rank: Int,
                                        initialization: CPInitialization<T>, maxIterations: Int,
                                        tolerance: Double, progress: DecompositionProgressHandler?) throws -> CPTensor<T> {
        let d = shape.count
        guard d >= 2 else { throw TNError.shape("CP-ALS needs a tensor of order at least 2 (got shape \(shape))") }
        let letters = try ModeKernels.labels(d, operation: "CP-ALS")
        for (k, n) in shape.enumerated() where n < 1 {
            throw TNError.shape("mode \(k) of the shape \(shape) has size \(n); CP modes must be at least 1")
        }
        let total = try checkedProduct(shape, what: "a tensor of shape \(shape)")
        guard rank >= 1 else { throw TNError.value("the CP rank must be at least 1 (got \(rank))") }
        guard rank <= total else {
            throw TNError.value("the CP rank \(rank) exceeds the \(total) values of a tensor of shape \(shape)")
        }
        try ModeKernels.checkIterations(maxIterations, tolerance: tolerance)
        let normSquared = try ModeKernels.finiteSquaredNorm(values, count: total, operation: "CP-ALS")
        var factors = try initialFactors(values, shape: shape, rank: rank, initialization: initialization)
        if normSquared == 0 || maxIterations == 0 {
            return normalized(factors, shape: shape, rank: rank, errors: [], zero: normSquared == 0)
        }

        // Plans, built once: X ×_d U_d and X ×_1 U_1 (the GEMMs), then the MTTKRP reductions.
        let r = String(ModeKernels.rankLabel(17))   // "R"
        let x = String(letters)
        let firstModes = String(letters[0..<(d - 1)]), lastModes = String(letters[1...])
        let contractLast: ContractionPlan<T> = try ModeKernels.plan("\(x),\(letters[d - 1])\(r)->\(firstModes)\(r)",
                                                                    [shape, [shape[d - 1], rank]])
        let contractFirst: ContractionPlan<T> = try ModeKernels.plan("\(x),\(letters[0])\(r)->\(lastModes)\(r)",
                                                                     [shape, [shape[0], rank]])
        let contractions = try SweepContractions(values: values, order: d, lastPlan: contractLast, firstPlan: contractFirst)
        // Reductions of a contraction against the other factors ping-pong between two buffers.
        let scratchSize = total / Swift.min(shape[0], shape[d - 1]) &* rank
        let scratch = (try Workspace<T>(count: scratchSize), try Workspace<T>(count: scratchSize))
        var grams = factors.enumerated().map { ModeKernels.gram($1, rows: shape[$0], columns: rank) }
        var errors: [Double] = []
        var reconstruct: ContractionPlan<T>? = nil
        // ALS never raises the error in exact arithmetic, but with a Gram product singular to
        // working precision (more components than the data holds) an update can: the
        // iterate with the lowest error is the one returned.
        var best = factors
        var bestError = Double.infinity
        let norm = normSquared.squareRoot()
        for iteration in 0..<maxIterations {
            var mttkrp: [T] = []
            let sweep = Array(0..<d)
            for n in sweep {
                let (side, source) = try contractions.source(for: n, factors: factors)
                mttkrp = reduceToMode(n, source, modes: side == .last ? Array(0..<(d - 1)) : Array(1..<d),
                                      shape: shape, rank: rank, factors: factors, scratch: scratch)
                var hadamard = [T](repeating: 1, count: rank * rank)
                for k in 0..<d where k != n {
                    for i in 0..<(rank * rank) { hadamard[i] *= grams[k][i] }
                }
                factors[n] = try solveNormalEquations(mttkrp, hadamard, rows: shape[n], rank: rank)
                grams[n] = ModeKernels.gram(factors[n], rows: shape[n], columns: rank)
                contractions.factorChanged(n)
            }
            // ⟨X, X̂⟩ = Σ M_m ∘ U_m for the mode m updated last, ‖X̂‖² = Σ_{r,s} Π_k (U_kᵀU_k)[r, s].
            var inner = 0.0
            for (m, u) in zip(mttkrp, factors[sweep[d - 1]]) { inner += Double(m) * Double(u) }
            var approxSquared = 0.0
            for i in 0..<(rank * rank) {
                var p = 1.0
                for k in 0..<d { p *= Double(grams[k][i]) }
                approxSquared += p
            }
            let residual = normSquared - 2 * inner + approxSquared
            var error = Swift.max(residual, 0).squareRoot() / norm
            // The identity cancels terms of size ‖X‖² + ‖X̂‖²: once the residual is below a
            // millionth of them (near convergence, or with diverging factors of a degenerate
            // fit) the error is computed from the reconstruction instead.
            if !(residual > 1e-6 * (normSquared + 2 * abs(inner) + approxSquared)) {
                if reconstruct == nil { reconstruct = try reconstruction(shape: shape, rank: rank, weighted: false) }
                let dense = try ModeKernels.run(reconstruct!, factors)
                var squared = 0.0
                for i in 0..<total { let r = Double(values[i]) - Double(dense[i]); squared += r * r }
                error = squared.squareRoot() / norm
            }
            guard error.isFinite else {
                throw TNError.value("CP-ALS diverged at iteration \(iteration + 1) (the factors overflow \(T.dtype))")
            }
            errors.append(error)
            if error < bestError { bestError = error; best = factors }
            try DecompositionProgress.report(progress, "CP-ALS", step: iteration + 1, of: maxIterations, error: error)
            if errors.count >= 2, abs(errors[errors.count - 2] - error) < tolerance { break }
        }
        withExtendedLifetime(scratch) {}
        return normalized(best, shape: shape, rank: rank, errors: errors, zero: false)
    }

    /// The MTTKRP of mode n from a contracted tensor with `modes` (then the rank): the other
    /// modes are reduced against their factors, largest first.
    private static func reduceToMode(_ n: Int, _ contracted: UnsafePointer<T>, modes: [Int], shape: [Int], rank: Int,
                                     factors: [[T]], scratch: (Workspace<T>, Workspace<T>)) -> [T] {
        var modes = modes
        var source = contracted
        var buffers = (scratch.0.pointer, scratch.1.pointer)
        while modes.count > 1 {
            let position = modes.indices.filter { modes[$0] != n }.max { shape[modes[$0]] < shape[modes[$1]] }!
            factors[modes[position]].withUnsafeBufferPointer { f in
                ModeKernels.reduceMode(source, dims: modes.map { shape[$0] }, mode: position, rank: rank,
                                       factor: f.baseAddress!, into: buffers.0)
            }
            source = UnsafePointer(buffers.0)
            buffers = (buffers.1, buffers.0)
            modes.remove(at: position)
        }
        return Array(UnsafeBufferPointer(start: source, count: shape[n] * rank))
    }

    /// Starting factors (weights folded into the first).
    static func initialFactors(_ values: UnsafePointer<T>, shape: [Int], rank: Int,
                               initialization: CPInitialization<T>) throws -> [[T]] {
        switch initialization {
        case .random(let seed):
            var random = SeededRandom(seed: seed)
            return shape.map { n in (0..<(n * rank)).map { _ in T(random.nextUniform()) } }
        case .given(let cp):
            guard cp.shape == shape else {
                throw TNError.shape("the initial CP tensor has shape \(cp.shape) but the tensor has shape \(shape)")
            }
            guard cp.rank == rank else {
                throw TNError.shape("the initial CP tensor has rank \(cp.rank) but rank \(rank) was asked for")
            }
            guard cp.weights.allSatisfy({ $0.isFinite }), cp.factors.allSatisfy({ $0.allSatisfy { $0.isFinite } }) else {
                throw TNError.value("the initial CP tensor has a NaN or an infinity")
            }
            var factors = cp.factors
            for i in 0..<shape[0] {
                for j in 0..<rank { factors[0][i * rank + j] *= cp.weights[j] }
            }
            return factors
        case .svd:
            var random = SeededRandom(seed: 0)
            return try shape.indices.map { k in
                let (u, kept, singular) = try ModeKernels.leadingLeftSingularVectors(values, shape: shape, mode: k, maxRank: rank,
                                                                                   squaredErrorBudget: nil, relativeTolerance: nil)
                let n = shape[k]
                var factor = [T](repeating: 0, count: n * rank)
                for i in 0..<n {
                    for j in 0..<rank {
                        factor[i * rank + j] = j < kept ? u[i * kept + j] * (k == 0 ? singular[j] : 1) : T(random.nextUniform())
                    }
                }
                return factor
            }
        }
    }

    /// U = M · H⁻¹ for the rows×rank MTTKRP M and the symmetric rank×rank Gram product H:
    /// H⁻¹ from its Cholesky factor (H = L·Lᵀ), then one GEMM; through the pseudo-inverse when
    /// H is singular to working precision (collinear factors, a rank above the data's).
    /// - Complexity: O(rank³ + rows · rank²).
    static func solveNormalEquations(_ m: [T], _ h: [T], rows: Int, rank: Int) throws -> [T] {
        let inverse = try choleskyInverse(h, size: rank) ?? pseudoInverse(symmetric: h, size: rank)
        return TTKernels.multiply(m, inverse, m: rows, k: rank, n: rank)
    }

    /// H⁻¹ for a symmetric positive definite H by Cholesky, or nil when a pivot falls below
    /// 16 · size · ε times H's largest diagonal entry (numerically singular).
    /// - Complexity: O(size³).
    static func choleskyInverse(_ h: [T], size n: Int) -> [T]? {
        var l = h
        var x = [T](repeating: 0, count: n * n)
        let ok = l.withUnsafeMutableBufferPointer { lb -> Bool in
            x.withUnsafeMutableBufferPointer { xb -> Bool in
                let l = lb.baseAddress!, x = xb.baseAddress!
                var largest: T = 0
                for i in 0..<n { largest = Swift.max(largest, l[i &* n &+ i]) }
                let floor = largest * T(n) * T.ulpOfOne * 16
                // Lower-triangular L in place (row-major, below and on the diagonal).
                for j in 0..<n {
                    var d = l[j &* n &+ j]
                    for k in 0..<j { d -= l[j &* n &+ k] * l[j &* n &+ k] }
                    guard d > floor else { return false }
                    let pivot = d.squareRoot()
                    l[j &* n &+ j] = pivot
                    for i in (j &+ 1)..<n {
                        var v = l[i &* n &+ j]
                        for k in 0..<j { v -= l[i &* n &+ k] * l[j &* n &+ k] }
                        l[i &* n &+ j] = v / pivot
                    }
                }
                // Column c of H⁻¹: L·y = e_c, then Lᵀ·x = y (x is symmetric, stored by rows).
                for c in 0..<n {
                    let col = x + c &* n
                    for i in 0..<n {
                        var v: T = i == c ? 1 : 0
                        for k in 0..<i { v -= l[i &* n &+ k] * col[k] }
                        col[i] = v / l[i &* n &+ i]
                    }
                    for i in stride(from: n &- 1, through: 0, by: -1) {
                        var v = col[i]
                        for k in (i &+ 1)..<n { v -= l[k &* n &+ i] * col[k] }
                        col[i] = v / l[i &* n &+ i]
                    }
                }
                return true
            }
        }
        return ok ? x : nil
    }

    /// The Moore–Penrose inverse of a symmetric positive semi-definite matrix, by SVD; values
    /// below size · ε · s_max count as zero, so a rank-deficient Gram product stays solvable.
    static func pseudoInverse(symmetric h: [T], size: Int) throws -> [T] {
        let svd = try h.withUnsafeBufferPointer {
            try SVD<T>.factor(rows: size, columns: size, values: $0.baseAddress!, rowStride: size,
                              driver: .divideAndConquerWithFallback)
        }
        let cutoff = (svd.s.first ?? 0) * T(size) * T.ulpOfOne
        let u = svd.u.values, vt = svd.vt.values
        // H⁺ = V · diag(1/s) · Uᵀ
        var scaledUt = [T](repeating: 0, count: size * size)
        for j in 0..<size where svd.s[j] > cutoff {
            let inv = 1 / svd.s[j]
            for i in 0..<size { scaledUt[j * size + i] = u[i * size + j] * inv }
        }
        return TTKernels.multiply(vt, scaledUt, m: size, k: size, n: size, transA: true)
    }

    /// Unit-norm factor columns with the scale in the weights.
    static func normalized(_ factors: [[T]], shape: [Int], rank: Int, errors: [Double], zero: Bool) -> CPTensor<T> {
        var factors = factors
        var weights = [T](repeating: zero ? 0 : 1, count: rank)
        for k in factors.indices {
            let n = shape[k]
            for j in 0..<rank {
                var s: T = 0
                for i in 0..<n { s += factors[k][i * rank + j] * factors[k][i * rank + j] }
                let norm = s.squareRoot()
                if norm > 0 {
                    for i in 0..<n { factors[k][i * rank + j] /= norm }
                }
                weights[j] *= norm
            }
        }
        return CPTensor(unchecked: weights, factors: factors, shape: shape, errors: errors)
    }
}
