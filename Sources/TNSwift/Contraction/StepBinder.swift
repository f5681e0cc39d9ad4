/// Turns one contraction step over concrete layouts into instructions.
///
/// A pairwise step becomes a GEMM (batched over labels shared by all three tensors) whose
/// M, N and K groups are fused from strides; an operand is copied into a GEMM-friendly layout
/// only when its strides cannot be folded into the GEMM arguments, choosing the group orders
/// that copy the fewest elements. Tiny steps and steps of one or many operands run as loops.
struct StepBinder {
    let sizes: [Int]
    /// Steps with at most this many multiply-adds run as a loop (a BLAS call costs more).
    static let tinyWork = 2048
    /// From this many multiply-adds on, one GEMM is split across the workers. Below it the
    /// hand-off to a second thread costs more than it saves: W2's 0.4–0.8M multiply-add
    /// float64 GEMMs and W5b's batch-1 steps ran 10–15% faster on one thread than split.
    static let parallelGemmWork = 1 << 20
    /// Looping over labels is allowed only while each GEMM keeps at least this much work.
    static let minLoopGemmWork = 1 << 14
    /// What one extra GEMM call costs, in copied elements (about a microsecond).
    static let callCost = 512

    /// A candidate GEMM arrangement: group orders, how many leading M/N labels become loops,
    /// and which tensors can be used in place.
    private struct Plan {
        var cost: Int
        var k: [Int], m: [Int], n: [Int]
        var mSplit: Int, nSplit: Int
        var aOK: Bool, bOK: Bool, cOK: Bool
    }

    /// Scratch slots requested while binding: (slot, element count).
    var scratch: [(slot: Int, count: Int)] = []
    /// Operand copies this binding makes (the forward's are offered to its backward).
    var copies: [CopyRecord] = []
    /// Copies made by the forward run, which a backward binding may read instead of copying.
    var borrowable: [CopyRecord] = []
    /// Slots of this binding that are the forward program's copies: slot → forward slot.
    var borrowed: [Int: Int] = [:]
    var nextSlot: Int
    var instructions: [PlanInstruction] = []

    /// Slots from here on are this binding's scratch (their numbers mean nothing elsewhere).
    let firstScratchSlot: Int

    init(sizes: [Int], firstScratchSlot: Int) {
        self.sizes = sizes
        self.nextSlot = firstScratchSlot
        self.firstScratchSlot = firstScratchSlot
    }

    private func size(_ labels: [Int]) -> Int { labels.reduce(1) { $0 &* sizes[$1] } }

    mutating func newScratch(labels: [Int]) -> SlotLayout {
        let slot = nextSlot
        nextSlot += 1
        scratch.append((slot, Swift.max(1, size(labels))))
        return .contiguous(slot: slot, labels: labels, sizes: sizes)
    }

    /// Where a step writes: a fixed layout (a caller buffer) or a free slot whose layout the
    /// binder chooses (intermediates).
    enum Target {
        case fixed(SlotLayout)
        case free(slot: Int, labels: [Int])

        var labels: [Int] {
            switch self {
            case .fixed(let l): return l.labels
            case .free(_, let labels): return labels
            }
        }
    }

    /// Emits `out = Σ Π inputs` with all labels handled by loops. Returns the output layout.
    mutating func bindDirect(_ inputs: [SlotLayout], _ target: Target) -> SlotLayout {
        let out = resolve(target, preferred: innermostLast(target.labels, of: inputs))
        let outLabels = out.labels
        var all = Set(outLabels)
        var sumLabels: [Int] = []
        for t in inputs { for l in t.labels where !all.contains(l) { all.insert(l); sumLabels.append(l) } }
        let order = outLabels + sumLabels
        instructions.append(.direct(outSizes: outLabels.map { sizes[$0] }, sumSizes: sumLabels.map { sizes[$0] },
                                    operands: inputs.map(\.slot), operandStrides: inputs.map { $0.strides(over: order) },
                                    out: out.slot, outStrides: out.strides))
        return out
    }

    /// `labels` reordered so that the labels the inputs hold innermost (by stride rank) stay
    /// innermost: a loop's output then runs along the dimension its inputs read contiguously
    /// (the rank of a Khatri–Rao product), where `TensorKernels.direct` vectorises. Ties keep
    /// the given order.
    func innermostLast(_ labels: [Int], of inputs: [SlotLayout]) -> [Int] {
        let depth = { (label: Int) -> Int in
            inputs.compactMap { t -> Int? in
                guard let s = t.stride(of: label) else { return nil }
                return t.labels.filter { abs(t.stride(of: $0) ?? 0) < abs(s) }.count
            }.min() ?? Int.max
        }
        let depths = labels.map(depth)
        return labels.indices.sorted { depths[$0] != depths[$1] ? depths[$0] > depths[$1] : $0 < $1 }.map { labels[$0] }
    }

    /// Emits `out = transfer(input)`: permutation, sums over labels `out` lacks, broadcast
    /// over labels `input` lacks.
    mutating func bindUnary(_ input: SlotLayout, _ target: Target) -> SlotLayout {
        let out = resolve(target, preferred: input.labels.filter { target.labels.contains($0) })
        var order = out.labels
        for l in input.labels where !order.contains(l) { order.append(l) }
        instructions.append(.transfer(sizes: order.map { sizes[$0] }, src: input.slot,
                                      srcStrides: input.strides(over: order), dst: out.slot,
                                      dstStrides: out.strides(over: order)))
        return out
    }

    private mutating func resolve(_ target: Target, preferred: [Int]) -> SlotLayout {
        switch target {
        case .fixed(let l): return l
        case .free(let slot, let labels):
            var order = preferred.filter { labels.contains($0) }
            for l in labels where !order.contains(l) { order.append(l) }
            return .contiguous(slot: slot, labels: order, sizes: sizes)
        }
    }

    /// Fused stride of `group` (in this order) in `t`, or nil when the group is not one
    /// evenly strided run. An empty group fuses to stride 0.
    private func fused(_ group: [Int], in t: SlotLayout) -> Int? {
        guard let last = group.last else { return 0 }
        for i in 0..<(group.count - 1) {
            guard let s = t.stride(of: group[i]), let s2 = t.stride(of: group[i + 1]),
                  s == s2 &* sizes[group[i + 1]] else { return nil }
        }
        return t.stride(of: last)
    }

    /// Row-major matrix arguments for rows × cols with fused strides: (transposed, ld), or nil.
    private func matrix(rows: Int, cols: Int, rowStride: Int?, colStride: Int?) -> (Bool, Int)? {
        guard let rs = rowStride, let cs = colStride else { return nil }
        if (cols == 1 || cs == 1) && (rows == 1 || rs >= Swift.max(1, cols)) {
            return (false, rows == 1 ? Swift.max(1, cols) : rs)
        }
        if (rows == 1 || rs == 1) && (cols == 1 || cs >= Swift.max(1, rows)) {
            return (true, cols == 1 ? Swift.max(1, rows) : cs)
        }
        return nil
    }

    /// `group` ordered by its strides in `t`, largest first (the order a GEMM group fuses in).
    func sorted(_ group: [Int], by t: SlotLayout?) -> [Int] {
        guard let t else { return group }
        return group.sorted { abs(t.stride(of: $0) ?? 0) > abs(t.stride(of: $1) ?? 0) }
    }

    /// Emits one pairwise step `target = Σ a * b`. Returns the output layout.
    /// - Throws: `TNError.memory` when a GEMM dimension or leading dimension exceeds the 32-bit
    ///   integers OpenBLAS takes (possible with broadcast views that occupy no memory).
    mutating func bindPair(_ a0: SlotLayout, _ b0: SlotLayout, _ target: Target) throws -> SlotLayout {
        let cLabels = target.labels
        let la = Set(a0.labels), lb = Set(b0.labels), lc = Set(cLabels)
        let work = size(Array(la.union(lb).union(lc)))
        if work <= StepBinder.tinyWork { return bindDirect([a0, b0], target) }

        // Labels only one operand has and the output lacks are summed first.
        var a = a0, b = b0
        for (operand, other) in [(0, lb), (1, la)] {
            let t = operand == 0 ? a0 : b0
            let summed = t.labels.filter { !other.contains($0) && !lc.contains($0) }
            guard !summed.isEmpty else { continue }
            let kept = sorted(t.labels.filter { !summed.contains($0) }, by: t)
            let reduced = bindUnary(t, .free(slot: newScratch(labels: kept).slot, labels: kept))
            if operand == 0 { a = reduced } else { b = reduced }
        }
        let batch = a.labels.filter { lb.contains($0) && lc.contains($0) }
        let mGroup = a.labels.filter { !lb.contains($0) && lc.contains($0) }
        let nGroup = b.labels.filter { !la.contains($0) && lc.contains($0) }
        let kGroup = a.labels.filter { lb.contains($0) && !lc.contains($0) }
        let m = size(mGroup), n = size(nGroup), k = size(kGroup)
        // GEMMs this small lose to a loop over the whole step; so does a batch of small GEMMs
        // whose calls cost more than the loop's multiply-adds (a call ≈ `callCost` of them).
        if m &* n &* k < 64 { return bindDirect([a, b], target) }
        if size(batch) > 1 && m &* n &* k <= StepBinder.callCost { return bindDirect([a, b], target) }

        // Labels of the output that neither operand has are broadcast afterwards.
        var fixedC: SlotLayout? = nil
        var broadcastInto: SlotLayout? = nil
        if case .fixed(let c) = target {
            if c.labels.contains(where: { !la.contains($0) && !lb.contains($0) }) { broadcastInto = c } else { fixedC = c }
        }

        // Choose group orders, and outer M/N labels to loop over, that cost the least: copied
        // elements, plus a charge per extra GEMM call. Looping keeps a caller's layout (or an
        // operand) in place where fusing the whole group would force a copy.
        var kOrders = [sorted(kGroup, by: a), sorted(kGroup, by: b)]
        var mOrders = [sorted(mGroup, by: a)] + (fixedC.map { [sorted(mGroup, by: $0)] } ?? [])
        var nOrders = [sorted(nGroup, by: b)] + (fixedC.map { [sorted(nGroup, by: $0)] } ?? [])
        // The orders of copies already made of an operand, which cost nothing to read again
        // (W5a's weight gradient feeds two GEMMs: one copy of its 1M elements serves both).
        func offer(_ order: [Int], _ group: [Int], to orders: inout [[Int]]) {
            let o = order.filter { group.contains($0) }
            if !orders.contains(o) { orders.append(o) }
        }
        for order in madeOrders(of: a) { offer(order, kGroup, to: &kOrders); offer(order, mGroup, to: &mOrders) }
        for order in madeOrders(of: b) { offer(order, kGroup, to: &kOrders); offer(order, nGroup, to: &nOrders) }
        var best: Plan? = nil
        let sizeC = size(cLabels)
        let batchCount = size(batch)
        for ko in kOrders { for mo in mOrders { for no in nOrders {
            for mSplit in 0...mo.count { for nSplit in 0...no.count {
                let (mi, ni) = (Array(mo[mSplit...]), Array(no[nSplit...]))
                let calls = batchCount &* size(Array(mo[..<mSplit])) &* size(Array(no[..<nSplit]))
                let work = size(mi) &* size(ni) &* k
                if calls > 1 && (mSplit > 0 || nSplit > 0) && work < StepBinder.minLoopGemmWork { continue }
                let aOK = matrix(rows: size(mi), cols: k, rowStride: fused(mi, in: a), colStride: fused(ko, in: a)) != nil
                let bOK = matrix(rows: k, cols: size(ni), rowStride: fused(ko, in: b), colStride: fused(ni, in: b)) != nil
                var cOK = true
                if let c = fixedC { cOK = matrix(rows: size(mi), cols: size(ni), rowStride: fused(mi, in: c), colStride: fused(ni, in: c)) != nil }
                // A copy this binding or the forward run already made costs nothing.
                let aCost = aOK || madeLayout(a, [batch + mo + ko, batch + ko + mo]) != nil ? 0 : copyCost(a, batch + mo + ko)
                let bCost = bOK || madeLayout(b, [batch + ko + no, batch + no + ko]) != nil ? 0 : copyCost(b, batch + ko + no)
                let cCost = cOK ? 0 : fixedC.map { copyOutCost(batch + mo + no, into: $0) } ?? sizeC
                let cost = aCost + bCost + cCost + (calls - batchCount) * StepBinder.callCost
                if best == nil || cost < best!.cost {
                    best = Plan(cost: cost, k: ko, m: mo, n: no, mSplit: mSplit, nSplit: nSplit, aOK: aOK, bOK: bOK, cOK: cOK)
                }
            } }
        } } }
        let choice = best!
        let miChoice = Array(choice.m[choice.mSplit...]), niChoice = Array(choice.n[choice.nSplit...])
        // When C is stored transposed the GEMM runs as Cᵀ = Bᵀ Aᵀ; copies are then laid out
        // so that BLAS reads them untransposed in that call (measurably faster for skinny C).
        var transposedC = false
        if let fc = fixedC, choice.cOK {
            transposedC = matrix(rows: size(miChoice), cols: size(niChoice), rowStride: fused(miChoice, in: fc), colStride: fused(niChoice, in: fc))!.0
        }
        if !choice.aOK {
            let layouts = [batch + choice.m + choice.k, batch + choice.k + choice.m]
            a = copied(a, into: madeLayout(a, layouts) ?? layouts[transposedC ? 1 : 0])
        }
        if !choice.bOK {
            let layouts = [batch + choice.k + choice.n, batch + choice.n + choice.k]
            b = copied(b, into: madeLayout(b, layouts) ?? layouts[transposedC ? 1 : 0])
        }
        let c: SlotLayout
        var copyOut: SlotLayout? = nil
        if let fc = fixedC, choice.cOK {
            c = fc
        } else {
            let labels = batch + choice.m + choice.n
            if case .free(let slot, _) = target, broadcastInto == nil {
                c = .contiguous(slot: slot, labels: labels, sizes: sizes)
            } else {
                c = newScratch(labels: labels)
                copyOut = broadcastInto ?? fixedC
            }
        }
        let loops = batch + Array(choice.m[..<choice.mSplit]) + Array(choice.n[..<choice.nSplit])
        let (mi, ni) = (miChoice, niChoice)
        let (mSize, nSize) = (size(mi), size(ni))
        let (tA, lda) = matrix(rows: mSize, cols: k, rowStride: fused(mi, in: a), colStride: fused(choice.k, in: a))!
        let (tB, ldb) = matrix(rows: k, cols: nSize, rowStride: fused(choice.k, in: b), colStride: fused(ni, in: b))!
        let (tC, ldc) = matrix(rows: mSize, cols: nSize, rowStride: fused(mi, in: c), colStride: fused(ni, in: c))!
        var call = GemmCall(batchSizes: loops.map { sizes[$0] }, batchStridesA: a.strides(over: loops),
                            batchStridesB: b.strides(over: loops), batchStridesC: c.strides(over: loops),
                            a: a.slot, b: b.slot, c: c.slot, m: mSize, n: nSize, k: k, transA: tA, transB: tB,
                            lda: lda, ldb: ldb, ldc: ldc)
        if tC {
            // C is stored transposed: compute Cᵀ = Bᵀ Aᵀ.
            call = GemmCall(batchSizes: call.batchSizes, batchStridesA: call.batchStridesB,
                            batchStridesB: call.batchStridesA, batchStridesC: call.batchStridesC,
                            a: b.slot, b: a.slot, c: c.slot, m: nSize, n: mSize, k: k, transA: !tB, transB: !tA,
                            lda: ldb, ldb: lda, ldc: ldc)
        }
        let limit = Int(Int32.max)
        guard [call.m, call.n, call.k, call.lda, call.ldb, call.ldc].allSatisfy({ $0 <= limit }) else {
            throw TNError.memory("a GEMM of \(call.m)×\(call.k) by \(call.k)×\(call.n) exceeds OpenBLAS's 32-bit sizes")
        }
        instructions.append(.gemm(call))
        if let dst = copyOut {
            var order = dst.labels
            for l in c.labels where !order.contains(l) { order.append(l) }
            instructions.append(.transfer(sizes: order.map { sizes[$0] }, src: c.slot, srcStrides: c.strides(over: order),
                                          dst: dst.slot, dstStrides: dst.strides(over: order)))
            return dst
        }
        return c
    }

    /// The first of `layouts` (label orders) in which this binding or the forward run already
    /// copied `t`.
    private func madeLayout(_ t: SlotLayout, _ layouts: [[Int]]) -> [Int]? {
        guard t.slot < firstScratchSlot, !copies.isEmpty || !borrowable.isEmpty else { return nil }
        return layouts.first { labels in
            let wanted = copyRecord(t, labels)
            return copies.contains { $0.matches(wanted) } || borrowable.contains { $0.matches(wanted) }
        }
    }

    /// The label orders of the copies this binding or the forward run made of `t` as it is laid
    /// out now.
    private func madeOrders(of t: SlotLayout) -> [[Int]] {
        guard t.slot < firstScratchSlot else { return [] }
        return (copies + borrowable).filter { $0.src == t.slot && $0.srcStrides == t.strides(over: $0.labels) }.map(\.labels)
    }

    /// What copying `t` into a contiguous layout with `labels` costs (`copyCost`).
    private func copyCost(_ t: SlotLayout, _ labels: [Int]) -> Int {
        let r = copyRecord(t, labels)
        return StepBinder.copyCost(r.sizes, r.srcStrides, r.dstStrides)
    }

    /// What copying a contiguous result with `labels` into `target` costs (`copyCost`).
    private func copyOutCost(_ labels: [Int], into target: SlotLayout) -> Int {
        StepBinder.copyCost(labels.map { sizes[$0] }, SlotLayout.contiguous(slot: 0, labels: labels, sizes: sizes).strides,
                            target.strides(over: labels))
    }

    private func copyRecord(_ t: SlotLayout, _ labels: [Int]) -> CopyRecord {
        CopyRecord(src: t.slot, labels: labels, sizes: labels.map { sizes[$0] }, srcStrides: t.strides(over: labels),
                   dstStrides: SlotLayout.contiguous(slot: 0, labels: labels, sizes: sizes).strides, slot: 0)
    }

    /// A contiguous copy of `t` with `labels` in this order. A copy this binding already made
    /// is read again; one the forward program made (same source slot and strides) is borrowed.
    private mutating func copied(_ t: SlotLayout, into labels: [Int]) -> SlotLayout {
        let copy = copyRecord(t, labels)
        // Only copies of operands and intermediates are shared: scratch slots are per binding.
        let shareable = t.slot < firstScratchSlot
        if shareable, let made = copies.first(where: { $0.matches(copy) }) {
            return .contiguous(slot: made.slot, labels: labels, sizes: sizes)
        }
        if shareable, let made = borrowable.first(where: { $0.matches(copy) }) {
            let slot = nextSlot
            nextSlot += 1
            borrowed[slot] = made.slot
            return .contiguous(slot: slot, labels: labels, sizes: sizes)
        }
        let s = newScratch(labels: labels)
        instructions.append(.transfer(sizes: copy.sizes, src: t.slot, srcStrides: copy.srcStrides, dst: s.slot, dstStrides: s.strides))
        if shareable {
            var record = copy
            record.slot = s.slot
            copies.append(record)
        }
        return s
    }
}
