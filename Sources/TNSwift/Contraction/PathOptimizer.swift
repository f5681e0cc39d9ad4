/// Chooses the pairwise contraction order for given label sets and sizes.
///
/// Costs follow opt_einsum: a step over labels L costs prod(sizes of L), doubled when it sums
/// a label away; an intermediate keeps the labels still needed by other operands or the output.
public struct PathOptimizer {
    /// `auto` uses the optimal search up to this many operands.
    public static let autoOptimalLimit = 10
    /// `optimal` refuses more operands than this (3^n work).
    public static let optimalLimit = 16

    let inputs: [LabelSet]
    let output: LabelSet
    let sizes: [Double]
    let memoryLimit: Double

    /// - Parameters:
    ///   - inputs: the distinct labels of each operand.
    ///   - output: the output labels.
    ///   - sizes: size of each label.
    ///   - memoryLimit: largest intermediate allowed in elements (`nil`: none). The output
    ///     itself is the caller's buffer and is not limited.
    public init(inputs: [LabelSet], output: LabelSet, sizes: [Double], memoryLimit: Int?) {
        self.inputs = inputs
        self.output = output
        self.sizes = sizes
        self.memoryLimit = memoryLimit.map(Double.init) ?? .infinity
    }

    /// FLOPs of contracting `a` with `b` when `keep` labels survive.
    @inline(__always)
    func stepFlops(_ a: LabelSet, _ b: LabelSet, keep: LabelSet) -> Double {
        let all = a.union(b)
        return all.size(sizes) * (all.subtracting(keep).isEmpty ? 1 : 2)
    }

    /// FLOPs of doing the whole contraction in one loop, as opt_einsum counts them (its
    /// "inner product" flag is set when operands share a label).
    public var naiveFlops: Double {
        let all = inputs.reduce(LabelSet()) { $0.union($1) }
        let shared = inputs.reduce(0) { $0 + $1.count } > all.count
        return all.size(sizes) * Double(max(1, inputs.count - 1) + (shared ? 1 : 0))
    }

    /// FLOPs of a single operand's sums and permutation, as opt_einsum counts its one step.
    var singleOperandFlops: Double {
        guard let only = inputs.first else { return 0 }
        return only.size(sizes) * (only.subtracting(output).isEmpty ? 1 : 2)
    }

    /// - Throws: `TNError.value` when `optimal` is asked for too many operands.
    /// - Complexity: O(3^n) for the optimal search, O(n^3) for greedy.
    public func path(_ strategy: PathStrategy) throws -> ContractionPath {
        let n = inputs.count
        if n <= 1 { return finish(steps: []) }
        switch strategy {
        case .optimal:
            guard n <= PathOptimizer.optimalLimit else {
                throw TNError.value("optimal path search handles at most \(PathOptimizer.optimalLimit) operands (got \(n)); use 'greedy' or 'auto'")
            }
            return optimal() ?? direct()
        case .auto:
            return (n <= PathOptimizer.autoOptimalLimit ? optimal() : greedy()) ?? direct()
        case .greedy:
            return greedy() ?? direct()
        case .none:
            return leftToRight() ?? direct()
        }
    }

    /// A path with the given pairwise steps (node numbering as in `ContractionPath`).
    /// - Throws: `TNError.value` unless the steps form one tree over all operands, each node
    ///   used once.
    func path(steps: [(Int, Int)]) throws -> ContractionPath {
        let n = inputs.count
        guard steps.count == Swift.max(n - 1, 0) else {
            throw TNError.value("a path over \(n) operands needs \(Swift.max(n - 1, 0)) steps (got \(steps.count))")
        }
        var live = Set(0..<n)
        for (s, (a, b)) in steps.enumerated() {
            guard a != b, live.contains(a), live.contains(b) else {
                throw TNError.value("path step \(s) (\(a), \(b)) does not join two live nodes")
            }
            live.remove(a); live.remove(b); live.insert(n + s)
        }
        return finish(steps: steps)
    }

    private func direct() -> ContractionPath {
        var p = finish(steps: [])
        p.isDirect = true
        return p
    }

    /// Labels of a node made of `members` that are still needed outside it.
    private func kept(_ labels: LabelSet, outside: LabelSet) -> LabelSet {
        labels.intersection(outside.union(output))
    }

    /// Builds node labels and step costs for a step list.
    private func finish(steps: [(Int, Int)]) -> ContractionPath {
        let n = inputs.count
        var nodeLabels = inputs
        var flops: [Double] = []
        var live = Set(0..<n)
        for (a, b) in steps {
            live.remove(a); live.remove(b)
            let outside = live.reduce(LabelSet()) { $0.union(nodeLabels[$1]) }
            let res = kept(nodeLabels[a].union(nodeLabels[b]), outside: outside)
            flops.append(stepFlops(nodeLabels[a], nodeLabels[b], keep: res))
            live.insert(nodeLabels.count)
            nodeLabels.append(res)
        }
        return ContractionPath(operandCount: n, steps: steps, nodeLabels: nodeLabels,
                               stepFlops: n == 1 ? [singleOperandFlops] : flops, naiveFlops: naiveFlops, isDirect: false)
    }

    /// Dynamic programming over subsets; nil when no tree fits the memory limit.
    private func optimal() -> ContractionPath? {
        let n = inputs.count
        let full = (1 << n) - 1
        var labels = [LabelSet](repeating: LabelSet(), count: full + 1)
        for s in 1...full {
            let low = s & -s
            labels[s] = labels[s & (s - 1)].union(inputs[low.trailingZeroBitCount])
        }
        // What a subset contributes to a step: all labels of a single operand (its own sums
        // happen in its first step), the still-needed labels of an intermediate.
        var need = [LabelSet](repeating: LabelSet(), count: full + 1)
        for s in 1...full { need[s] = s & (s - 1) == 0 ? labels[s] : kept(labels[s], outside: labels[full ^ s]) }
        var cost = [Double](repeating: .infinity, count: full + 1)
        var split = [Int](repeating: 0, count: full + 1)
        for k in 0..<n { cost[1 << k] = 0 }
        for s in 1...full where s & (s - 1) != 0 {
            if s != full && need[s].size(sizes) > memoryLimit { continue }
            let low = s & -s
            // Enumerate splits whose first part holds the lowest member (each split once).
            var a = (s - 1) & s
            while a > 0 {
                if a & low != 0 {
                    let b = s ^ a
                    let c = cost[a] + cost[b]
                    if c < cost[s] {
                        let total = c + stepFlops(need[a], need[b], keep: need[s])
                        if total < cost[s] { cost[s] = total; split[s] = a }
                    }
                }
                a = (a - 1) & s
            }
        }
        guard cost[full].isFinite else { return nil }
        var steps: [(Int, Int)] = []
        var nextNode = n
        func build(_ s: Int) -> Int {
            if s & (s - 1) == 0 { return s.trailingZeroBitCount }
            let l = build(split[s]), r = build(s ^ split[s])
            steps.append((l, r))
            nextNode += 1
            return nextNode - 1
        }
        _ = build(full)
        return finish(steps: steps)
    }

    /// Greedy: the pair that removes the most memory, preferring pairs that share labels.
    private func greedy() -> ContractionPath? {
        var nodes = inputs
        var live = Array(0..<inputs.count)
        var steps: [(Int, Int)] = []
        while live.count > 1 {
            var best: (score: Double, flops: Double, i: Int, j: Int, shared: Bool)? = nil
            for x in 0..<live.count {
                for y in (x + 1)..<live.count {
                    let a = nodes[live[x]], b = nodes[live[y]]
                    let shared = !a.intersection(b).isEmpty
                    if let bst = best, bst.shared && !shared { continue }
                    var outside = LabelSet()
                    for (z, node) in live.enumerated() where z != x && z != y { outside = outside.union(nodes[node]) }
                    let res = kept(a.union(b), outside: outside)
                    let resSize = res.size(sizes)
                    if live.count > 2 && resSize > memoryLimit { continue }
                    let score = resSize - a.size(sizes) - b.size(sizes)
                    let f = stepFlops(a, b, keep: res)
                    let better: Bool
                    if let bst = best {
                        if shared != bst.shared { better = shared }
                        else { better = score < bst.score || (score == bst.score && f < bst.flops) }
                    } else { better = true }
                    if better { best = (score, f, x, y, shared) }
                }
            }
            guard let b = best else { return nil }
            let (na, nb) = (live[b.i], live[b.j])
            var outside = LabelSet()
            for (z, node) in live.enumerated() where z != b.i && z != b.j { outside = outside.union(nodes[node]) }
            steps.append((na, nb))
            nodes.append(kept(nodes[na].union(nodes[nb]), outside: outside))
            live.remove(at: b.j)
            live.remove(at: b.i)
            live.append(nodes.count - 1)
        }
        return finish(steps: steps)
    }

    /// Left to right: ((0,1),2),…; nil when an intermediate exceeds the memory limit.
    private func leftToRight() -> ContractionPath? {
        let n = inputs.count
        var steps: [(Int, Int)] = []
        var acc = 0
        for k in 1..<n {
            steps.append((acc, k))
            acc = n + k - 1
        }
        let p = finish(steps: steps)
        for node in n..<(p.nodeLabels.count - 1) where p.nodeLabels[node].size(sizes) > memoryLimit { return nil }
        return p
    }
}
