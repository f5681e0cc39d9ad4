extension TTEmbedding {
    /// The rows of `indices` (or, with `bags`, one reduced row per bag), written into
    /// `output` (count × embeddingDim, row-major, contiguous).
    /// - Parameters:
    ///   - indices: rows to look up, each in 0 ..< numEmbeddings.
    ///   - output: indices.count rows (or bags.offsets.count rows with `bags`).
    ///   - bags: reduces consecutive lookups to one row each (sum or mean), or nil.
    /// - Throws: `TNError.value` for an index out of range (naming it and its position) or
    ///   bad offsets; `TNError.interrupted` when the caller's interrupt check asks to stop.
    /// - Complexity: per distinct row prefix of length k, one (d_1⋯d_{k-1}) × r_{k-1} ×
    ///   d_k r_k product; per lookup, d_1⋯d_{d-1} × r_{d-1} × d_d — independent of numEmbeddings.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(indices: UnsafeBufferPointer<Int64>, output: UnsafeMutablePointer<T>,
                        bags: EmbeddingBags? = nil) throws {
        try withLock {
            try checkIndices(indices)
            try bags?.check(lookups: indices.count)
            let state = try computeStates(indices, skip: paddingIndex)
            saved = state
            let dim = embeddingDim
            guard let bags else {
                try applyLastCore(state, indices: indices, output: output)
                return
            }
            let rows = try pooled(Pool.rows, checkedProduct([indices.count, dim], what: "the looked-up rows"))
            try applyLastCore(state, indices: indices, output: rows.pointer)
            for b in 0..<bags.offsets.count {
                let out = output + b &* dim
                out.update(repeating: 0, count: dim)
                let range = bags.range(b, lookups: indices.count)
                var counted = 0
                for j in range where !isPadding(indices[j]) {
                    let row = rows.pointer + j &* dim
                    for c in 0..<dim { out[c] += row[c] }
                    counted &+= 1
                }
                if bags.mode == .mean, counted > 1 {
                    let scale = 1 / T(counted)
                    for c in 0..<dim { out[c] *= scale }
                }
            }
        }
    }

    /// Gradients of sum(output ⊙ dOutput) for the lookups `indices` (and `bags`): every core's
    /// gradient is overwritten; lookups of the same row add up, the padding index adds
    /// nothing. Reuses the last forward's partial products when the indices and the cores
    /// are unchanged since.
    /// - Parameters:
    ///   - outputGradient: shaped like the forward's output (contiguous rows).
    /// - Throws: as `forward`, and `TNError.value` for a NaN or an infinity in outputGradient.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(indices: UnsafeBufferPointer<Int64>, outputGradient: UnsafePointer<T>,
                         bags: EmbeddingBags? = nil) throws {
        try withLock {
            try checkIndices(indices)
            try bags?.check(lookups: indices.count)
            let dim = embeddingDim
            let outRows = bags?.offsets.count ?? indices.count
            guard TTEmbedding.allFiniteParallel(outputGradient, count: outRows &* dim) else {
                throw TNError.value("TTEmbedding: the output gradient has a NaN or an infinity")
            }
            let state: EmbeddingForwardState<T>
            if let s = saved, s.matches(indices, cores: parameters) { state = s } else {
                state = try computeStates(indices, skip: paddingIndex)
                saved = state
            }
            for g in gradients { g.pointer.update(repeating: 0, count: g.count) }
            guard let bags else {
                try accumulateGradients(state, indices: indices, rowGradient: outputGradient)
                return
            }
            // Each lookup's row gradient is its bag's (divided by the bag's count for mean).
            let rows = try pooled(Pool.rows, checkedProduct([indices.count, dim], what: "the looked-up rows"))
            rows.pointer.update(repeating: 0, count: indices.count &* dim)
            for b in 0..<bags.offsets.count {
                let range = bags.range(b, lookups: indices.count)
                let members = range.filter { !isPadding(indices[$0]) }
                let scale: T = bags.mode == .mean && members.count > 1 ? 1 / T(members.count) : 1
                for j in members {
                    let row = rows.pointer + j &* dim
                    for c in 0..<dim { row[c] = outputGradient[b &* dim &+ c] * scale }
                }
            }
            try accumulateGradients(state, indices: indices, rowGradient: rows.pointer)
        }
    }

    /// `allFinite` split over the workers (the check reads as much memory as the backward).
    static func allFiniteParallel(_ p: UnsafePointer<T>, count: Int) -> Bool {
        let chunks = ConvKernels.chunkCount(count, parallel: count > 1 << 16)
        let verdicts = UnsafeMutableBufferPointer<Bool>.allocate(capacity: chunks)
        verdicts.initialize(repeating: true)
        defer { verdicts.deallocate() }
        ConvKernels.chunked(count, parallel: chunks > 1) { c, range in
            verdicts[c] = allFinite(p + range.lowerBound, count: range.count)
        }
        return verdicts.allSatisfy { $0 }
    }

    /// Whether a lookup of `index` is one of the padding row (zeros, no gradient).
    func isPadding(_ index: Int64) -> Bool { paddingIndex.map { Int64($0) == index } ?? false }

    /// Throws for the first index outside 0 ..< numEmbeddings.
    func checkIndices(_ indices: UnsafeBufferPointer<Int64>) throws {
        let n = Int64(numEmbeddings)
        for (j, v) in indices.enumerated() where v < 0 || v >= n {
            throw TNError.value("TTEmbedding: index \(v) at position \(j) is out of range (0 ..< \(numEmbeddings))")
        }
    }

    /// Slots of `pooled`: each kind's slots start 2^20 apart, and a kind's slot i (a level or a
    /// worker chunk) is its start + i.
    enum Pool {
        static var rows: Int { 0 }
        static var state: Int { 1 << 20 }
        static var stateGradient: Int { 2 << 20 }
        static var gather: Int { 3 << 20 }   // per worker chunk
        static var rowBlock: Int { 4 << 20 }
        static var share: Int { 5 << 20 }
        static var parentSum: Int { 6 << 20 }
    }

    /// Scratch kept between calls (page faults on fresh buffers cost as much as the work
    /// here): slot `key` with room for `count` values, reallocated only to grow. The pool grows
    /// to the largest batch seen; the level states double as the saved forward.
    func pooled(_ key: Int, _ count: Int) throws -> Workspace<T> {
        if let w = pool[key], w.count >= count { return w }
        let w = try Workspace<T>(count: count)
        pool[key] = w
        return w
    }

    /// d_1 ⋯ d_k.
    func columnPrefix(_ k: Int) -> Int { columnPrefixes[k] }

    /// The partial product of level k (1-based) for `key`: a (d_1⋯d_k) × r_k block.
    func statePointer(_ state: [Workspace<T>], level k: Int, key: Int) -> UnsafeMutablePointer<T> {
        if k == 1 { return parameters[0].pointer + key &* columnModes[0] &* ranks[1] }
        return state[k - 2].pointer + key &* columnPrefix(k) &* ranks[k]
    }

    /// The gather structure and the partial products of levels 2 … d − 1 (level d's, the rows,
    /// go straight to the output in `applyLastCore`).
    func computeStates(_ indices: UnsafeBufferPointer<Int64>, skip: Int?) throws -> EmbeddingForwardState<T> {
        let lookup = EmbeddingLookup(indices: indices, rowModes: rowModes, skip: skip)
        var states: [Workspace<T>] = []
        for (l, level) in lookup.levels.dropLast().enumerated() {
            try InterruptCheck.throwIfRequested()
            let k = l + 2, core = parameters[k - 1].pointer
            let above = columnPrefix(k - 1), rIn = ranks[k - 1], width = columnModes[k - 1] &* ranks[k]
            let block = above &* rIn, ldb = rowModes[k - 1] &* width
            let out = try pooled(Pool.state + l, checkedProduct([level.digit.count, above, width], what: "a TT-embedding level"))
            let previous = states
            let work = Double(level.digit.count) * Double(block) * Double(width)
            let chunks = ConvKernels.chunkCount(level.groupDigits.count, parallel: work > 2e5)
            let scratch = try parentScratch(level, block: block, chunks: chunks)
            ConvKernels.chunked(level.groupDigits.count, parallel: chunks > 1) { chunk, groups in
                for g in groups {
                    let lo = level.groupStarts[g], n = level.groupStarts[g + 1] &- lo
                    let a = parentOperand(previous, level: k, parents: level.parent, lo, n, block: block,
                                          scratch: scratch[chunk].pointer)
                    T.gemmOverwriting(transA: false, transB: false, m: n &* above, n: width, k: rIn, a: a, lda: rIn,
                                      b: core + level.groupDigits[g] &* width, ldb: ldb,
                                      c: out.pointer + lo &* above &* width, ldc: width)
                }
            }
            states.append(out)
        }
        let cores = parameters.map { Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count)) }
        return EmbeddingForwardState(lookup: lookup, states: states, indices: Array(indices), cores: cores)
    }

    /// One scratch per worker chunk for a digit group's stacked parents (it stays in cache).
    func parentScratch(_ level: EmbeddingLookup.Level, block: Int, chunks: Int) throws -> [Workspace<T>] {
        try (0..<chunks).map { try pooled(Pool.gather + $0, level.largestGroup &* block) }
    }

    /// The left operand of level k's GEMM for its keys lo ..< lo + n: a single key's parent
    /// product in place, or the parents' products stacked into `scratch`.
    func parentOperand(_ states: [Workspace<T>], level k: Int, parents: [Int], _ lo: Int, _ n: Int, block: Int,
                       scratch: UnsafeMutablePointer<T>) -> UnsafePointer<T> {
        if n == 1 { return UnsafePointer(statePointer(states, level: k - 1, key: parents[lo])) }
        return gatherParents(states, level: k - 1, keys: parents, lo..<(lo + n), block: block, into: scratch)
    }

    /// Copies the partial products of `keys` (one level up) one after another into `into`.
    func gatherParents(_ state: [Workspace<T>], level: Int, keys: [Int], _ range: Range<Int>, block: Int,
                       into: UnsafeMutablePointer<T>) -> UnsafePointer<T> {
        for t in range {
            (into + (t &- range.lowerBound) &* block).update(from: statePointer(state, level: level, key: keys[t]), count: block)
        }
        return UnsafePointer(into)
    }

    /// Output rows (contiguous, one per index; zeros for the padding index): level d's
    /// products, one digit group at a time into a small scratch that stays in cache, copied
    /// to every lookup of their row.
    func applyLastCore(_ state: EmbeddingForwardState<T>, indices: UnsafeBufferPointer<Int64>,
                       output: UnsafeMutablePointer<T>) throws {
        try InterruptCheck.throwIfRequested()
        let dim = embeddingDim, d = rowModes.count, lookup = state.lookup
        if lookup.rows.count < indices.count {
            for (j, v) in indices.enumerated() where isPadding(v) { (output + j &* dim).update(repeating: 0, count: dim) }
        }
        let copyOut = { (t: Int, from: UnsafePointer<T>) in
            // Index loops, not slices: a slice per row costs a retain and a release.
            for q in lookup.keyStarts[t]..<lookup.keyStarts[t + 1] {
                (output + lookup.rows[lookup.keyRows[q]] &* dim).update(from: from, count: dim)
            }
        }
        guard let level = lookup.levels.last else {
            for t in 0..<(lookup.keyStarts.count - 1) { copyOut(t, parameters[0].pointer + t &* dim) }
            return
        }
        let core = parameters[d - 1].pointer
        let above = columnPrefix(d - 1), rIn = ranks[d - 1], width = columnModes[d - 1]
        let block = above &* rIn, ldb = rowModes[d - 1] &* width
        let work = Double(level.digit.count) * Double(block) * Double(width)
        let chunks = ConvKernels.chunkCount(level.groupDigits.count, parallel: work > 2e5)
        let scratch = try (0..<chunks).map { try pooled(Pool.rowBlock + $0, level.largestGroup &* dim) }
        let parents = try parentScratch(level, block: block, chunks: chunks)
        ConvKernels.chunked(level.groupDigits.count, parallel: chunks > 1) { chunk, groups in
            let c = scratch[chunk].pointer
            for g in groups {
                let lo = level.groupStarts[g], n = level.groupStarts[g + 1] &- lo
                let a = parentOperand(state.states, level: d, parents: level.parent, lo, n, block: block,
                                      scratch: parents[chunk].pointer)
                T.gemmOverwriting(transA: false, transB: false, m: n &* above, n: width, k: rIn, a: a, lda: rIn,
                                  b: core + level.groupDigits[g] &* width, ldb: ldb, c: c, ldc: width)
                for m in 0..<n { copyOut(lo &+ m, c + m &* dim) }
            }
        }
    }

    /// Core gradients from the row gradients (one contiguous row per index).
    func accumulateGradients(_ state: EmbeddingForwardState<T>, indices: UnsafeBufferPointer<Int64>,
                             rowGradient dy: UnsafePointer<T>) throws {
        try InterruptCheck.throwIfRequested()
        let dim = embeddingDim, d = rowModes.count, lookup = state.lookup
        // The gradient of a level-d product (a row) is the sum of its lookups' row gradients.
        let sumRows = { (t: Int, to: UnsafeMutablePointer<T>) in
            let lo = lookup.keyStarts[t], hi = lookup.keyStarts[t + 1]
            guard lo < hi else { return }
            to.update(from: dy + lookup.rows[lookup.keyRows[lo]] &* dim, count: dim)
            for q in (lo + 1)..<hi {
                let from = dy + lookup.rows[lookup.keyRows[q]] &* dim
                for c in 0..<dim { to[c] += from[c] }
            }
        }
        if d == 1 {
            // Level 1 is core 0 itself: its slices get the sums directly.
            ConvKernels.chunked(lookup.keyStarts.count - 1, parallel: lookup.rows.count &* dim > 1 << 16) { _, keys in
                for t in keys { sumRows(t, gradients[0].pointer + t &* dim) }
            }
            return
        }
        var dState: Workspace<T>? = nil
        // Levels d … 2: core k's slice gradients per digit group, then the parents' dState.
        for (l, level) in lookup.levels.enumerated().reversed() {
            try InterruptCheck.throwIfRequested()
            let k = l + 2, core = parameters[k - 1].pointer, grad = gradients[k - 1].pointer
            let above = columnPrefix(k - 1), rIn = ranks[k - 1], width = columnModes[k - 1] &* ranks[k]
            let block = above &* rIn, ldb = rowModes[k - 1] &* width
            let keyCount = level.digit.count
            let work = Double(keyCount) * Double(block) * Double(width)
            let current = dState
            let parentCount = level.childStarts.count - 1
            // Level d's gradients (the rows') are summed per digit group into a scratch that stays
            // in cache; lower levels' come from the level above.
            let largest = level.largestGroup
            let chunks = ConvKernels.chunkCount(level.groupDigits.count, parallel: work > 2e5)
            let scratch = k == d ? try (0..<chunks).map { try pooled(Pool.rowBlock + $0, largest &* dim) } : []
            let stacks = try parentScratch(level, block: block, chunks: chunks)
            // The parents' shares (dC · Bᵀ per key) are added into one accumulator per chunk while
            // they are in cache, when those accumulators are smaller than the shares themselves;
            // otherwise every share is kept and each parent sums its children's afterwards.
            let privately = chunks &* parentCount <= keyCount
            let shares = try privately ? (0..<chunks).map { try pooled(Pool.share + $0, largest &* block) }
                                       : [pooled(Pool.share, checkedProduct([keyCount, block], what: "a TT-embedding gradient"))]
            let sums = try privately ? (0..<chunks).map { try pooled(Pool.parentSum + $0, checkedProduct([parentCount, block], what: "a TT-embedding gradient")) }
                                     : []
            ConvKernels.chunked(level.groupDigits.count, parallel: chunks > 1) { chunk, groups in
                if privately { sums[chunk].pointer.update(repeating: 0, count: parentCount &* block) }
                for g in groups {
                    let lo = level.groupStarts[g], n = level.groupStarts[g + 1] &- lo, digit = level.groupDigits[g]
                    let a = parentOperand(state.states, level: k, parents: level.parent, lo, n, block: block,
                                          scratch: stacks[chunk].pointer)
                    let dC: UnsafePointer<T>
                    if let current {
                        dC = UnsafePointer(current.pointer + lo &* above &* width)
                    } else {
                        let rows = scratch[chunk].pointer
                        for m in 0..<n { sumRows(lo &+ m, rows + m &* dim) }
                        dC = UnsafePointer(rows)
                    }
                    // Digits are distinct across groups: each slice gradient is written once, into the
                    // zeroed gradient (beta = 1: no separate clearing pass).
                    T.gemm(transA: true, transB: false, m: rIn, n: width, k: n &* above, alpha: 1, a: a, lda: rIn,
                           b: dC, ldb: width, beta: 1, c: grad + digit &* width, ldc: ldb)
                    let share = privately ? shares[chunk].pointer : shares[0].pointer + lo &* block
                    T.gemmOverwriting(transA: false, transB: true, m: n &* above, n: rIn, k: width, a: dC, lda: width,
                                      b: core + digit &* width, ldb: ldb, c: share, ldc: rIn)
                    if privately {
                        let sum = sums[chunk].pointer
                        for m in 0..<n {
                            let to = sum + level.parent[lo &+ m] &* block, from = share + m &* block
                            for i in 0..<block { to[i] += from[i] }
                        }
                    }
                }
            }
            // The parents' gradients (one level up): the chunks' sums, or their children's shares.
            let target: UnsafeMutablePointer<T>
            if k - 1 >= 2 {
                dState = try pooled(Pool.stateGradient + l - 1, checkedProduct([parentCount, block], what: "a TT-embedding gradient"))
                target = dState!.pointer
            } else {
                target = gradients[0].pointer
            }
            ConvKernels.chunked(parentCount, parallel: work > 2e5) { _, parents in
                for p in parents {
                    let to = target + p &* block
                    if privately {
                        to.update(from: sums[0].pointer + p &* block, count: block)
                        for c in 1..<chunks {
                            let from = sums[c].pointer + p &* block
                            for i in 0..<block { to[i] += from[i] }
                        }
                        continue
                    }
                    let lo = level.childStarts[p], hi = level.childStarts[p + 1]
                    guard lo < hi else { continue }
                    to.update(from: shares[0].pointer + level.childOrder[lo] &* block, count: block)
                    for q in (lo + 1)..<hi {
                        let from = shares[0].pointer + level.childOrder[q] &* block
                        for i in 0..<block { to[i] += from[i] }
                    }
                }
            }
        }
    }
}
