/// The parts of forward and backward both cells share: argument checks, the tape, the TT
/// product over the whole sequence, copies in and out of caller views, and the gradients of
/// W_hh, b_hh and the TT part from the gates' gradients.
extension TTRecurrentLayer {
    /// (batch, seq) of an input x of shape (batch, seq, input_size).
    /// - Throws: `TNError.shape` for another shape, an empty batch or an empty sequence.
    func sequenceSize(_ x: StridedView<T>) throws -> (batch: Int, steps: Int) {
        guard x.shape.count == 3, x.shape[2] == inputSize else {
            throw TNError.shape("\(layerName): the input has shape \(x.shape) but the layer expects (batch, seq, \(inputSize))")
        }
        guard x.shape[1] >= 1 else { throw TNError.shape("\(layerName): the input sequence has length 0 (shape \(x.shape))") }
        guard x.shape[0] >= 1 else { throw TNError.shape("\(layerName): the input has an empty batch (shape \(x.shape))") }
        return (x.shape[0], x.shape[1])
    }

    /// A state (h0, c0, h_n, …) as a (batch, hidden) view; (1, batch, hidden), PyTorch's
    /// single-layer form, is accepted too.
    /// - Throws: `TNError.shape` for any other shape.
    func stateView(_ v: StridedView<T>?, batch: Int, what: String) throws -> StridedView<T>? {
        guard var s = v else { return nil }
        if s.shape.count == 3, s.shape[0] == 1 {
            s = try StridedView(base: s.base, shape: Array(s.shape.dropFirst()), strides: Array(s.strides.dropFirst()))
        }
        guard s.shape == [batch, hiddenSize] else {
            throw TNError.shape("\(layerName): \(what) has shape \(v!.shape) but the layer expects (\(batch), \(hiddenSize)) or (1, \(batch), \(hiddenSize))")
        }
        return s
    }

    /// A (batch, seq, width) view, checked.
    /// - Throws: `TNError.shape` for another shape.
    func sequenceView(_ v: StridedView<T>?, batch: Int, steps: Int, width: Int, what: String) throws -> StridedView<T>? {
        guard let s = v else { return nil }
        guard s.shape == [batch, steps, width] else {
            throw TNError.shape("\(layerName): \(what) has shape \(s.shape) but the layer expects (\(batch), \(steps), \(width))")
        }
        return s
    }

    /// The tape for (batch, steps): the last one when the sizes match, else a new one.
    func startTape(batch: Int, steps: Int) throws -> RecurrentTape<T> {
        if let t = tape, t.batch == batch, t.steps == steps {
            t.complete = false
            return t
        }
        tape = nil   // free the old buffers before allocating new ones
        let t = try RecurrentTape<T>(batch: batch, steps: steps, inputSize: inputSize, hiddenSize: hiddenSize,
                                     gates: gateCount, hasCell: gateCount == 4)
        tape = t
        return t
    }

    /// Copies x into the tape and writes x_t W_ih + b_ih for every step into `tape.gates`.
    func projectInput(_ x: StridedView<T>, tape t: RecurrentTape<T>) throws {
        let (b, s) = (t.batch, t.steps)
        TensorKernels.transfer(sizes: x.shape, src: x.base, srcStrides: x.strides, dst: t.input.pointer,
                               dstStrides: [s * inputSize, inputSize, 1], accumulate: false)
        try inputWeight.apply(StridedView(contiguous: t.input.pointer, shape: [b * s, inputSize]),
                              into: StridedView(contiguous: t.gates.pointer, shape: [b * s, gateCount * hiddenSize]))
    }

    /// Writes a state into slot 0 of a (batch, steps + 1, hidden) buffer (zeros when nil).
    func loadState(_ v: StridedView<T>?, into p: UnsafeMutablePointer<T>, tape t: RecurrentTape<T>) {
        let h = hiddenSize, rowStride = (t.steps + 1) * h
        if let v {
            TensorKernels.transfer(sizes: v.shape, src: v.base, srcStrides: v.strides, dst: p,
                                   dstStrides: [rowStride, 1], accumulate: false)
        } else {
            for b in 0..<t.batch { (p + b * rowStride).update(repeating: 0, count: h) }
        }
    }

    /// Copies slots 1…steps of a (batch, steps + 1, hidden) buffer into `sequence` and the
    /// last slot into `last`.
    func storeStates(_ p: UnsafeMutablePointer<T>, tape t: RecurrentTape<T>, sequence: StridedView<T>?, last: StridedView<T>?) {
        let h = hiddenSize, rowStride = (t.steps + 1) * h
        if let sequence {
            TensorKernels.transfer(sizes: sequence.shape, src: p + h, srcStrides: [rowStride, h, 1], dst: sequence.base,
                                   dstStrides: sequence.strides, accumulate: false)
        }
        if let last {
            TensorKernels.transfer(sizes: last.shape, src: p + t.steps * h, srcStrides: [rowStride, 1], dst: last.base,
                                   dstStrides: last.strides, accumulate: false)
        }
    }

    /// Copies a (batch, hidden) state view into dense rows at `p` (zeros when nil).
    func denseState(_ v: StridedView<T>?, into p: UnsafeMutablePointer<T>, batch: Int) {
        if let v {
            TensorKernels.transfer(sizes: v.shape, src: v.base, srcStrides: v.strides, dst: p,
                                   dstStrides: [hiddenSize, 1], accumulate: false)
        } else {
            p.update(repeating: 0, count: batch * hiddenSize)
        }
    }

    /// Copies dense (batch, hidden) rows at `p` into a state view, if given.
    func storeDenseState(_ p: UnsafePointer<T>, into v: StridedView<T>?) {
        guard let v else { return }
        TensorKernels.transfer(sizes: v.shape, src: p, srcStrides: [hiddenSize, 1], dst: v.base, dstStrides: v.strides,
                               accumulate: false)
    }

    /// The tape of the last complete forward, for a backward given (batch, seq).
    /// - Throws: `TNError.value` when there was none.
    func recordedTape() throws -> RecurrentTape<T> {
        guard let t = tape, t.complete else {
            throw TNError.value("\(layerName): backward needs a forward first (it differentiates the last forward's sequence)")
        }
        return t
    }

    /// Checks the gradients given to backward against the recorded sequence.
    /// - Throws: `TNError.shape` for a wrong shape, `TNError.value` for a NaN or an infinity.
    func checkedGradient(_ v: StridedView<T>?, tape t: RecurrentTape<T>, sequence: Bool, what: String) throws -> StridedView<T>? {
        let view = sequence ? try sequenceView(v, batch: t.batch, steps: t.steps, width: hiddenSize, what: what)
                            : try stateView(v, batch: t.batch, what: what)
        if let view, !view.allFinite() { throw TNError.value("\(layerName): \(what) has a NaN or an infinity") }
        return view
    }

    /// dL/dh flowing into step t: d_output[:, t] (if given) plus `carried`, into `dh`.
    func stepHiddenGradient(_ dOutput: StridedView<T>?, step t: Int, carried: UnsafePointer<T>, into dh: UnsafeMutablePointer<T>, batch: Int) {
        let h = hiddenSize
        dh.update(from: carried, count: batch * h)
        guard let d = dOutput else { return }
        let (s0, s2) = (d.strides[0], d.strides[2])
        for b in 0..<batch {
            let src = d.base + (b &* s0 &+ t &* d.strides[1])
            let row = dh + b &* h
            for j in 0..<h { row[j] += src[j &* s2] }
        }
    }

    /// From the gates' gradients on the tape: dW_hh = Σ_t h_{t−1}ᵀ dA_t, db_hh = Σ dA, and the
    /// TT part's backward (its cores, b_ih, and dx into `dx` when given).
    func finishBackward(tape t: RecurrentTape<T>, inputGradient dx: StridedView<T>?) throws {
        let (b, s, h, w) = (t.batch, t.steps, hiddenSize, gateCount * hiddenSize)
        let dA = t.hiddenGates
        // Σ over (batch, time) of h_{t−1}ᵀ dA_t as min(batch, seq) GEMMs.
        if b <= s {
            for i in 0..<b {
                T.product(transA: true, m: h, n: w, k: s, a: t.hidden.pointer + i * (s + 1) * h, lda: h,
                                      b: dA + i * s * w, ldb: w, beta: i == 0 ? 0 : 1, c: hiddenWeightGradient.pointer, ldc: w)
            }
        } else {
            for step in 0..<s {
                T.product(transA: true, m: h, n: w, k: b, a: t.hidden.pointer + step * h, lda: (s + 1) * h,
                                      b: dA + step * w, ldb: s * w, beta: step == 0 ? 0 : 1, c: hiddenWeightGradient.pointer, ldc: w)
            }
        }
        let db = hiddenBiasGradient.pointer
        db.update(repeating: 0, count: w)
        for r in 0..<(b * s) {
            let row = dA + r &* w
            for j in 0..<w { db[j] += row[j] }
        }
        let rows = b * s
        try inputWeight.backpropagate(StridedView(contiguous: t.inputGateGradient.pointer, shape: [rows, w]),
                                      input: StridedView(contiguous: t.input.pointer, shape: [rows, inputSize]),
                                      inputGradient: dx == nil ? nil : StridedView(contiguous: t.inputGradient.pointer, shape: [rows, inputSize]))
        if let dx {
            TensorKernels.transfer(sizes: dx.shape, src: t.inputGradient.pointer, srcStrides: [s * inputSize, inputSize, 1],
                                   dst: dx.base, dstStrides: dx.strides, accumulate: false)
        }
    }
}
