/// Dense-tensor steps shared by CP-ALS and Tucker: einsum equations over one letter per mode,
/// contractions run on the engine's plans (planned once per decomposition, then reused every
/// iteration), and the leading left singular vectors of a mode unfolding.
enum ModeKernels {
    /// Modes are named a, b, c, …; ranks by upper-case letters.
    static let maxOrder = 26

    /// The lower-case label of each of `order` modes.
    /// - Throws: `TNError.shape` for an order outside 1…26.
    static func labels(_ order: Int, operation: String) throws -> [Character] {
        guard order >= 1, order <= maxOrder else {
            throw TNError.shape("\(operation) supports tensors of order 1 to \(maxOrder) (got order \(order))")
        }
        return (0..<order).map { Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8($0))) }
    }

    /// The upper-case rank label of mode `k`.
    static func rankLabel(_ k: Int) -> Character { Character(Unicode.Scalar(UInt8(ascii: "A") + UInt8(k))) }

    /// ‖X‖² of the `count` values at `values`, accumulated in Double.
    /// - Throws: `TNError.value` ("`operation`: the tensor has a NaN or an infinity …") when
    ///   it is not finite.
    static func finiteSquaredNorm<T: BLASScalar>(_ values: UnsafePointer<T>, count: Int, operation: String) throws -> Double {
        let s = TTKernels.squaredNorm(UnsafeBufferPointer(start: values, count: count))
        guard s.isFinite else { throw TNError.value("\(operation): the tensor has a NaN or an infinity (or its norm overflows)") }
        return s
    }

    /// Checks the iteration controls of ALS-type methods.
    /// - Throws: `TNError.value` for negative `maxIterations` or a negative or non-finite tolerance.
    static func checkIterations(_ maxIterations: Int, tolerance: Double) throws {
        guard maxIterations >= 0 else { throw TNError.value("the number of iterations must be non-negative (got \(maxIterations))") }
        guard tolerance >= 0, tolerance.isFinite else {
            throw TNError.value("the tolerance must be finite and non-negative (got \(tolerance))")
        }
    }

    /// A plan for contiguous operands of `shapes`.
    static func plan<T: BLASScalar>(_ subscripts: String, _ shapes: [[Int]]) throws -> ContractionPlan<T> {
        let e = try EinsumParser.parse(subscripts, ndims: shapes.map(\.count))
        return try ContractionPlan<T>(planning: e, shapes: shapes, strategy: .auto)
    }

    /// Runs `plan` on C-contiguous operands into the C-contiguous `out`.
    static func run<T: BLASScalar>(_ plan: ContractionPlan<T>, _ operands: [UnsafePointer<T>],
                                   into out: UnsafeMutablePointer<T>) throws {
        let views = zip(operands, plan.shapes).map { StridedView(contiguous: UnsafeMutablePointer(mutating: $0), shape: $1) }
        try plan.run(views, into: StridedView(contiguous: out, shape: plan.outputShape))
    }

    /// Runs `plan` on arrays and returns the result as a new array.
    static func run<T: BLASScalar>(_ plan: ContractionPlan<T>, _ operands: [[T]]) throws -> [T] {
        let count = plan.outputShape.reduce(1, *)
        var out = [T](repeating: 0, count: count)
        try withPointers(operands) { pointers in
            try out.withUnsafeMutableBufferPointer { try run(plan, pointers, into: $0.baseAddress!) }
        }
        return out
    }

    /// Calls `body` with a pointer to each array's elements (valid only inside `body`).
    static func withPointers<T, R>(_ arrays: [[T]], _ body: ([UnsafePointer<T>]) throws -> R) rethrows -> R {
        var pointers: [UnsafePointer<T>] = []
        func nest(_ i: Int) throws -> R {
            if i == arrays.count { return try body(pointers) }
            return try arrays[i].withUnsafeBufferPointer { p in
                // An empty array has no base address; nothing reads it (a size-0 operand).
                pointers.append(p.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<T>.alignment)!)
                return try nest(i + 1)
            }
        }
        return try nest(0)
    }

    /// The leading left singular vectors of the mode-`mode` unfolding X(k) (rows i_k, columns
    /// all other indices) of the C-contiguous tensor `values`, truncated by a cap and/or a
    /// squared-error budget (`SVD.truncationRank`; `relativeTolerance` is the eps the budget
    /// came from, which decides whether the Gram matrix is accurate enough).
    ///
    /// Mode 0's unfolding is the buffer itself. Another mode's Gram matrix X(k)·X(k)ᵀ is formed
    /// by the engine without a permuted copy when `SVD.prefersGram` allows; otherwise that
    /// unfolding is copied out and factored directly.
    /// - Returns: `u`, n_k × r row-major with orthonormal columns, r, and all singular values.
    static func leadingLeftSingularVectors<T: LAPACKScalar>(
        _ values: UnsafePointer<T>, shape: [Int], mode: Int, maxRank: Int?, squaredErrorBudget: Double?,
        relativeTolerance: Double?
    ) throws -> (u: [T], rank: Int, singularValues: [T]) {
        let n = shape[mode]
        let others = shape.reduce(1, *) / n
        if mode == 0 {
            return try leadingLeftSingularVectors(matrix: values, rows: n, columns: others, maxRank: maxRank,
                                                  squaredErrorBudget: squaredErrorBudget, relativeTolerance: relativeTolerance)
        }
        // The engine forms this Gram in T, so only double precision takes this path.
        if T.ulpOfOne <= 1e-12, SVD<T>.prefersGram(m: n, n: others, relativeTolerance: relativeTolerance) {
            let letters = try labels(shape.count, operation: "an unfolding SVD")
            var second = letters
            second[mode] = "Z"
            let gram: ContractionPlan<T> = try plan(String(letters) + "," + String(second) + "->" + String(letters[mode]) + "Z",
                                                    [shape, shape])
            let g = try Workspace<T>(count: n &* n)
            defer { withExtendedLifetime(g) {} }
            try run(gram, [values, values], into: g.pointer)
            let (u, s) = try SVD<T>.leftFactor(ofGram: g.pointer, size: n, leading: squaredErrorBudget == nil ? maxRank : nil)
            return try truncatedColumns(u, s, maxRank: maxRank, squaredErrorBudget: squaredErrorBudget)
        }
        // X(k) as a matrix: bring mode k to the front.
        let unfolding = try Workspace<T>(count: n &* others)
        defer { withExtendedLifetime(unfolding) {} }
        TTKernels.permute(values, shape: shape, perm: [mode] + (0..<shape.count).filter { $0 != mode }, into: unfolding.pointer)
        return try leadingLeftSingularVectors(matrix: unfolding.pointer, rows: n, columns: others, maxRank: maxRank,
                                              squaredErrorBudget: squaredErrorBudget, relativeTolerance: relativeTolerance)
    }

    /// The leading left singular vectors of a row-major rows×columns matrix (through its Gram
    /// matrix when `SVD.prefersGram` allows), truncated as `SVD.truncationRank` decides.
    static func leadingLeftSingularVectors<T: LAPACKScalar>(
        matrix values: UnsafePointer<T>, rows: Int, columns: Int, maxRank: Int?, squaredErrorBudget: Double?,
        relativeTolerance: Double?
    ) throws -> (u: [T], rank: Int, singularValues: [T]) {
        if SVD<T>.prefersGram(m: rows, n: columns, relativeTolerance: relativeTolerance) {
            let (u, s) = try SVD<T>.leftFactorByGram(rows: rows, columns: columns, values: values, rowStride: columns,
                                                     leading: squaredErrorBudget == nil ? maxRank : nil)
            return try truncatedColumns(u, s, maxRank: maxRank, squaredErrorBudget: squaredErrorBudget)
        }
        let svd = try SVD<T>.factor(rows: rows, columns: columns, values: values, rowStride: columns,
                                    driver: .divideAndConquerWithFallback)
        return try truncatedColumns(svd.u, svd.s, maxRank: maxRank, squaredErrorBudget: squaredErrorBudget)
    }

    /// The first r columns of `u` (m × k), r from `SVD.truncationRank`.
    private static func truncatedColumns<T: LAPACKScalar>(_ u: Matrix<T>, _ s: [T], maxRank: Int?, squaredErrorBudget: Double?) throws
        -> (u: [T], rank: Int, singularValues: [T]) {
        let r = try SVD<T>.truncationRank(singularValues: s, maxRank: maxRank, squaredErrorBudget: squaredErrorBudget)
        var kept = [T](repeating: 0, count: u.rows * r)
        u.withUnsafeBufferPointer { src in
            kept.withUnsafeMutableBufferPointer {
                LinalgKernels.copyRows(rows: u.rows, columns: r, from: src.baseAddress!, rowStride: u.columns, to: $0.baseAddress!)
            }
        }
        return (kept, r, s)
    }

    /// Contracts `y`, of shape `dims` + [rank], with `factor` (dims[mode] × rank) over
    /// dims[mode] while keeping the rank index shared (a Hadamard product over it):
    /// out[…, r] = Σ_i y[…, i, …, r] · factor[i, r], of shape `dims` without `mode` + [rank].
    /// The MTTKRP step of CP-ALS: one pass over `y`, the rank index innermost and contiguous.
    /// - Complexity: O(Π dims · rank).
    static func reduceMode<T: BLASScalar>(_ y: UnsafePointer<T>, dims: [Int], mode: Int, rank: Int,
                                          factor: UnsafePointer<T>, into out: UnsafeMutablePointer<T>) {
        let outer = dims[..<mode].reduce(1, *), n = dims[mode], inner = dims[(mode + 1)...].reduce(1, *)
        let block = inner &* rank
        for o in 0..<outer {
            let dst = out + o &* block
            dst.update(repeating: 0, count: block)
            for i in 0..<n {
                let src = y + (o &* n &+ i) &* block
                let u = factor + i &* rank
                for b in 0..<inner {
                    let s = src + b &* rank, t = dst + b &* rank
                    for r in 0..<rank { t[r] += s[r] * u[r] }
                }
            }
        }
    }

    /// `a`ᵀ·`a` for a row-major rows×columns matrix (the Gram matrix of its columns).
    static func gram<T: BLASScalar>(_ a: [T], rows: Int, columns: Int) -> [T] {
        TTKernels.multiply(a, a, m: columns, k: rows, n: columns, transA: true)
    }
}
