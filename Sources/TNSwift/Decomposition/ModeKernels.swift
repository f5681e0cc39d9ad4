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
    /// squared-error budget (`SVD.truncationRank`).
    ///
    /// A wide unfolding (the usual case) is factored through its Gram matrix X(k)·X(k)ᵀ,
    /// n_k × n_k, which the engine forms without a permuted copy; its singular values are the
    /// squares of X(k)'s. Squaring costs accuracy below √ε · σ_max (about 1e-8 relative in
    /// float64), far under any truncation a tolerance asks for. A tall unfolding is copied
    /// and factored directly.
    /// - Returns: `u`, n_k × r row-major with orthonormal columns, and all singular values.
    static func leadingLeftSingularVectors<T: LAPACKScalar>(
        _ values: UnsafePointer<T>, shape: [Int], mode: Int, maxRank: Int?, squaredErrorBudget: Double?
    ) throws -> (u: [T], rank: Int, singularValues: [T]) {
        let n = shape[mode]
        let total = shape.reduce(1, *)
        let others = total / Swift.max(n, 1)
        let svd: SVD<T>
        var singular: [T]
        if n <= others {
            let letters = try labels(shape.count, operation: "an unfolding SVD")
            var second = letters
            second[mode] = "Z"
            let gram: ContractionPlan<T> = try plan(String(letters) + "," + String(second) + "->" + String(letters[mode]) + "Z",
                                                    [shape, shape])
            let g = try Workspace<T>(count: n &* n)
            try run(gram, [values, values], into: g.pointer)
            svd = try SVD<T>.factor(rows: n, columns: n, values: g.pointer, rowStride: n, driver: .divideAndConquerWithFallback)
            withExtendedLifetime(g) {}
            singular = svd.s.map { Swift.max($0, 0).squareRoot() }
        } else {
            // X(k) as a matrix: bring mode k to the front.
            let perm = [mode] + (0..<shape.count).filter { $0 != mode }
            let unfolding = try Workspace<T>(count: total)
            TTKernels.permute(values, shape: shape, perm: perm, into: unfolding.pointer)
            svd = try SVD<T>.factor(rows: n, columns: others, values: unfolding.pointer, rowStride: others,
                                    driver: .divideAndConquerWithFallback)
            withExtendedLifetime(unfolding) {}
            singular = svd.s
        }
        // The Gram's values can lose their order in the last bits once square-rooted.
        for i in 1..<Swift.max(singular.count, 1) where singular[i] > singular[i - 1] { singular[i] = singular[i - 1] }
        let r = try SVD<T>.truncationRank(singularValues: singular, maxRank: maxRank, squaredErrorBudget: squaredErrorBudget)
        return (try svd.truncated(rank: r).u.values, r, singular)
    }

    /// `a`ᵀ·`a` for a row-major rows×columns matrix (the Gram matrix of its columns).
    static func gram<T: BLASScalar>(_ a: [T], rows: Int, columns: Int) -> [T] {
        TTKernels.multiply(a, a, m: columns, k: rows, n: columns, transA: true)
    }
}
