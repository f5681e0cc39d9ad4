extension EinsumLayer {
    /// The program for batch size `n`, from the cache or planned now (call under the lock).
    func program(batch n: Int) throws -> LayerProgram<T> {
        if let i = plans.firstIndex(where: { $0.batch == n }) {
            let hit = plans.remove(at: i)
            plans.append(hit)
            return hit.program
        }
        let steps = try chosenSteps(batch: n)
        let e = expression
        let gemm = { () throws -> ContractionPlan<T> in
            let w = self.spec.inputLabels + self.spec.outputLabels
            let x = EinsumExpression(inputs: [e.inputs[0], w], output: e.output, labelNames: e.labelNames,
                                     labelDescriptions: e.labelDescriptions)
            return try ContractionPlan<T>(planning: x, shapes: [[n] + self.inputModes, self.inputModes + self.outputModes])
        }
        let program: LayerProgram<T>
        if parameterShapes.count >= 2 && isRebuild(steps) {
            program = .rebuilt(try gemm())
        } else {
            let costs = try weightCosts(batch: n, steps: steps)
            let reuses = costs.map { $0.gemm < $0.factorized } ?? false
            // Backward after a forward that used the kept W: through W (dx and dW by the GEMM's
            // backward, then dW back through the rebuild) or over the factors, which first
            // repeats the factorized forward for its intermediates.
            let throughWeight = costs.map { 2 * ($0.gemm + $0.build) < 3 * $0.factorized } ?? false
            program = .factorized(try ContractionPlan<T>(planning: expression, shapes: [[n] + inputModes] + parameterShapes,
                                                         strategy: .auto, steps: steps),
                                  reuse: reuses ? try gemm() : nil, backwardThroughWeight: throughWeight)
        }
        plans.append((n, program))
        if plans.count > Self.cachedPlans { plans.removeFirst() }
        return program
    }

    /// Weights of at most this many elements are kept for inference (64 MiB in float32).
    static var reusableWeightLimit: Int { 1 << 24 }

    /// `LayerCostModel` costs for batch `n` of the factorized `steps`, of one GEMM with a kept
    /// W, and of rebuilding W from the parameters; nil when W is too large to keep.
    func weightCosts(batch n: Int, steps: [(Int, Int)]) throws -> (factorized: Double, gemm: Double, build: Double)? {
        let (count, overflow) = inFeatures.multipliedReportingOverflow(by: outFeatures)
        guard parameterShapes.count >= 2, !overflow, count <= Self.reusableWeightLimit else { return nil }
        let e = expression
        let sizes = labelSizes(batch: n)
        let inputs = e.inputs.map { LabelSet($0) }
        let full = PathOptimizer(inputs: inputs, output: LabelSet(e.output), sizes: sizes, memoryLimit: nil)
        let factorized = LayerCostModel.cost(try full.path(steps: steps), sizes: sizes)
        let w = LabelSet(spec.inputLabels + spec.outputLabels)
        let gemm = try PathOptimizer(inputs: [inputs[0], w], output: LabelSet(e.output), sizes: sizes,
                                     memoryLimit: nil).path(.auto)
        let build = try PathOptimizer(inputs: Array(inputs.dropFirst()), output: w, sizes: sizes, memoryLimit: nil).path(.auto)
        return (factorized, LayerCostModel.cost(gemm, sizes: sizes), LayerCostModel.cost(build, sizes: sizes))
    }

    /// Whether one GEMM with a kept W beats the factorized `steps` for batch `n` by
    /// `LayerCostModel`, for a W small enough to keep.
    func reusesWeight(batch n: Int, steps: [(Int, Int)]) throws -> Bool {
        try weightCosts(batch: n, steps: steps).map { $0.gemm < $0.factorized } ?? false
    }

    /// The size of every label for batch `n` (labels the equation does not use: 1).
    func labelSizes(batch n: Int) -> [Double] {
        var sizes = [Double](repeating: 1, count: expression.labelCount)
        for (labels, shape) in zip(expression.inputs, [[n] + inputModes] + parameterShapes) {
            for (l, s) in zip(labels, shape) { sizes[l] = Double(s) }
        }
        return sizes
    }

    /// Whether `steps` contract all parameters before x (the last step joins x with them).
    func isRebuild(_ steps: [(Int, Int)]) -> Bool {
        guard let last = steps.last, last.0 == 0 || last.1 == 0 else { return false }
        return !steps.dropLast().contains { $0.0 == 0 || $0.1 == 0 }
    }

    /// The weight cache, made on first use, refreshed from the current parameters.
    func currentWeight() throws -> WeightCache<T> {
        let cache = try weightCacheObject()
        try cache.refresh(parameterViews)
        return cache
    }

    /// The weight cache, made (not built) on first use.
    func weightCacheObject() throws -> WeightCache<T> {
        if weightCache == nil {
            let e = expression
            let build = EinsumExpression(inputs: Array(e.inputs.dropFirst()), output: spec.inputLabels + spec.outputLabels,
                                         labelNames: e.labelNames, labelDescriptions: e.labelDescriptions)
            weightCache = try WeightCache(build: ContractionPlan<T>(planning: build, shapes: parameterShapes),
                                          parameterCounts: parameters.map(\.count))
        }
        return weightCache!
    }

    /// The pairwise order for batch `n`: the FLOP-optimal path, or — when `LayerCostModel`
    /// rates it cheaper — the path that contracts the parameters first (optimally among
    /// themselves) into W and then does one GEMM with x.
    func chosenSteps(batch n: Int) throws -> [(Int, Int)] {
        let e = expression
        let sizes = labelSizes(batch: n)
        let inputs = e.inputs.map { LabelSet($0) }
        let full = PathOptimizer(inputs: inputs, output: LabelSet(e.output), sizes: sizes, memoryLimit: nil)
        let best = try full.path(.auto)
        let k = parameterShapes.count
        guard k >= 2 else { return best.steps }
        let weightLabels = LabelSet(spec.inputLabels + spec.outputLabels)
        let sub = try PathOptimizer(inputs: Array(inputs.dropFirst()), output: weightLabels, sizes: sizes, memoryLimit: nil).path(.auto)
        guard !sub.isDirect else { return best.steps }
        // Sub-path node j (operand j < k, or step j − k) is node j + 1 of the full path.
        let rebuild = sub.steps.map { ($0.0 + 1, $0.1 + 1) } + [(0, k + sub.steps.count)]
        let alternative = try full.path(steps: rebuild)
        return LayerCostModel.cost(alternative, sizes: sizes) < LayerCostModel.cost(best, sizes: sizes) ? rebuild : best.steps
    }

    /// `v` as (batch, modes…): a (batch, features) view is split into the modes (always
    /// possible without a copy).
    func modeView(_ v: StridedView<T>, modes: [Int], features: Int, what: String, batch: Int? = nil) throws -> StridedView<T> {
        var view = v
        if v.shape.count == 2, v.shape[1] == features, modes.count != 1 {
            let inner = StridedView<T>.contiguousStrides(modes).map { $0 &* v.strides[1] }
            view = try StridedView(base: v.base, shape: [v.shape[0]] + modes, strides: [v.strides[0]] + inner)
        }
        guard view.shape.count == modes.count + 1, Array(view.shape.dropFirst()) == modes else {
            throw TNError.shape("\(what) has shape \(v.shape) but the layer expects (batch, \(features)) or (batch, \(modes.map(String.init).joined(separator: ", ")))")
        }
        if let n = batch, view.shape[0] != n {
            throw TNError.shape("\(what) has batch size \(view.shape[0]) but the input has \(n)")
        }
        return view
    }

    /// y = x · W + b, computed on the factors by the plan for this batch size.
    /// - Parameters:
    ///   - x: (batch, in_features) or (batch, input modes…), any strides.
    ///   - y: (batch, out_features) or (batch, output modes…); may not alias x.
    /// - Throws: `TNError.shape` when x or y does not fit the layer; `TNError.memory` when a
    ///   plan cannot be allocated.
    /// - Complexity: the plan's FLOPs (`planReport(batch:)`).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(_ x: StridedView<T>, into y: StridedView<T>) throws {
        try apply(x, into: y)
    }

    /// `forward` for code in this module (see `SVD.factor` on exported specialisations).
    func apply(_ x: StridedView<T>, into y: StridedView<T>) throws {
        try withLock {
            let xv = try modeView(x, modes: inputModes, features: inFeatures, what: "the input")
            let n = xv.shape[0]
            let yv = try modeView(y, modes: outputModes, features: outFeatures, what: "the output", batch: n)
            switch try program(batch: n) {
            case .factorized(let plan, let reuse, _):
                // Inference: a second forward on unchanged parameters builds W once; later
                // ones with the same parameters are one GEMM.
                if let reuse {
                    let cache = try weightCacheObject()
                    if cache.matches(parameterViews) {
                        try cache.refresh(parameterViews)
                        try reuse.run([xv, cache.weightView], into: yv)
                        break
                    }
                    cache.remember(parameterViews)
                }
                try plan.run([xv] + parameterViews, into: yv)
            case .rebuilt(let gemm):
                try gemm.run([xv, try currentWeight().weightView], into: yv)
            }
            if let bias {
                TensorKernels.transfer(sizes: yv.shape, src: bias.pointer,
                                       srcStrides: [0] + StridedView<T>.contiguousStrides(outputModes),
                                       dst: yv.base, dstStrides: yv.strides, accumulate: true)
            }
        }
    }

    /// The gradients of sum(y · dy) for the y that `forward(x)` gives: every parameter's (into
    /// `gradient(i)`, replacing what was there), the bias's, and x's when `dx` is given.
    /// Intermediates of the last forward are reused when it ran on these same, unchanged
    /// parameters and input.
    /// - Parameters:
    ///   - dy: shaped like y.
    ///   - x: the input the gradients are taken at.
    ///   - dx: receives dL/dx, shaped like x; nil to skip it.
    /// - Throws: `TNError.shape` when a view does not fit; `TNError.value` when dy has a NaN
    ///   or an infinity.
    /// - Complexity: about twice the forward FLOPs.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(_ dy: StridedView<T>, input x: StridedView<T>, inputGradient dx: StridedView<T>?) throws {
        try backpropagate(dy, input: x, inputGradient: dx)
    }

    /// `backward` for code in this module (see `SVD.factor` on exported specialisations).
    func backpropagate(_ dy: StridedView<T>, input x: StridedView<T>, inputGradient dx: StridedView<T>?) throws {
        try withLock {
            let xv = try modeView(x, modes: inputModes, features: inFeatures, what: "the input")
            let n = xv.shape[0]
            let dyv = try modeView(dy, modes: outputModes, features: outFeatures, what: "dy", batch: n)
            let dxv = try dx.map { try modeView($0, modes: inputModes, features: inFeatures, what: "dx", batch: n) }
            guard dyv.allFinite() else { throw TNError.value("dy has a NaN or an infinity") }
            let grads = gradientViews
            // dx and dW by the GEMM's backward, then dW back through the rebuild.
            let throughWeight = { (gemm: ContractionPlan<T>, cache: WeightCache<T>) throws in
                try gemm.gradients(dy: dyv, operands: [xv, cache.weightView], grads: [dxv, cache.gradientView])
                try cache.build.gradients(dy: cache.gradientView, operands: self.parameterViews, grads: grads)
            }
            switch try program(batch: n) {
            case .factorized(let plan, let reuse, let backwardThroughWeight):
                if let reuse, backwardThroughWeight, let cache = weightCache, cache.isCurrent(parameterViews) {
                    try throughWeight(reuse, cache)
                } else {
                    try plan.gradients(dy: dyv, operands: [xv] + parameterViews, grads: [dxv] + grads)
                }
            case .rebuilt(let gemm):
                try throughWeight(gemm, try currentWeight())
            }
            if let biasGradient {
                if n == 0 {
                    biasGradient.pointer.update(repeating: 0, count: outFeatures)
                } else {
                    TensorKernels.transfer(sizes: dyv.shape, src: dyv.base, srcStrides: dyv.strides, dst: biasGradient.pointer,
                                           dstStrides: [0] + StridedView<T>.contiguousStrides(outputModes), accumulate: false)
                }
            }
        }
    }

    /// The weight as a dense in_features × out_features matrix (rows: input modes, C order;
    /// columns: output modes), contracted from the parameters.
    /// - Throws: `TNError.memory` when it cannot be allocated.
    /// - Complexity: the optimal path over the parameters alone.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func denseWeight() throws -> Matrix<T> {
        try withLock {
            let e = EinsumExpression(inputs: Array(expression.inputs.dropFirst()), output: spec.inputLabels + spec.outputLabels,
                                     labelNames: expression.labelNames, labelDescriptions: expression.labelDescriptions)
            let plan = try ContractionPlan<T>(planning: e, shapes: parameterShapes, strategy: .auto)
            let w = try Matrix<T>(uninitializedRows: inFeatures, columns: outFeatures)
            try plan.run(parameterViews, into: StridedView(contiguous: w.storage.pointer, shape: inputModes + outputModes))
            return w
        }
    }
}
