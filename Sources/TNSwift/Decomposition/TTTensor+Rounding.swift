extension TTTensor {
    /// TT rounding with one rank cap for every bond; see `rounded(eps:maxRanks:)`.
    /// - Throws: as `rounded(eps:maxRanks:)`.
    /// - Complexity: as `rounded(eps:maxRanks:)`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func rounded(eps: Double? = nil, maxRank: Int? = nil) throws -> TTTensor<T> {
        if let cap = maxRank, cap < 1 { throw TNError.value("the TT rank cap must be at least 1 (got \(cap))") }
        return try round(eps: eps, caps: [Int?](repeating: maxRank, count: order - 1))
    }

    /// TT rounding (Oseledets 2011), never forming the full tensor: the cores are made
    /// left-orthogonal by QR, left to right, then truncated by SVDs of the cores, right to
    /// left. With `eps`, each of the d − 1 truncations discards a squared error of at most
    /// eps² · ‖X‖²_F / (d − 1) and the errors are orthogonal, so ‖X − round(X)‖_F ≤ eps · ‖X‖_F.
    /// Caps limit each bond and win over eps.
    /// - Parameters:
    ///   - eps: the relative Frobenius tolerance, finite and ≥ 0; nil for none.
    ///   - maxRanks: one cap per bond (d − 1), each at least 1.
    /// - Throws: `TNError.shape` when `maxRanks` does not have d − 1 entries; `TNError.value`
    ///   for a cap below 1, a negative or non-finite eps, or non-finite cores.
    /// - Complexity: O(d · n · r³) for mode sizes ≤ n and ranks ≤ r.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func rounded(eps: Double? = nil, maxRanks: [Int]) throws -> TTTensor<T> {
        guard maxRanks.count == order - 1 else {
            throw TNError.shape("a TT tensor of order \(order) has \(order - 1) bonds but \(maxRanks.count) rank caps were given")
        }
        for (k, cap) in maxRanks.enumerated() where cap < 1 {
            throw TNError.value("the TT rank cap of bond \(k) must be at least 1 (got \(cap))")
        }
        return try round(eps: eps, caps: maxRanks.map { Optional($0) })
    }

    private func round(eps: Double?, caps: [Int?]) throws -> TTTensor<T> {
        try TTTensor.checkEps(eps)
        let d = order
        if d == 1 { return self }
        var cores = self.cores
        var ranks = self.ranks
        // Left-orthogonalise: core k = Q · R, R moves into core k + 1.
        for k in 0..<(d - 1) {
            let rows = ranks[k] * shape[k], cols = ranks[k + 1]
            let qr = try cores[k].withUnsafeBufferPointer {
                try QR<T>.factor(rows: rows, columns: cols, values: $0.baseAddress!, rowStride: nil)
            }
            let r = Swift.min(rows, cols)
            cores[k] = qr.q.values
            cores[k + 1] = TTKernels.multiply(qr.r.values, cores[k + 1], m: r, k: cols, n: shape[k + 1] * ranks[k + 2])
            ranks[k + 1] = r
        }
        // ‖X‖ is now the norm of the last core.
        let normSquared = cores[d - 1].withUnsafeBufferPointer { TTKernels.squaredNorm($0) }
        guard normSquared.isFinite else { throw TNError.value("TT rounding: the cores have a NaN or an infinity") }
        let budget = eps.map { $0 * $0 * normSquared / Double(d - 1) }
        // Truncate right to left: core k = U · diag(s) · Vt, core k ← Vt, U · diag(s) moves left.
        for k in stride(from: d - 1, to: 0, by: -1) {
            let rows = ranks[k], cols = shape[k] * ranks[k + 1]
            let svd = try cores[k].withUnsafeBufferPointer {
                try SVD<T>.factor(rows: rows, columns: cols, values: $0.baseAddress!, rowStride: nil,
                                  driver: .divideAndConquerWithFallback)
            }
            let t = try svd.truncated(rank: svd.truncationRank(maxRank: caps[k - 1], squaredErrorBudget: budget))
            let r = t.rank
            cores[k] = t.vt.values
            var us = t.u.values                      // rows × r, columns scaled by s
            for i in 0..<rows {
                for j in 0..<r { us[i * r + j] *= t.s[j] }
            }
            cores[k - 1] = TTKernels.multiply(cores[k - 1], us, m: ranks[k - 1] * shape[k - 1], k: rows, n: r)
            ranks[k] = r
        }
        return TTTensor(unchecked: cores, shape: shape, ranks: ranks)
    }

    /// The inner product ⟨X, Y⟩ = Σ X[i] · Y[i], computed by contracting the cores left to
    /// right (no dense tensor is formed).
    /// - Throws: `TNError.shape` when the shapes differ.
    /// - Complexity: O(Σ_k n_k · (r_{k-1} r'_{k-1} r'_k + r_{k-1} r_k r'_k)).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func inner(_ other: TTTensor<T>) throws -> T {
        try innerProduct(other)
    }

    /// `inner` for code in this module (see `SVD.factor` on exported specialisations).
    func innerProduct(_ other: TTTensor<T>) throws -> T {
        guard shape == other.shape else {
            throw TNError.shape("inner product of TT tensors of shapes \(shape) and \(other.shape): the shapes must be equal")
        }
        var m: [T] = [1]                         // r_k × r'_k
        for k in 0..<order {
            let (ra, rb, n) = (ranks[k], other.ranks[k], shape[k])
            let (sa, sb) = (ranks[k + 1], other.ranks[k + 1])
            // t[a, (i b')] = Σ_{a'} m[a, a'] · B[a', (i b')]
            let t = TTKernels.multiply(m, other.cores[k], m: ra, k: rb, n: n * sb)
            // m'[b, b'] = Σ_{(a i)} A[(a i), b] · t[(a i), b']
            m = TTKernels.multiply(cores[k], t, m: sa, k: ra * n, n: sb, transA: true)
        }
        return m[0]
    }

    /// The Frobenius norm ‖X‖_F, from the cores (no dense tensor is formed).
    /// - Complexity: O(Σ_k n_k · r_{k-1} · r_k · (r_{k-1} + r_k)).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func norm() -> T {
        // The shapes are equal by construction, so `inner` cannot throw.
        let s = (try? innerProduct(self)) ?? 0
        return Swift.max(s, 0).squareRoot()
    }

    /// The sum X + Y in TT format: block-diagonal cores, ranks add (round the result to
    /// compress it again).
    /// - Throws: `TNError.shape` when the shapes differ.
    /// - Complexity: O(Σ_k n_k · (r_{k-1} + r'_{k-1}) · (r_k + r'_k)).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func + (lhs: TTTensor<T>, rhs: TTTensor<T>) throws -> TTTensor<T> {
        guard lhs.shape == rhs.shape else {
            throw TNError.shape("cannot add TT tensors of shapes \(lhs.shape) and \(rhs.shape): the shapes must be equal")
        }
        let d = lhs.order
        if d == 1 {
            return TTTensor(unchecked: [zip(lhs.cores[0], rhs.cores[0]).map { $0 + $1 }], shape: lhs.shape, ranks: [1, 1])
        }
        var ranks = [1]
        for k in 1..<d { ranks.append(lhs.ranks[k] + rhs.ranks[k]) }
        ranks.append(1)
        var cores: [[T]] = []
        for k in 0..<d {
            let n = lhs.shape[k]
            let (left, right) = (ranks[k], ranks[k + 1])
            var core = [T](repeating: 0, count: left * n * right)
            // Top-left block (or the first/last shared row/column) from lhs, then rhs offset.
            let blocks: [(TTTensor<T>, Int, Int)] = [
                (lhs, 0, 0),
                (rhs, k == 0 ? 0 : lhs.ranks[k], k == d - 1 ? 0 : lhs.ranks[k + 1]),
            ]
            for (x, rowOffset, colOffset) in blocks {
                let (ra, rb) = (x.ranks[k], x.ranks[k + 1])
                let g = x.cores[k]
                for a in 0..<ra {
                    for i in 0..<n {
                        for b in 0..<rb {
                            core[((a + rowOffset) * n + i) * right + b + colOffset] += g[(a * n + i) * rb + b]
                        }
                    }
                }
            }
            cores.append(core)
        }
        return TTTensor(unchecked: cores, shape: lhs.shape, ranks: ranks)
    }
}
