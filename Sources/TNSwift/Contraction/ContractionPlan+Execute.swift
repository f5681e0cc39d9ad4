extension ContractionPlan {
    /// Physical layout of a caller tensor: strides of repeated dimensions add up (diagonals).
    func layout(slot: Int, labels: [Int], dims: [[Int]], strides: [Int]) -> SlotLayout {
        SlotLayout(slot: slot, labels: labels, strides: dims.map { $0.reduce(0) { $0 &+ strides[$1] } })
    }

    func operandLayout(_ i: Int, strides: [Int], slot: Int? = nil) -> SlotLayout {
        layout(slot: slot ?? i, labels: operandLabels[i], dims: operandDims[i], strides: strides)
    }

    func outputLayout(strides: [Int], slot: Int) -> SlotLayout {
        layout(slot: slot, labels: outputLabels, dims: outputDims.map { [$0] }, strides: strides)
    }

    /// Checks that views have the planned shapes.
    func checkShapes(_ views: [StridedView<T>], expected: [[Int]], what: (Int) -> String) throws {
        guard views.count == expected.count else {
            throw TNError.shape("expected \(expected.count) \(what(-1)) but got \(views.count)")
        }
        for (i, v) in views.enumerated() where v.shape != expected[i] {
            throw TNError.shape("\(what(i)) has shape \(v.shape) but the plan expects \(expected[i])")
        }
    }

    func ownedBuffers(_ binder: StepBinder, extra: [(Int, Int)] = []) throws -> [Int: Workspace<T>] {
        var owned: [Int: Workspace<T>] = [:]
        for (slot, count) in binder.scratch + extra { owned[slot] = try Workspace<T>(count: count) }
        return owned
    }

    func bindForward(operandStrides: [[Int]], outStrides: [Int]) throws -> BoundProgram<T> {
        var binder = StepBinder(sizes: labelSizes, firstScratchSlot: firstScratchSlot)
        let inputs = (0..<operandCount).map { operandLayout($0, strides: operandStrides[$0]) }
        let out = outputLayout(strides: outStrides, slot: outputSlot)
        var layouts: [Int: SlotLayout] = [:]
        var lastStepStart = 0
        if isEmpty {
            binder.instructions.append(.zero(dst: outputSlot, sizes: outputShape, strides: outStrides))
        } else if path.isDirect {
            _ = binder.bindDirect(inputs, .fixed(out))
        } else if operandCount == 1 {
            _ = binder.bindUnary(inputs[0], .fixed(out))
        } else {
            for (i, l) in inputs.enumerated() { layouts[i] = l }
            let last = path.steps.count - 1
            for (s, (x, y)) in path.steps.enumerated() {
                let node = operandCount + s
                if s == last { lastStepStart = binder.instructions.count }
                if s == last {
                    layouts[node] = try binder.bindPair(layouts[x]!, layouts[y]!, .fixed(out))
                } else {
                    layouts[node] = try binder.bindIntermediate(layouts[x]!, layouts[y]!, slot: nodeSlot(node),
                                                                labels: nodeLabels[node]!, readers: [reader(of: node, layouts, out)])
                }
            }
        }
        return BoundProgram(instructions: binder.instructions, owned: try ownedBuffers(binder),
                            slotCount: binder.nextSlot, nodeLayouts: layouts, key: operandStrides + [outStrides],
                            lastStepStart: lastStepStart, nodeBuffers: slotBuffers, copies: binder.copies)
    }

    /// The forward step that reads intermediate `node`. Its other operand, when that is a later
    /// intermediate, is taken as contiguous in its label order (its layout is not chosen yet).
    /// (The backward's reads are left out: weighing them made W4's training step slower.)
    func reader(of node: Int, _ layouts: [Int: SlotLayout], _ out: SlotLayout) -> StepBinder.Reader {
        let s = path.steps.firstIndex { $0.0 == node || $0.1 == node }!
        let (x, y) = path.steps[s]
        let other = x == node ? y : x
        let otherLayout = layouts[other]
            ?? .contiguous(slot: nodeSlot(other), labels: nodeLabels[other]!, sizes: labelSizes)
        let target: StepBinder.Target = s == path.steps.count - 1
            ? .fixed(out) : .free(slot: nodeSlot(operandCount + s), labels: nodeLabels[operandCount + s]!)
        return StepBinder.Reader(intermediateFirst: x == node, other: otherLayout, target: target)
    }

    /// Intermediates keyed by their slot.
    var slotBuffers: [Int: Workspace<T>] {
        var d: [Int: Workspace<T>] = [:]
        for (node, buffer) in nodeBuffers { d[nodeSlot(node)] = buffer }
        return d
    }

    /// Runs the contraction: `out = einsum(operands)`.
    ///
    /// Operands are read in place; the result is written into `out`, which may alias an operand.
    /// - Throws: `TNError.shape` when a view's shape differs from the plan's.
    /// - Complexity: `path.optimizedFlops` floating-point operations, plus copies for layouts
    ///   BLAS cannot take.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func execute(_ operands: [StridedView<T>], into out: StridedView<T>) throws {
        try run(operands, into: out)
    }

    /// `execute` for code in this module (see `SVD.factor` on exported specialisations).
    func run(_ operands: [StridedView<T>], into out: StridedView<T>) throws {
        try checkShapes(operands, expected: shapes) { $0 < 0 ? "operands" : "operand \($0)" }
        guard out.shape == outputShape else {
            throw TNError.shape("out has shape \(out.shape) but the result has shape \(outputShape)")
        }
        if Overlap.any(out, operands) {
            // Compute into fresh memory, then copy: the inputs stay intact while they are read.
            let temp = try Workspace<T>(count: out.count)
            try withExtendedLifetime(temp) {
                let view = StridedView(contiguous: temp.pointer, shape: outputShape)
                try run(operands, into: view)
                TensorKernels.transfer(sizes: out.shape, src: temp.pointer, srcStrides: view.strides, dst: out.base,
                                       dstStrides: out.strides, accumulate: false)
            }
            withLock { lastCall = nil }   // it described the temporary output
            return
        }
        try withLock {
            if forward == nil || !forward!.matches(operands, out) {
                forward = try bindForward(operandStrides: operands.map(\.strides), outStrides: out.strides)
            }
            guard runForward(operands, out) else { throw InterruptCheck.stopped }
            lastCall = (operands, out)
        }
    }

    /// Runs the contraction when `operands` and `out` describe exactly the shapes and strides
    /// of the previous successful `execute` (only the data pointers differ): the fast path for
    /// repeated calls from C, which skips building views. Returns false, doing nothing, when
    /// the description differs, there was no such call, or the output overlaps an operand.
    /// - Throws: `TNError.interrupted` when the thread's `InterruptCheck` stopped the run.
    /// - Complexity: the forward FLOPs; no allocation.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func executeIfRepeated(_ operands: UnsafePointer<TensorDescriptor>, _ out: UnsafePointer<TensorDescriptor>) throws -> Bool {
        try withLock {
            guard var call = lastCall, let program = forward, program.matches(call.operands, call.out) else { return false }
            for i in 0..<operandCount where !operands[i].describes(call.operands[i]) { return false }
            guard out.pointee.describes(call.out) else { return false }
            lastCall = nil   // keep the arrays uniquely referenced while they are updated
            for i in 0..<operandCount { call.operands[i].base = operands[i].data!.assumingMemoryBound(to: T.self) }
            call.out.base = out.pointee.data!.assumingMemoryBound(to: T.self)
            lastCall = call
            if Overlap.any(call.out, call.operands) { return false }
            guard runForward(call.operands, call.out) else { throw InterruptCheck.stopped }
            return true
        }
    }

    /// Runs the bound forward program and remembers what its intermediates came from; false,
    /// with nothing remembered, when an interrupt check stopped it.
    private func runForward(_ operands: [StridedView<T>], _ out: StridedView<T>) -> Bool {
        let program = forward!
        for i in 0..<operandCount { program.bases[i] = operands[i].base }
        program.bases[outputSlot] = out.base
        guard program.run() else {
            forgetIntermediates()
            return false
        }
        // A backward that ran before any forward sets savedOperands alone.
        if savedOperands.count != operandCount || lastAddresses.count != operandCount {
            savedOperands = [UnsafeMutableRawPointer?](repeating: nil, count: operandCount)
            lastAddresses = [UInt](repeating: 0, count: operandCount)
        }
        for i in 0..<operandCount {
            savedOperands[i] = UnsafeMutableRawPointer(operands[i].base)
            lastAddresses[i] = UInt(bitPattern: operands[i].base)
        }
        if !savedStridesMatch(operands) { savedStrides = operands.map(\.strides) }
        if !intermediateOperands.isEmpty { savedFingerprints = fingerprints(operands) }
        return true
    }

    /// After a partial run the kept intermediates describe nothing: backward must recompute.
    func forgetIntermediates() {
        lastCall = nil
        savedOperands = []
        savedStrides = []
    }

    /// The data pointer operand `i` had in the last `execute` (0 before any run).
    public func lastOperandAddress(_ i: Int) -> UInt {
        withLock { i >= 0 && i < lastAddresses.count ? lastAddresses[i] : 0 }
    }
}

extension BoundProgram {
    /// Whether this forward program was bound for these operand and output strides.
    func matches(_ operands: [StridedView<T>], _ out: StridedView<T>) -> Bool {
        guard key.count == operands.count + 1 else { return false }
        for i in 0..<operands.count where key[i] != operands[i].strides { return false }
        return key[operands.count] == out.strides
    }
}

extension ContractionPlan {
    func fingerprints(_ operands: [StridedView<T>]) -> [UInt64] {
        intermediateOperands.map { Fingerprint.of(operands[$0]) }
    }

    func savedStridesMatch(_ operands: [StridedView<T>]) -> Bool {
        guard savedStrides.count == operands.count else { return false }
        for i in 0..<operands.count where savedStrides[i] != operands[i].strides { return false }
        return true
    }
}

/// Address-range overlap between caller views.
enum Overlap {
    static func range<T>(_ v: StridedView<T>) -> (lo: Int, hi: Int)? {
        if v.shape.contains(0) { return nil }
        var lo = 0, hi = 0
        for (s, st) in zip(v.shape, v.strides) {
            let span = (s - 1) &* st
            if span < 0 { lo &+= span } else { hi &+= span }
        }
        let base = Int(bitPattern: v.base)
        let size = MemoryLayout<T>.stride
        return (base &+ lo &* size, base &+ (hi &+ 1) &* size)
    }

    static func any<T>(_ out: StridedView<T>, _ others: [StridedView<T>]) -> Bool {
        let r = range(out)
        return others.contains { meet(r, range($0)) }
    }

    /// Whether two address ranges (nil for an empty view) share a byte.
    static func meet(_ a: (lo: Int, hi: Int)?, _ b: (lo: Int, hi: Int)?) -> Bool {
        guard let a, let b else { return false }
        return a.lo < b.hi && b.lo < a.hi
    }
}
