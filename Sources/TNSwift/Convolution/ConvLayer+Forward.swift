extension ConvLayer {
    // MARK: - Programs and the choice of evaluation

    /// The program for input (n, C, h, w), from the cache or made now (call under the lock).
    func program(images n: Int, height h: Int, width w: Int) throws -> ConvProgram<T> {
        let choice = try forcedChoice ?? chosenPath(images: n, height: h, width: w)
        let key = [n, h, w, choice == .factorized ? 1 : 0]
        if let i = programs.firstIndex(where: { $0.key == key }) {
            let hit = programs.remove(at: i)
            programs.append(hit)
            return hit.program
        }
        let (operands, stages) = path(choice)
        let program = try ConvProgram<T>(images: n, height: h, width: w, choice: choice, stages: stages,
                                         operandCounts: operands.map(\.count), layer: layerName,
                                         cost: try estimate(choice, images: n, height: h, width: w))
        programs.append((key, program))
        if programs.count > Self.cachedPrograms { programs.removeFirst() }
        return program
    }

    /// The operands and stages of an evaluation.
    func path(_ choice: ConvPathChoice) -> ([ConvOperand<T>], [ConvStage]) {
        if choice == .factorized, let operands = factorizedOperands, let stages = factorizedStages {
            return (operands, stages)
        }
        return ([kernelOperand], [.dense(operand: 0, inChannels: inChannels, outChannels: outChannels, groups: 1, window: window)])
    }

    /// The cheaper evaluation for this input shape by `estimate`.
    func chosenPath(images n: Int, height h: Int, width w: Int) throws -> ConvPathChoice {
        guard factorizedStages != nil else { return .rebuilt }
        return try estimate(.factorized, images: n, height: h, width: w) < estimate(.rebuilt, images: n, height: h, width: w)
            ? .factorized : .rebuilt
    }

    /// A forward cost in FLOP-equivalents: each GEMM 2·m·n·k / (g(m)·g(n)·g(k)) with
    /// g(s) = s / (s + 8) for thin dimensions (as `LayerCostModel`), depthwise loops at their
    /// FLOPs, 4 per element for im2col and intermediates (memory traffic), plus building the
    /// contracted operands.
    func estimate(_ choice: ConvPathChoice, images n: Int, height: Int, width: Int) throws -> Double {
        let (operands, stages) = path(choice)
        let g = { (v: Double) in v / (v + LayerCostModel.thinness) }
        var total = operands.reduce(0) { $0 + $1.buildFlops }
        var (h, w) = (height, width)
        for (k, s) in stages.enumerated() {
            let (oh, ow) = try s.window.outputSize(height: h, width: w, layer: layerName)
            let l = Double(oh) * Double(ow)
            switch s {
            case .dense(_, let cin, let cout, let groups, let win):
                let kk = Double(cin * win.kernelArea), m = Double(cout)
                total += Double(n * groups) * 2 * m * kk * l / Swift.max(g(m) * g(kk) * g(l), 1e-3)
                if !win.isPointwise { total += 4 * Double(n * groups) * kk * l }
            case .depthwise(_, let c, let win):
                total += 2 * Double(n * c) * Double(win.kernelArea) * l
            }
            if k < stages.count - 1 { total += 4 * Double(n * s.channels.output) * l }
            (h, w) = (oh, ow)
        }
        return total
    }

    /// The evaluation the layer runs for an input of `shape`: true when factorized (stage by
    /// stage), false when it contracts the dense kernel first.
    /// - Throws: as `outputShape(forInput:)`.
    /// - Complexity: O(number of stages).
    public func runsFactorized(inputShape shape: [Int]) throws -> Bool {
        _ = try outputShape(forInput: shape)
        return try withLock { try (forcedChoice ?? chosenPath(images: shape[0], height: shape[2], width: shape[3])) == .factorized }
    }

    // MARK: - Operands

    var parameterViews: [StridedView<T>] {
        zip(parameters, parameterShapes).map { StridedView(contiguous: $0.pointer, shape: $1) }
    }

    /// The values of each operand, contracted again where a parameter changed.
    func operandValues(_ operands: [ConvOperand<T>]) throws -> [UnsafeMutablePointer<T>] {
        let views = parameterViews
        return try operands.map { op in
            switch op.source {
            case .parameter(let i): return parameters[i].pointer
            case .built(let cache, let indices):
                try cache.refresh(indices.map { views[$0] })
                return cache.weight.pointer
            }
        }
    }

    /// Where each operand's gradient goes: a parameter's gradient buffer, or the cache's.
    func operandGradients(_ operands: [ConvOperand<T>]) -> [UnsafeMutablePointer<T>] {
        operands.map { op in
            switch op.source {
            case .parameter(let i): return gradients[i].pointer
            case .built(let cache, _): return cache.gradient.pointer
            }
        }
    }

    /// Carries the gradients of contracted operands back to their parameters.
    func propagateOperandGradients(_ operands: [ConvOperand<T>]) throws {
        let views = parameterViews
        for op in operands {
            guard case .built(let cache, let indices) = op.source else { continue }
            let grads = indices.map { StridedView(contiguous: gradients[$0].pointer, shape: parameterShapes[$0]) }
            try cache.build.gradients(dy: cache.gradientView, operands: indices.map { views[$0] }, grads: grads)
        }
    }

    // MARK: - Forward and backward

    /// A C-contiguous pointer to the values of `v`: v itself, or a copy in staging `slot`.
    func contiguous(_ v: StridedView<T>, _ program: ConvProgram<T>, slot: Int) throws -> UnsafeMutablePointer<T> {
        if v.isContiguous { return v.base }
        let p = try program.stagingBuffer(slot, count: v.count)
        TensorKernels.transfer(sizes: v.shape, src: v.base, srcStrides: v.strides, dst: p,
                               dstStrides: StridedView<T>.contiguousStrides(v.shape), accumulate: false)
        return p
    }

    /// Where to write a result for `v`: v itself, or staging `slot` (then `finish` copies it).
    func destination(_ v: StridedView<T>, _ program: ConvProgram<T>, slot: Int) throws -> UnsafeMutablePointer<T> {
        v.isContiguous ? v.base : try program.stagingBuffer(slot, count: v.count)
    }

    func finish(_ v: StridedView<T>, from p: UnsafeMutablePointer<T>) {
        if p == v.base || v.count == 0 { return }
        TensorKernels.transfer(sizes: v.shape, src: p, srcStrides: StridedView<T>.contiguousStrides(v.shape), dst: v.base,
                               dstStrides: v.strides, accumulate: false)
    }

    /// y = conv(x, K) + b.
    /// - Parameters:
    ///   - x: (N, in_channels, H, W), any strides.
    ///   - y: (N, out_channels, H', W') (`outputShape(forInput:)`), any strides; may not
    ///     overlap x.
    /// - Throws: `TNError.shape` when x or y does not fit the layer or the kernel is larger
    ///   than the padded input; `TNError.memory` when a size overflows or scratch cannot be
    ///   allocated.
    /// - Complexity: O(N · O · C · kh · kw · H' · W') for the dense evaluation; the factorized
    ///   one costs its stages' FLOPs (the cheaper is run).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(_ x: StridedView<T>, into y: StridedView<T>) throws {
        try apply(x, into: y)
    }

    /// `forward` for code in this module (see `SVD.factor` on exported specialisations).
    func apply(_ x: StridedView<T>, into y: StridedView<T>) throws {
        try withLock {
            try checkInput(x.shape, what: "the input")
            let program = try program(images: x.shape[0], height: x.shape[2], width: x.shape[3])
            guard y.shape == program.outputShape else {
                throw TNError.shape("\(layerName): the output has shape \(y.shape) but the input \(x.shape) gives \(program.outputShape)")
            }
            if y.count == 0 { return }
            let (operands, _) = path(program.choice)
            let values = try operandValues(operands)
            let xp = try contiguous(x, program, slot: 0)
            let yp = try destination(y, program, slot: 1)
            runStages(program, input: xp, output: yp, values: values, upTo: program.stages.count)
            if let bias {
                let s = program.outputShape
                ConvKernels.addBias(bias.pointer, to: yp, images: s[0], channels: s[1], plane: s[2] * s[3])
            }
            finish(y, from: yp)
        }
    }

    /// Runs stages 0..<count from `input`; the last stage run writes `output` when it is the
    /// program's last, else its intermediate.
    func runStages(_ program: ConvProgram<T>, input: UnsafeMutablePointer<T>, output: UnsafeMutablePointer<T>,
                   values: [UnsafeMutablePointer<T>], upTo count: Int) {
        var current = input
        for k in 0..<count {
            let stage = program.stages[k]
            let out = k == program.stages.count - 1 ? output : program.intermediates[k].pointer
            stageForward(stage, program.sizes[k], program, input: current, output: out, operand: values[stage.operand])
            current = out
        }
    }

    /// The gradients of sum(y · dy) for the y that `forward(x)` gives: every parameter's (into
    /// `gradient(i)`, replacing what was there), the bias's, and x's when `dx` is given.
    /// - Parameters:
    ///   - dy: shaped like y.
    ///   - x: the input the gradients are taken at.
    ///   - dx: receives dL/dx, shaped like x; nil to skip it.
    /// - Throws: `TNError.shape` when a view does not fit; `TNError.value` when dy has a NaN
    ///   or an infinity; `TNError.memory` as `forward`.
    /// - Complexity: about twice the forward's, plus the forward of every stage but the last
    ///   (recomputed for their outputs).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(_ dy: StridedView<T>, input x: StridedView<T>, inputGradient dx: StridedView<T>?) throws {
        try applyBackward(dy, input: x, inputGradient: dx)
    }

    /// `backward` for code in this module.
    func applyBackward(_ dy: StridedView<T>, input x: StridedView<T>, inputGradient dx: StridedView<T>?) throws {
        try withLock {
            try checkInput(x.shape, what: "the input")
            let program = try program(images: x.shape[0], height: x.shape[2], width: x.shape[3])
            guard dy.shape == program.outputShape else {
                throw TNError.shape("\(layerName): dy has shape \(dy.shape) but the input \(x.shape) gives outputs of shape \(program.outputShape)")
            }
            if let dx, dx.shape != x.shape {
                throw TNError.shape("\(layerName): dx has shape \(dx.shape) but the input has shape \(x.shape)")
            }
            guard dy.allFinite() else { throw TNError.value("dy has a NaN or an infinity") }
            let (operands, stages) = path(program.choice)
            let values = try operandValues(operands)
            let grads = operandGradients(operands)
            let xp = try contiguous(x, program, slot: 0)
            let dyp = try contiguous(dy, program, slot: 2)
            let dxp = try dx.map { try destination($0, program, slot: 3) }
            // The stage inputs: x, then the recomputed intermediates.
            runStages(program, input: xp, output: xp, values: values, upTo: stages.count - 1)
            // Every operand gradient is overwritten by its stage (each operand is used once).
            var g = dyp
            for k in (0..<stages.count).reversed() {
                let input = k == 0 ? xp : program.intermediates[k - 1].pointer
                let dInput = k == 0 ? dxp : program.intermediateGradients[k - 1].pointer
                stageBackward(stages[k], program.sizes[k], program, input: input, dOutput: g, operand: values[stages[k].operand],
                              dOperand: grads[stages[k].operand], dInput: dInput)
                if let d = dInput { g = d }
            }
            try propagateOperandGradients(operands)
            if let biasGradient {
                let s = program.outputShape
                ConvKernels.biasGradient(dyp, into: biasGradient.pointer, images: s[0], channels: s[1], plane: s[2] * s[3])
            }
            if let dx, let dxp { finish(dx, from: dxp) }
        }
    }

    // MARK: - Stages

    func stageForward(_ stage: ConvStage, _ z: ConvProgram<T>.Sizes, _ program: ConvProgram<T>, input: UnsafePointer<T>,
                      output: UnsafeMutablePointer<T>, operand: UnsafePointer<T>) {
        let inPlane = z.inHeight * z.inWidth, l = z.outHeight * z.outWidth
        switch stage {
        case .dense(_, let cin, let cout, let groups, let win):
            let count = program.images * groups, kk = cin * win.kernelArea
            let byImage = count >= 2 && Double(count) * Double(cout) * Double(kk) * Double(l) >= Double(StepBinder.parallelGemmWork)
            ConvKernels.chunked(count, parallel: byImage, capacity: program.chunkCapacity) { chunk, range in
                for n in range {
                    let xn = input + n * cin * inPlane, yn = output + n * cout * l
                    var b = xn
                    if !win.isPointwise {
                        let col = program.columns!.pointer + chunk * program.colCount
                        ConvKernels.im2col(xn, channels: cin, height: z.inHeight, width: z.inWidth, window: win,
                                           outHeight: z.outHeight, outWidth: z.outWidth, into: col, parallel: !byImage)
                        b = UnsafePointer(col)
                    }
                    LinalgKernels.gemm(transA: false, transB: false, m: cout, n: l, k: kk, a: operand, lda: kk, b: b, ldb: l,
                                       c: yn, ldc: l, parallel: !byImage)
                }
            }
        case .depthwise(_, let c, let win):
            let planes = program.images * c, kk = win.kernelArea
            let ranges = ConvKernels.columnRanges(win, width: z.inWidth, outWidth: z.outWidth)
            let parallel = Double(planes) * Double(kk) * Double(l) >= Double(1 << 16)
            ConvKernels.chunked(planes, parallel: parallel, capacity: program.chunkCapacity) { _, range in
                for p in range {
                    ConvKernels.depthwisePlane(input + p * inPlane, height: z.inHeight, width: z.inWidth, filter: operand + (p % c) * kk,
                                               window: win, ranges: ranges, outHeight: z.outHeight, outWidth: z.outWidth,
                                               into: output + p * l)
                }
            }
        }
    }

    func stageBackward(_ stage: ConvStage, _ z: ConvProgram<T>.Sizes, _ program: ConvProgram<T>, input: UnsafePointer<T>,
                       dOutput: UnsafePointer<T>, operand: UnsafePointer<T>, dOperand: UnsafeMutablePointer<T>,
                       dInput: UnsafeMutablePointer<T>?) {
        let inPlane = z.inHeight * z.inWidth, l = z.outHeight * z.outWidth
        switch stage {
        case .dense(_, let cin, let cout, let groups, let win):
            let count = program.images * groups, kk = cin * win.kernelArea, size = cout * kk
            if count == 0 { dOperand.update(repeating: 0, count: size); return }
            let byImage = count >= 2 && Double(count) * Double(cout) * Double(kk) * Double(l) >= Double(StepBinder.parallelGemmWork)
            let chunks = ConvKernels.chunkCount(count, parallel: byImage, capacity: program.chunkCapacity)
            ConvKernels.chunked(count, parallel: byImage, capacity: program.chunkCapacity) { chunk, range in
                let dk = chunk == 0 ? dOperand : program.partials!.pointer + (chunk - 1) * program.partialCount
                let col = win.isPointwise ? nil : program.columns!.pointer + chunk * program.colCount
                for n in range {
                    let xn = input + n * cin * inPlane, gn = dOutput + n * cout * l
                    var b = xn
                    if let col {
                        ConvKernels.im2col(xn, channels: cin, height: z.inHeight, width: z.inWidth, window: win,
                                           outHeight: z.outHeight, outWidth: z.outWidth, into: col, parallel: !byImage)
                        b = UnsafePointer(col)
                    }
                    // dK (cout × kk) += dy_n (cout × l) · colᵀ
                    LinalgKernels.gemm(transA: false, transB: true, m: cout, n: kk, k: l, a: gn, lda: l, b: b, ldb: l,
                                       c: dk, ldc: kk, accumulate: n != range.lowerBound, parallel: !byImage)
                    guard let dInput else { continue }
                    let dxn = dInput + n * cin * inPlane
                    if let col {
                        LinalgKernels.gemm(transA: true, transB: false, m: kk, n: l, k: cout, a: operand, lda: kk, b: gn, ldb: l,
                                           c: col, ldc: l, parallel: !byImage)
                        ConvKernels.col2im(col, channels: cin, height: z.inHeight, width: z.inWidth, window: win,
                                           outHeight: z.outHeight, outWidth: z.outWidth, into: dxn, parallel: !byImage)
                    } else {
                        LinalgKernels.gemm(transA: true, transB: false, m: cin, n: l, k: cout, a: operand, lda: cin, b: gn, ldb: l,
                                           c: dxn, ldc: l, parallel: !byImage)
                    }
                }
            }
            for chunk in 1..<Swift.max(chunks, 1) {
                let p = program.partials!.pointer + (chunk - 1) * program.partialCount
                for i in 0..<size { dOperand[i] += p[i] }
            }
        case .depthwise(_, let c, let win):
            let planes = program.images * c, kk = win.kernelArea
            let ranges = ConvKernels.columnRanges(win, width: z.inWidth, outWidth: z.outWidth)
            let parallel = Double(planes) * Double(kk) * Double(l) >= Double(1 << 16)
            dOperand.update(repeating: 0, count: c * kk)
            ConvKernels.chunked(c, parallel: parallel, capacity: program.chunkCapacity) { _, range in
                for ch in range {
                    for n in 0..<program.images {
                        let p = n * c + ch
                        ConvKernels.depthwisePlaneFilterGradient(input + p * inPlane, height: z.inHeight, width: z.inWidth,
                                                                 dy: dOutput + p * l, window: win, ranges: ranges,
                                                                 outHeight: z.outHeight, outWidth: z.outWidth,
                                                                 into: dOperand + ch * kk)
                    }
                }
            }
            guard let dInput else { return }
            ConvKernels.chunked(planes, parallel: parallel, capacity: program.chunkCapacity) { _, range in
                for p in range {
                    ConvKernels.depthwisePlaneInputGradient(dOutput + p * l, height: z.inHeight, width: z.inWidth,
                                                            filter: operand + (p % c) * kk, window: win, ranges: ranges,
                                                            outHeight: z.outHeight, outWidth: z.outWidth, into: dInput + p * inPlane)
                }
            }
        }
    }

    // MARK: - The dense kernel

    /// The kernel K as a dense (out_channels, in_channels, kh, kw) array, C order, contracted
    /// from the parameters.
    /// - Throws: `TNError.memory` when it cannot be allocated.
    /// - Complexity: the contraction's FLOPs (a copy for a dense layer).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func denseKernel() throws -> [T] {
        try kernelValues()
    }

    /// `denseKernel` for code in this module.
    func kernelValues() throws -> [T] {
        try withLock {
            let p = try operandValues([kernelOperand])[0]
            return Array(UnsafeBufferPointer(start: p, count: kernelOperand.count))
        }
    }
}
