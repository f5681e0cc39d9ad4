extension ContractionPlan {
    /// Operand i repeats a label (its gradient lives on a diagonal, so the rest is zeroed).
    func hasDiagonal(_ i: Int) -> Bool { operandDims[i].contains { $0.count > 1 } }

    /// What a backward program is bound for: the forward's strides, dy's, and for each operand
    /// whether its gradient is wanted (a leading 1 or 0) and its strides.
    func backwardKey(_ fwd: BoundProgram<T>, _ dyStrides: [Int], _ gradStrides: [[Int]?]) -> [[Int]] {
        fwd.key + [dyStrides] + gradStrides.map { $0.map { [1] + $0 } ?? [0] }
    }

    func bindBackward(forward fwd: BoundProgram<T>, dyStrides: [Int], gradStrides: [[Int]?]) throws -> BoundProgram<T> {
        var binder = StepBinder(sizes: labelSizes, firstScratchSlot: firstScratchSlot)
        binder.borrowable = fwd.copies
        let n = operandCount
        let inputs = (0..<n).map { operandLayout($0, strides: fwd.key[$0]) }
        let dy = outputLayout(strides: dyStrides, slot: dySlot)
        let grads: [SlotLayout?] = (0..<n).map { i in gradStrides[i].map { operandLayout(i, strides: $0, slot: gradSlot(i)) } }
        var extra: [(Int, Int)] = []
        for i in 0..<n {
            guard let g = gradStrides[i] else { continue }
            if isEmpty || hasDiagonal(i) { binder.instructions.append(.zero(dst: gradSlot(i), sizes: shapes[i], strides: g)) }
        }
        if isEmpty {
            // Nothing more: every gradient is zero.
        } else if path.isDirect {
            for i in 0..<n { if let g = grads[i] { _ = binder.bindDirect(inputs.enumerated().filter { $0.offset != i }.map(\.element) + [dy], .fixed(g)) } }
        } else if n == 1 {
            if let g = grads[0] { _ = binder.bindUnary(dy, .fixed(g)) }
        } else {
            // Which nodes lead to a requested operand.
            var needs = (0..<n).map { grads[$0] != nil }
            for (x, y) in path.steps { needs.append(needs[x] || needs[y]) }
            var layouts = fwd.nodeLayouts
            var dLayouts: [Int: SlotLayout] = [n + path.steps.count - 1: dy]
            for s in stride(from: path.steps.count - 1, through: 0, by: -1) {
                let (x, y) = path.steps[s]
                let node = n + s
                guard needs[node], let dC = dLayouts[node] else { continue }
                for (p, q) in [(x, y), (y, x)] where needs[p] {
                    if p < n {
                        dLayouts[p] = try binder.bindPair(dC, layouts[q]!, .fixed(grads[p]!))
                    } else {
                        extra.append((dnodeSlot(p), Swift.max(1, nodeLabels[p]!.reduce(1) { $0 * labelSizes[$1] })))
                        // The gradient of intermediate p is read by the backward of the step that made p.
                        let (px, py) = path.steps[p - n]
                        let readers = [(px, py), (py, px)].filter { needs[$0.0] }.map { g, other in
                            StepBinder.Reader(intermediateFirst: true, other: layouts[other]!,
                                              target: g < n ? .fixed(grads[g]!) : .free(slot: dnodeSlot(g), labels: nodeLabels[g]!))
                        }
                        dLayouts[p] = try binder.bindIntermediate(dC, layouts[q]!, slot: dnodeSlot(p),
                                                                  labels: nodeLabels[p]!, readers: readers)
                    }
                }
                layouts[node] = nil
            }
        }
        var owned = try ownedBuffers(binder, extra: extra)
        for (slot, forwardSlot) in binder.borrowed { owned[slot] = fwd.owned[forwardSlot] }
        return BoundProgram(instructions: binder.instructions, owned: owned,
                            slotCount: binder.nextSlot, nodeLayouts: [:],
                            key: backwardKey(fwd, dyStrides, gradStrides), nodeBuffers: slotBuffers)
    }

    /// Gradients of `sum(out * dy)` with respect to the operands whose `grads` entry is given.
    ///
    /// Reuses the intermediates of the last `execute` when `operands` are the same buffers with
    /// the same strides and unchanged content fingerprints (see `Fingerprint`); otherwise
    /// recomputes them first.
    /// - Throws: `TNError.shape` when a view's shape differs from the plan's.
    /// - Complexity: about twice the forward FLOPs per requested operand chain.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(dy: StridedView<T>, operands: [StridedView<T>], grads: [StridedView<T>?]) throws {
        try gradients(dy: dy, operands: operands, grads: grads)
    }

    /// `backward` for code in this module (see `SVD.factor` on exported specialisations).
    func gradients(dy: StridedView<T>, operands: [StridedView<T>], grads: [StridedView<T>?]) throws {
        try checkShapes(operands, expected: shapes) { $0 < 0 ? "operands" : "operand \($0)" }
        guard dy.shape == outputShape else {
            throw TNError.shape("dy has shape \(dy.shape) but the result has shape \(outputShape)")
        }
        guard grads.count == operandCount else {
            throw TNError.shape("expected \(operandCount) gradient slots but got \(grads.count)")
        }
        for (i, g) in grads.enumerated() {
            if let g, g.shape != shapes[i] {
                throw TNError.shape("the gradient of operand \(i) has shape \(g.shape) but the operand has shape \(shapes[i])")
            }
        }
        // Address ranges computed once: this check runs on every backward call.
        let given = grads.compactMap { $0 }.map(Overlap.range), inputsRead = (operands + [dy]).map(Overlap.range)
        let aliased = given.indices.contains { i in
            inputsRead.contains { Overlap.meet(given[i], $0) } || given.indices.contains { $0 != i && Overlap.meet(given[i], given[$0]) }
        }
        if aliased {
            // Gradients that alias inputs are computed in fresh memory, then copied.
            let temps = try grads.map { g in try g.map { try Workspace<T>(count: $0.count) } }
            // The views point into `temps`: keep them alive until the copies are done.
            try withExtendedLifetime(temps) {
                let views = zip(grads, temps).map { g, t in g.map { StridedView(contiguous: t!.pointer, shape: $0.shape) } }
                try gradients(dy: dy, operands: operands, grads: views)
                for (g, v) in zip(grads, views) {
                    if let g, let v {
                        TensorKernels.transfer(sizes: g.shape, src: v.base, srcStrides: v.strides, dst: g.base, dstStrides: g.strides, accumulate: false)
                    }
                }
            }
            return
        }
        try withLock {
            let strides = operands.map(\.strides)
            // Reuse the kept intermediates only if they were computed from these very operands,
            // unchanged since (same buffers, strides and content fingerprints).
            let saved = savedStrides == strides && savedOperands.elementsEqual(operands.map { UnsafeMutableRawPointer($0.base) })
                && forward != nil && Array(forward!.key.prefix(operandCount)) == strides
                && (intermediateOperands.isEmpty || savedFingerprints == fingerprints(operands))
            if !saved {
                // Recompute: run the whole forward program (its intermediates and operand copies
                // are what backward reads) into a throwaway output.
                let fwd = (forward != nil && Array(forward!.key.prefix(operandCount)) == strides)
                    ? forward! : try bindForward(operandStrides: strides, outStrides: StridedView<T>.contiguousStrides(outputShape))
                forward = fwd
                if !path.steps.isEmpty && !isEmpty {
                    let outStrides = fwd.key[operandCount]
                    var lo = 0, hi = 0
                    for (size, st) in zip(outputShape, outStrides) where size > 0 {
                        if st < 0 { lo += (size - 1) * st } else { hi += (size - 1) * st }
                    }
                    let throwaway = try Workspace<T>(count: hi - lo + 1)
                    let completed = withExtendedLifetime(throwaway) { () -> Bool in
                        for i in 0..<operandCount { fwd.bases[i] = operands[i].base }
                        fwd.bases[outputSlot] = throwaway.pointer - lo
                        return fwd.run()
                    }
                    guard completed else {
                        forgetIntermediates()
                        throw InterruptCheck.stopped
                    }
                }
                savedOperands = operands.map { UnsafeMutableRawPointer($0.base) }
                savedStrides = strides
                if !intermediateOperands.isEmpty { savedFingerprints = fingerprints(operands) }
            }
            let gradStrides = grads.map { $0?.strides }
            let key = backwardKey(forward!, dy.strides, gradStrides)
            if backwardProgram == nil || backwardProgram!.key != key {
                backwardProgram = try bindBackward(forward: forward!, dyStrides: dy.strides, gradStrides: gradStrides)
            }
            let program = backwardProgram!
            for i in 0..<operandCount { program.bases[i] = operands[i].base }
            program.bases[dySlot] = dy.base
            for (i, g) in grads.enumerated() { if let g { program.bases[gradSlot(i)] = g.base } }
            guard program.run() else { throw InterruptCheck.stopped }
        }
    }
}
