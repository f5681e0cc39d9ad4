extension SVD {
    /// The rank to keep from descending singular values, by a cap and/or a budget on the
    /// squared error of what is discarded.
    ///
    /// With a budget, the rank is the smallest r with s[r]² + s[r+1]² + … ≤ `squaredErrorBudget`
    /// (so keeping r values leaves a Frobenius error of at most √budget; a budget of 0 drops
    /// only exact zeros). The cap then limits the rank and wins over the budget. The result is
    /// never below 1 for a non-empty list (a rank-0 factor would carry nothing) and is 0 for an
    /// empty one; a cap above the number of values keeps them all. Sums run in `Double`.
    ///
    /// TT-SVD with a relative tolerance eps over d − 1 unfoldings passes the budget
    /// eps² · ‖X‖²_F / (d − 1) to each one.
    /// - Parameters:
    ///   - singularValues: non-negative, finite, in descending order (as `SVD` returns them).
    ///   - maxRank: at most this many values are kept; nil for no cap.
    ///   - squaredErrorBudget: the largest allowed sum of discarded squares; nil for no budget
    ///     (keep everything up to the cap). May be `.infinity`.
    /// - Throws: `TNError.value` for a cap below 1, a negative or NaN budget, or singular
    ///   values that are negative, non-finite or not descending.
    /// - Complexity: O(k).
    public static func truncationRank(singularValues: [T], maxRank: Int? = nil,
                                      squaredErrorBudget: Double? = nil) throws -> Int {
        if let cap = maxRank, cap < 1 { throw TNError.value("the rank cap must be at least 1 (got \(cap))") }
        if let budget = squaredErrorBudget, !(budget >= 0) {
            throw TNError.value("the squared-error budget must be non-negative (got \(budget))")
        }
        for (i, v) in singularValues.enumerated() {
            guard v.isFinite, v >= 0 else { throw TNError.value("singular value \(i) is \(v); they must be finite and non-negative") }
            if i > 0, v > singularValues[i - 1] {
                throw TNError.value("singular values must be in descending order (value \(i) is \(v), above value \(i - 1), \(singularValues[i - 1]))")
            }
        }
        let k = singularValues.count
        if k == 0 { return 0 }
        var rank = k
        if let budget = squaredErrorBudget {
            // Walk from the smallest value up while the discarded tail still fits the budget.
            var tail = 0.0
            while rank > 0 {
                let v = Double(singularValues[rank - 1])
                let next = tail + v * v
                guard next <= budget else { break }
                tail = next
                rank -= 1
            }
        }
        if let cap = maxRank { rank = Swift.min(rank, cap) }
        return Swift.max(rank, 1)
    }

    /// `SVD.truncationRank` for this factorisation's singular values.
    /// - Throws: `TNError.value` for a cap below 1 or a negative or NaN budget.
    /// - Complexity: O(k).
    public func truncationRank(maxRank: Int? = nil, squaredErrorBudget: Double? = nil) throws -> Int {
        try SVD.truncationRank(singularValues: s, maxRank: maxRank, squaredErrorBudget: squaredErrorBudget)
    }

    /// The first `rank` singular triplets: `u` m×rank, `s` rank values, `vt` rank×n. By
    /// Eckart–Young, `u · diag(s) · vt` is then the best rank-`rank` approximation of the
    /// factorised matrix, with squared Frobenius error s[rank]² + … + s[k-1]².
    /// - Throws: `TNError.value` unless 0 ≤ `rank` ≤ k; `TNError.memory` when the factors
    ///   cannot be allocated.
    /// - Complexity: O((m + n) · rank).
    public func truncated(rank: Int) throws -> SVD<T> {
        let k = s.count
        guard rank >= 0, rank <= k else {
            throw TNError.value("cannot truncate an SVD with \(k) singular values to rank \(rank)")
        }
        if rank == k { return self }
        let m = u.rows, n = vt.columns
        let newU = try Matrix<T>(uninitializedRows: m, columns: rank)
        let newVt = try Matrix<T>(uninitializedRows: rank, columns: n)
        withExtendedLifetime(self) {
            LinalgKernels.copyRows(rows: m, columns: rank, from: u.storage.pointer, rowStride: k, to: newU.storage.pointer)
            newVt.storage.pointer.update(from: vt.storage.pointer, count: rank &* n)
        }
        return SVD(u: newU, s: Array(s[0..<rank]), vt: newVt)
    }

    /// `truncated(rank:)` at `truncationRank(maxRank:squaredErrorBudget:)`.
    /// - Throws: `TNError.value` for a cap below 1 or a negative or NaN budget;
    ///   `TNError.memory` when the factors cannot be allocated.
    /// - Complexity: O((m + n) · rank).
    public func truncated(maxRank: Int? = nil, squaredErrorBudget: Double? = nil) throws -> SVD<T> {
        try truncated(rank: truncationRank(maxRank: maxRank, squaredErrorBudget: squaredErrorBudget))
    }
}
