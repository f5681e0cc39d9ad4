extension EinsumLayer {
    /// The forward plan for `batch` and how it compares with a dense layer.
    /// - Throws: `TNError.value` for a negative batch; `TNError.memory` when the plan cannot
    ///   be allocated.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func planReport(batch: Int) throws -> LayerPlanReport {
        guard batch >= 0 else { throw TNError.value("the batch size must be non-negative (got \(batch))") }
        return try withLock {
            let plan = try plan(batch: batch)
            let path = plan.path
            // Which original operands each node holds; the weight is rebuilt when the last step
            // joins x alone with all parameters.
            var members: [Set<Int>] = (0..<path.operandCount).map { [$0] }
            for (a, b) in path.steps { members.append(members[a].union(members[b])) }
            var rebuilt = false
            if let (a, b) = path.steps.last, !path.isDirect {
                let params = Set(1..<path.operandCount)
                rebuilt = (members[a] == [0] && members[b] == params) || (members[b] == [0] && members[a] == params)
            }
            let size = MemoryLayout<T>.stride
            let biasCount = hasBias ? outFeatures : 0
            return LayerPlanReport(batch: batch, flops: path.optimizedFlops,
                                   denseFlops: 2 * Double(batch) * Double(inFeatures) * Double(outFeatures),
                                   reconstructsWeight: rebuilt, parameterBytes: parameterCount * size,
                                   denseBytes: (inFeatures * outFeatures + biasCount) * size,
                                   largestIntermediate: plan.largestIntermediate, planReport: plan.report)
        }
    }

    /// The dense weight's parameter count over this layer's (with biases on both sides).
    public var compression: Double {
        Double(inFeatures * outFeatures + (hasBias ? outFeatures : 0)) / Double(parameterCount)
    }
}
