/// Forward and backward of `MultiLinearAttention` as GEMMs on the shared projections.
extension MultiLinearAttention {
    /// The projected Q̂ (batch · n × R), K̂ and V̂ (batch · N × R) of one call, with the row
    /// views of the inputs they came from.
    struct Projections {
        let batch: Int, queries: Int
        let q: Workspace<T>, k: Workspace<T>, v: Workspace<T>
        let qRows: StridedView<T>, kRows: StridedView<T>, vRows: StridedView<T>
        /// Copies of inputs whose leading axes do not merge (kept alive with the views).
        let staging: [Workspace<T>?]
    }

    /// (batch, n) after checking Q (batch, n, d_model) and K, V (batch, N, d_model).
    /// - Throws: `TNError.shape` naming the view and the expected shape.
    func checkedSizes(query q: StridedView<T>, key k: StridedView<T>, value v: StridedView<T>) throws -> (batch: Int, queries: Int) {
        guard q.shape.count == 3, q.shape[2] == modelDim else {
            throw TNError.shape("MultiLinearAttention: the query has shape \(q.shape) but the layer expects (batch, seq, \(modelDim)) (d_model = \(modelDim))")
        }
        let b = q.shape[0]
        for (what, view) in [("key", k), ("value", v)] where view.shape != [b, keyLength, modelDim] {
            throw TNError.shape("MultiLinearAttention: the \(what) has shape \(view.shape) but the layer expects (\(b), \(keyLength), \(modelDim)) (the query's batch, the key length N = \(keyLength) that W_o is sized for, d_model)")
        }
        return (b, q.shape[1])
    }

    /// Checks that `v` has `shape`.
    /// - Throws: `TNError.shape`.
    func checkShape(_ v: StridedView<T>, _ shape: [Int], what: String) throws {
        guard v.shape == shape else {
            throw TNError.shape("MultiLinearAttention: \(what) has shape \(v.shape) but the layer expects \(shape)")
        }
    }

    /// Q̂, K̂, V̂ through the three shared linear maps.
    func project(query q: StridedView<T>, key k: StridedView<T>, value v: StridedView<T>, batch b: Int, queries n: Int) throws -> Projections {
        let (qr, qs) = try StridedView.readableRows(q)
        let (kr, ks) = try StridedView.readableRows(k)
        let (vr, vs) = try StridedView.readableRows(v)
        let qp = try Workspace<T>(count: try checkedProduct([b, n, rank], what: "the projected queries"))
        let kp = try Workspace<T>(count: try checkedProduct([b, keyLength, rank], what: "the projected keys"))
        let vp = try Workspace<T>(count: kp.count)
        try queryMap.apply(qr, into: StridedView(contiguous: qp.pointer, shape: [b * n, rank]))
        try keyMap.apply(kr, into: StridedView(contiguous: kp.pointer, shape: [b * keyLength, rank]))
        try valueMap.apply(vr, into: StridedView(contiguous: vp.pointer, shape: [b * keyLength, rank]))
        return Projections(batch: b, queries: n, q: qp, k: kp, v: vp, qRows: qr, kRows: kr, vRows: vr, staging: [qs, ks, vs])
    }

    /// ḡ = (g_1 + … + g_H) / H, and the cores in use.
    func averagedCore() -> (average: [T], cores: [Double]) {
        let g = effectiveCores()
        var avg = [Double](repeating: 0, count: rank)
        for h in 0..<blocks {
            for r in 0..<rank { avg[r] += g[h * rank + r] }
        }
        return (avg.map { T($0 / Double(blocks)) }, g)
    }

    /// For sequence `s`: A = K̂_sᵀ · W_o as R × (N · d_model) (row r holds the N × d_model
    /// matrix Σ_j K̂[j, r] W_o[j·N + k, o]), then row r of `m` = scale_r · V̂_s[:, r]ᵀ · A_r,
    /// i.e. M[r, o] = scale_r · Σ_{j,k} K̂[j, r] V̂[k, r] W_o[j·N + k, o].
    func contractKeys(_ p: Projections, sequence s: Int, scale: [T]?, a: UnsafeMutablePointer<T>, m: UnsafeMutablePointer<T>) {
        let (nk, r, d) = (keyLength, rank, modelDim)
        let wide = nk * d
        let kHat = p.k.pointer + s * nk * r, vHat = p.v.pointer + s * nk * r
        T.product(transA: true, m: r, n: wide, k: nk, a: kHat, lda: r, b: outputMap.parameter(0).baseAddress!, ldb: wide,
                  c: a, ldc: wide)
        for j in 0..<r {
            T.product(transA: true, m: 1, n: d, k: nk, alpha: scale?[j] ?? 1, a: vHat + j, lda: r, b: a + j * wide, ldb: d,
                      c: m + j * d, ldc: d)
        }
    }

    /// Y = MultiLinear(G; Q, K, V) (see the type's description).
    /// - Parameters:
    ///   - query: Q, (batch, n, d_model), any strides; n is free.
    ///   - key: K, (batch, N, d_model) with N = `keyLength`.
    ///   - value: V, (batch, N, d_model).
    ///   - output: receives Y, (batch, n, d_model).
    /// - Throws: `TNError.shape` when a view does not fit; `TNError.memory` when a buffer
    ///   cannot be allocated.
    /// - Complexity: the three projections, then per sequence O(R · N² · d_model) (one GEMM
    ///   K̂ᵀ · W_o) plus O(n · R · d_model); never the n × N × N tensor.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(query: StridedView<T>, key: StridedView<T>, value: StridedView<T>, into output: StridedView<T>) throws {
        try apply(query: query, key: key, value: value, into: output)
    }

    /// `forward` for code in this module (see `SVD.factor` on exported specialisations).
    func apply(query q: StridedView<T>, key k: StridedView<T>, value v: StridedView<T>, into y: StridedView<T>) throws {
        try withLock {
            let (b, n) = try checkedSizes(query: q, key: k, value: v)
            try checkShape(y, [b, n, modelDim], what: "the output")
            if b == 0 || n == 0 { return }
            let p = try project(query: q, key: k, value: v, batch: b, queries: n)
            let (gbar, _) = averagedCore()
            let (r, d) = (rank, modelDim)
            let a = try Workspace<T>(count: try checkedProduct([r, keyLength, d], what: "an intermediate of R · N · d_model"))
            let m = try Workspace<T>(count: r * d)
            let out = try Workspace<T>(count: try checkedProduct([b, n, d], what: "the output"))
            for s in 0..<b {
                contractKeys(p, sequence: s, scale: gbar, a: a.pointer, m: m.pointer)
                // Y_s = Q̂_s · diag(ḡ) · M
                T.product(m: n, n: d, k: r, a: p.q.pointer + s * n * r, lda: r, b: m.pointer, ldb: d,
                          c: out.pointer + s * n * d, ldc: d)
            }
            if let bias = outputMap.biasValues {
                for row in 0..<(b * n) {
                    let o = out.pointer + row * d
                    for j in 0..<d { o[j] += bias[j] }
                }
            }
            TensorKernels.transfer(sizes: y.shape, src: out.pointer, srcStrides: StridedView<T>.contiguousStrides(y.shape),
                                   dst: y.base, dstStrides: y.strides, accumulate: false)
            withExtendedLifetime((p, a, m)) {}
        }
    }

    /// The gradients of sum(Y ⊙ dY) for the Y that `forward` gives on these inputs: every
    /// parameter's (into `gradient(i)`, replacing what was there) and, when their views are
    /// given, Q's, K's and V's. The projections are computed again (nothing is kept between
    /// calls). With Y = Q̂ diag(ḡ) M + b_o (M as in the type's description):
    ///
    ///     dM̃ = Q̂ᵀ dY,  dQ̂ = dY (diag(ḡ) M)ᵀ,  dḡ_r = Σ_o dM̃[r, o] M[r, o],  dM = diag(ḡ) dM̃,
    ///     dV̂[k, r] = Σ_{j,o} K̂[j, r] W_o[j·N + k, o] dM[r, o],
    ///     dK̂[j, r] = Σ_{k,o} V̂[k, r] W_o[j·N + k, o] dM[r, o],
    ///     dW_o[j·N + k, o] = Σ_r K̂[j, r] V̂[k, r] dM[r, o],   db_o = Σ_rows dY,
    ///     dg_h = dḡ / H  (with `softmaxCores`: dθ_h = g_h ⊙ (dg_h − ⟨g_h, dg_h⟩)),
    ///
    /// summed over the batch, then each projection's backward gives W, b and the input's
    /// gradient.
    /// - Parameters:
    ///   - dy: (batch, n, d_model), shaped like the output.
    ///   - query, key, value: the inputs the gradients are taken at.
    ///   - queryGradient, keyGradient, valueGradient: receive dL/dQ, dL/dK, dL/dV (shaped like
    ///     their inputs, distinct buffers); nil to skip one.
    /// - Throws: `TNError.shape` when a view does not fit; `TNError.value` when dy has a NaN
    ///   or an infinity; `TNError.memory` when a buffer cannot be allocated.
    /// - Complexity: about three times the forward.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(_ dy: StridedView<T>, query: StridedView<T>, key: StridedView<T>, value: StridedView<T>,
                         queryGradient: StridedView<T>? = nil, keyGradient: StridedView<T>? = nil,
                         valueGradient: StridedView<T>? = nil) throws {
        try backpropagate(dy, query: query, key: key, value: value, dq: queryGradient, dk: keyGradient, dv: valueGradient)
    }

    /// `backward` for code in this module (see `SVD.factor` on exported specialisations).
    func backpropagate(_ dy: StridedView<T>, query q: StridedView<T>, key k: StridedView<T>, value v: StridedView<T>,
                       dq: StridedView<T>?, dk: StridedView<T>?, dv: StridedView<T>?) throws {
        try withLock {
            let (b, n) = try checkedSizes(query: q, key: k, value: v)
            try checkShape(dy, [b, n, modelDim], what: "dy")
            if let dq { try checkShape(dq, q.shape, what: "the query gradient") }
            if let dk { try checkShape(dk, k.shape, what: "the key gradient") }
            if let dv { try checkShape(dv, v.shape, what: "the value gradient") }
            guard dy.allFinite() else { throw TNError.value("MultiLinearAttention: dy has a NaN or an infinity") }
            if b == 0 || n == 0 {
                for i in parameterShapes.indices { gradient(i).update(repeating: 0) }
                for g in [dk, dv].compactMap({ $0 }) { TensorKernels.fill(sizes: g.shape, dst: g.base, strides: g.strides, value: 0) }
                return
            }
            let p = try project(query: q, key: k, value: v, batch: b, queries: n)
            let (gbar, g) = averagedCore()
            let (r, d, nk) = (rank, modelDim, keyLength)
            let wide = nk * d
            let (dyp, dyCopy) = try StridedView.contiguousValues(dy)
            let dqHat = try Workspace<T>(count: p.q.count)
            let dkHat = try Workspace<T>(count: p.k.count)
            let dvHat = try Workspace<T>(count: p.v.count)
            let a = try Workspace<T>(count: try checkedProduct([r, wide], what: "an intermediate of R · N · d_model"))
            let outer = try Workspace<T>(count: a.count)
            let m = try Workspace<T>(count: r * d)
            let dm = try Workspace<T>(count: r * d)
            let wo = UnsafePointer(outputMap.parameter(0).baseAddress!)
            let dwo = outputMap.gradient(0).baseAddress!
            var dgbar = [Double](repeating: 0, count: r)
            for s in 0..<b {
                let qHat = p.q.pointer + s * n * r, vHat = p.v.pointer + s * nk * r, kHat = p.k.pointer + s * nk * r
                let dys = dyp + s * n * d
                contractKeys(p, sequence: s, scale: nil, a: a.pointer, m: m.pointer)
                // dM̃ = Q̂_sᵀ dY_s, then dḡ, M̃ = diag(ḡ) M and dM = diag(ḡ) dM̃ row by row.
                T.product(transA: true, m: r, n: d, k: n, a: qHat, lda: r, b: dys, ldb: d, c: dm.pointer, ldc: d)
                for j in 0..<r {
                    let mRow = m.pointer + j * d, dRow = dm.pointer + j * d
                    var sum = 0.0
                    for o in 0..<d { sum += Double(mRow[o]) * Double(dRow[o]) }
                    dgbar[j] += sum
                    for o in 0..<d { mRow[o] *= gbar[j]; dRow[o] *= gbar[j] }
                }
                // dQ̂_s = dY_s M̃ᵀ
                T.product(transB: true, m: n, n: r, k: d, a: dys, lda: d, b: m.pointer, ldb: d, c: dqHat.pointer + s * n * r, ldc: r)
                // dV̂_s[:, r] = A_r · dM[r, :]ᵀ
                for j in 0..<r {
                    T.product(m: nk, n: 1, k: d, a: a.pointer + j * wide, lda: d, b: dm.pointer + j * d, ldb: 1,
                              c: dvHat.pointer + s * nk * r + j, ldc: r)
                }
                // outer[r, k, o] = V̂_s[k, r] · dM[r, o]
                for j in 0..<r {
                    let dRow = dm.pointer + j * d
                    for kk in 0..<nk {
                        let c = vHat[kk * r + j]
                        let dst = outer.pointer + j * wide + kk * d
                        for o in 0..<d { dst[o] = c * dRow[o] }
                    }
                }
                // dW_o += K̂_s · outer;  dK̂_s = W_o · outerᵀ
                T.product(m: nk, n: wide, k: r, a: kHat, lda: r, b: outer.pointer, ldb: wide, beta: s == 0 ? 0 : 1,
                          c: dwo, ldc: wide)
                T.product(transB: true, m: nk, n: r, k: wide, a: wo, lda: wide, b: outer.pointer, ldb: wide,
                          c: dkHat.pointer + s * nk * r, ldc: r)
            }
            if let db = outputMap.biasGradientValues {
                db.update(repeating: 0)
                for row in 0..<(b * n) {
                    let src = dyp + row * d
                    for j in 0..<d { db[j] += src[j] }
                }
            }
            // Each block's core gets dḡ / H (through its softmax when the cores are logits).
            let dg = dgbar.map { $0 / Double(blocks) }
            for h in 0..<blocks {
                let row = coreGradient.pointer + h * r
                if softmaxCores {
                    let gh = g[(h * r)..<((h + 1) * r)]
                    let inner = zip(gh, dg).reduce(0.0) { $0 + $1.0 * $1.1 }
                    for j in 0..<r { row[j] = T(gh[h * r + j] * (dg[j] - inner)) }
                } else {
                    for j in 0..<r { row[j] = T(dg[j]) }
                }
            }
            for (map, grad, rows, dx) in [(queryMap, dqHat, p.qRows, dq), (keyMap, dkHat, p.kRows, dk), (valueMap, dvHat, p.vRows, dv)] {
                let dxRows = try dx.map { try StridedView.writableRows($0) }
                try map.backpropagate(StridedView(contiguous: grad.pointer, shape: [rows.shape[0], r]), input: rows,
                                      inputGradient: dxRows?.rows)
                if let dx, let staged = dxRows { StridedView.storeRows(staged.staging, into: dx) }
            }
            withExtendedLifetime((p, dyCopy, a, outer, m, dm, dqHat, dkHat, dvHat)) {}
        }
    }
}
