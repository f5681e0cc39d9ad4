/// Layouts of intermediates chosen for the steps that read them.
///
/// A GEMM fuses runs of labels that play one role (batch, row, column, summed). An
/// intermediate laid out only for the step that makes it often splits the runs its reader
/// needs, and the reader then permutes the whole tensor — for the chains of factorized layers,
/// the largest copies of a program. Trying the orders that keep each role's labels together,
/// and pricing each by a dry run of the making step and its readers, removes those copies
/// wherever some order serves both steps.
extension StepBinder {
    /// A step that reads an intermediate: the other operand, where the result goes, and
    /// whether the intermediate is the step's first operand.
    struct Reader {
        var intermediateFirst: Bool
        var other: SlotLayout
        var target: Target
    }

    /// Intermediates with more candidate orders than this keep the plain choice.
    static let maxLookaheadOrders = 256

    /// Every order of `items`.
    static func permutations<E>(_ items: [E]) -> [[E]] {
        guard items.count > 1 else { return [items] }
        var result: [[E]] = []
        for i in items.indices {
            var rest = items
            let first = rest.remove(at: i)
            for tail in permutations(rest) { result.append([first] + tail) }
        }
        return result
    }

    /// What instructions from `start` on cost when layouts are compared, in copied elements
    /// (about a nanosecond each): copies (transposes twice), a loop's multiply-adds (a quarter
    /// when they vectorise), and GEMMs by `gemmCost` plus `callCost` per call beyond one per
    /// instruction.
    func layoutCost(from start: Int) -> Int {
        var total = 0
        for instruction in instructions[start...] {
            switch instruction {
            case .transfer(let sizes, _, let srcStrides, _, let dstStrides):
                total &+= StepBinder.copyCost(sizes, srcStrides, dstStrides)
            case .zero:
                break
            case .direct(let outSizes, let sumSizes, let operands, let strides, _, let outStrides):
                // A two-operand loop that vectorises runs about four times faster.
                let work = (outSizes + sumSizes).reduce(1, &*)
                let vectorised = operands.count == 2 && !outSizes.isEmpty
                    && TensorKernels.directInnerLoop(outSizes: outSizes, sumSizes: sumSizes, aStrides: strides[0],
                                                     bStrides: strides[1], outStrides: outStrides).vectorised
                total &+= vectorised ? work / 4 : work
            case .gemm(let g):
                let calls = g.batchSizes.reduce(1, &*)
                total &+= calls &* StepBinder.gemmCost(g) &+ (calls &- 1) &* StepBinder.callCost
            }
        }
        return total
    }

    /// Elements from which a copy's common run counts as long (64 bytes of floats).
    static let longRun = 16

    /// What a copy costs, in copied elements: a copy that does not read along the run it
    /// writes (a transpose) costs about twice a streaming one (measured on W4's permutes);
    /// one whose common run is shorter than `longRun`, about 1.5 times (W5a's and W5b's
    /// permutes of 4-element runs took 1.45-1.6x a plain copy's time).
    static func copyCost(_ sizes: [Int], _ srcStrides: [Int], _ dstStrides: [Int]) -> Int {
        let elements = sizes.reduce(1, &*)
        let run = commonRun(sizes, srcStrides, dstStrides)
        return run == 0 ? elements &* 2 : run < longRun ? elements &* 3 / 2 : elements
    }

    /// The length of the run a copy reads and writes in step: the innermost of the dimensions
    /// `transfer` loops over (`TensorKernels.mergedDimensions`), or 0 when it is not read
    /// contiguously (a transpose). Dimensions a copy sums over (destination stride 0) are not
    /// written along.
    static func commonRun(_ sizes: [Int], _ srcStrides: [Int], _ dstStrides: [Int]) -> Int {
        let loops = TensorKernels.mergedDimensions(sizes: sizes, srcStrides: srcStrides, dstStrides: dstStrides)
        guard let inner = loops.sizes.indices.last, loops.dst[inner] != 0 else { return 1 }
        return abs(loops.src[inner]) == 1 ? loops.sizes[inner] : 0
    }

    /// One GEMM's time in copied elements. OpenBLAS's sgemm on one core runs about 40
    /// multiply-adds per copied element's time when every side is long; a side of x runs at
    /// x/(x+6) of that (x/(x+10) for k), as measured here for x from 2 to 64 — so a layout that
    /// saves a copy by making a GEMM skinny can lose. Each matrix whose rows are not packed
    /// (leading dimension beyond its row length) costs another 40%: W4's batched GEMMs ran
    /// 1.7x slower on rows 32 KiB apart than on packed ones.
    static func gemmCost(_ g: GemmCall) -> Int {
        let side = { (x: Int, half: Double) in Double(x) / (Double(x) + half) }
        var efficiency = side(g.m, 6) * side(g.n, 6) * side(g.k, 10)
        for (ld, row) in [(g.lda, g.transA ? g.m : g.k), (g.ldb, g.transB ? g.k : g.n), (g.ldc, g.n)] where ld > row {
            efficiency *= 0.6
        }
        // Clamped: a cost is compared, never run, and must not trap converting a huge product.
        return Int(Swift.min(Double(g.m) * Double(g.n) * Double(g.k) / (40 * efficiency), 1e15))
    }

    /// Emits `slot = Σ a * b` for an intermediate with `labels`, in the layout that makes this
    /// step and its `readers` cheapest (the plain `bindPair` choice on ties).
    /// - Throws: what `bindPair` throws for the chosen layout.
    mutating func bindIntermediate(_ a: SlotLayout, _ b: SlotLayout, slot: Int, labels: [Int],
                                   readers: [Reader]) throws -> SlotLayout {
        let free = Target.free(slot: slot, labels: labels)
        let orders = readers.isEmpty ? [] : candidateOrders(labels, a, b, readers)
        guard !orders.isEmpty else { return try bindPair(a, b, free) }
        var best = (target: free, cost: trialCost(a, b, free, readers) ?? Int.max)
        for order in orders {
            let target = Target.fixed(.contiguous(slot: slot, labels: order, sizes: sizes))
            if let cost = trialCost(a, b, target, readers), cost < best.cost { best = (target, cost) }
        }
        return try bindPair(a, b, best.target)
    }

    /// The cost of binding the step into `target` and then its readers, on a copy of this
    /// binder (nil when some binding throws).
    private func trialCost(_ a: SlotLayout, _ b: SlotLayout, _ target: Target, _ readers: [Reader]) -> Int? {
        var trial = self
        let start = trial.instructions.count
        guard let made = try? trial.bindPair(a, b, target) else { return nil }
        for r in readers {
            let bound = r.intermediateFirst ? try? trial.bindPair(made, r.other, r.target)
                                            : try? trial.bindPair(r.other, made, r.target)
            if bound == nil { return nil }
        }
        return trial.layoutCost(from: start)
    }

    /// The intermediate's labels grouped into cells by their role in the step that makes it
    /// and in every reader, then the orders of the cells that keep each role of the first
    /// reader together (empty when there are more than `maxLookaheadOrders`). Within a cell,
    /// labels keep the order of their operand's strides (as `bindPair` orders a group).
    private func candidateOrders(_ labels: [Int], _ a: SlotLayout, _ b: SlotLayout, _ readers: [Reader]) -> [[Int]] {
        let la = Set(a.labels)
        var cells: [[Int]] = []
        var keys: [[Int]] = []
        for label in labels {
            var key = [la.contains(label) ? (b.stride(of: label) != nil ? 0 : 1) : 2]
            for r in readers {
                let inOther = r.other.stride(of: label) != nil, inOut = r.target.labels.contains(label)
                key.append(inOther ? (inOut ? 0 : 1) : (inOut ? 2 : 3))
            }
            if let i = keys.firstIndex(of: key) { cells[i].append(label) } else { keys.append(key); cells.append([label]) }
        }
        guard cells.count > 1 else { return [] }
        cells = cells.map { cell in sorted(cell, by: la.contains(cell[0]) ? a : b) }
        // Only orders that keep together the cells of one role in the first reader: the others
        // make that reader copy, which the plain choice already prices.
        var groups: [[[Int]]] = []
        var roles: [Int] = []
        for (cell, key) in zip(cells, keys) {
            if let i = roles.firstIndex(of: key[1]) { groups[i].append(cell) } else { roles.append(key[1]); groups.append([cell]) }
        }
        var orders: [[Int]] = []
        for groupOrder in StepBinder.permutations(groups) {
            var partial: [[Int]] = [[]]
            for group in groupOrder {
                let inner = StepBinder.permutations(group).map { $0.flatMap { $0 } }
                partial = partial.flatMap { p in inner.map { p + $0 } }
            }
            orders += partial
            if orders.count > StepBinder.maxLookaheadOrders { return [] }
        }
        return orders
    }
}
