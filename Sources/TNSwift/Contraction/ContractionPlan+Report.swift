extension ContractionPlan {
    /// Largest step result in elements (the output included, as opt_einsum counts it).
    public var largestIntermediate: Int {
        if path.isDirect || path.steps.isEmpty { return outputShape.reduce(1, *) }
        return (operandCount..<path.nodeLabels.count).map { node in
            path.nodeLabels[node].elements.reduce(1) { $0 &* labelSizes[$1] }
        }.max() ?? 1
    }

    /// The kernel a step runs, from its label classes.
    func kernelName(step s: Int) -> String {
        let (x, y) = path.steps[s]
        let labelsOf = { (node: Int) -> Set<Int> in
            node < self.operandCount ? Set(self.operandLabels[node]) : Set(self.nodeLabels[node]!)
        }
        let a = labelsOf(x), b = labelsOf(y), c = Set(nodeLabels[operandCount + s]!)
        let batch = a.intersection(b).intersection(c)
        let k = a.intersection(b).subtracting(c)
        let m = a.intersection(c).subtracting(b), n = b.intersection(c).subtracting(a)
        let work = a.union(b).union(c).reduce(1) { $0 &* labelSizes[$1] }
        if work <= StepBinder.tinyWork { return "loop" }
        if k.isEmpty && batch.isEmpty { return "outer" }
        if m.isEmpty && n.isEmpty && batch.isEmpty { return "dot" }
        if k.isEmpty || (m.isEmpty && n.isEmpty) { return "other" }
        return batch.isEmpty ? "GEMM" : "batched GEMM"
    }

    /// A printable report like opt_einsum's: FLOPs, scaling, largest intermediate, and per step
    /// the labels and the kernel.
    public var report: String {
        let e = expression
        let term = { (labels: [Int]) in labels.map { e.labelNames[$0] }.joined() }
        let naiveScaling = Set(e.inputs.joined()).count
        var lines: [String] = []
        func row(_ k: String, _ v: String) { lines.append(String(repeating: " ", count: max(0, 22 - k.count)) + k + ":  " + v) }
        row("Complete contraction", e.equation)
        row("Naive scaling", "\(naiveScaling)")
        var optScaling = 0
        for node in operandCount..<path.nodeLabels.count {
            let (x, y) = path.steps[node - operandCount]
            optScaling = max(optScaling, path.nodeLabels[x].union(path.nodeLabels[y]).count)
        }
        row("Optimized scaling", "\(path.isDirect || path.steps.isEmpty ? naiveScaling : optScaling)")
        row("Naive FLOP count", formatFlops(path.naiveFlops))
        row("Optimized FLOP count", formatFlops(path.optimizedFlops))
        row("Theoretical speedup", formatFlops(path.naiveFlops / max(path.optimizedFlops, 1)))
        row("Largest intermediate", formatFlops(Double(largestIntermediate)) + " elements")
        let rule = String(repeating: "-", count: 88)
        lines.append(rule)
        lines.append(pad("scaling", 9) + pad("kernel", 14) + pad("current", 30) + "remaining")
        lines.append(rule)
        if path.isDirect || path.steps.isEmpty {
            let kind = path.isDirect ? "direct loop (memory limit: no pairwise path fits)" : "transfer (sum/permute)"
            lines.append(pad("\(naiveScaling)", 9) + pad(path.isDirect ? "direct" : "other", 14) + pad(e.equation, 30) + kind)
        } else {
            var live: [Int] = Array(0..<operandCount)
            let labelsOfNode = { (node: Int) -> [Int] in node < self.operandCount ? self.expression.inputs[node] : self.path.nodeLabels[node].elements }
            for (s, (x, y)) in path.steps.enumerated() {
                let node = operandCount + s
                live.removeAll { $0 == x || $0 == y }
                live.append(node)
                let result = s == path.steps.count - 1 ? e.output : path.nodeLabels[node].elements
                let current = term(labelsOfNode(x)) + "," + term(labelsOfNode(y)) + "->" + term(result)
                let remaining = live.map { term($0 == node ? result : labelsOfNode($0)) }.joined(separator: ",") + "->" + term(e.output)
                let scaling = path.nodeLabels[x].union(path.nodeLabels[y]).count
                lines.append(pad("\(scaling)", 9) + pad(kernelName(step: s), 14) + pad(current, 30) + remaining)
            }
        }
        return lines.joined(separator: "\n")
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}

/// `1.234e+07`-style formatting without Foundation.
func formatFlops(_ x: Double) -> String {
    guard x.isFinite, x > 0 else { return x == 0 ? "0.000e+00" : "\(x)" }
    var exp = 0
    var m = x
    while m >= 10 { m /= 10; exp += 1 }
    while m < 1 { m *= 10; exp -= 1 }
    var digits = Int((m * 1000).rounded())
    if digits >= 10000 { digits /= 10; exp += 1 }
    let mant = "\(digits / 1000).\(String(repeating: "0", count: 3 - String(digits % 1000).count))\(digits % 1000)"
    let e = abs(exp) < 10 ? "0\(abs(exp))" : "\(abs(exp))"
    return mant + (exp < 0 ? "e-" : "e+") + e
}
