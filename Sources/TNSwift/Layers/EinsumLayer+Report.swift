extension EinsumLayer {
    /// The forward plan for `batch` and how it compares with a dense layer.
    /// - Throws: `TNError.value` for a negative batch; `TNError.memory` when the plan cannot
    ///   be allocated.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func planReport(batch: Int) throws -> LayerPlanReport {
        guard batch >= 0 else { throw TNError.value("the batch size must be non-negative (got \(batch))") }
        return try withLock {
            let steps = try chosenSteps(batch: batch)
            let plan = try ContractionPlan<T>(planning: expression, shapes: [[batch] + inputModes] + parameterShapes,
                                              strategy: .auto, steps: steps)
            let reuses = try !isRebuild(steps) && reusesWeight(batch: batch, steps: steps)
            let size = MemoryLayout<T>.stride
            let biasCount = hasBias ? outFeatures : 0
            return LayerPlanReport(batch: batch, flops: plan.path.optimizedFlops,
                                   denseFlops: 2 * Double(batch) * Double(inFeatures) * Double(outFeatures),
                                   reconstructsWeight: parameterShapes.count >= 2 && isRebuild(steps),
                                   reusesWeight: reuses,
                                   parameterBytes: parameterCount * size,
                                   denseBytes: Int(exactly: (Double(inFeatures) * Double(outFeatures) + Double(biasCount)) * Double(size)) ?? Int.max,
                                   largestIntermediate: plan.largestIntermediate, planReport: plan.report)
        }
    }

    /// The dense weight's parameter count over this layer's (with biases on both sides).
    public var compression: Double {
        (Double(inFeatures) * Double(outFeatures) + Double(hasBias ? outFeatures : 0)) / Double(parameterCount)
    }
}
