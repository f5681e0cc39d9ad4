/// A TT-LSTM (Yang et al. 2017): PyTorch's single-layer, batch-first `nn.LSTM` whose
/// input-to-hidden weight is a TT-matrix. With gate order (i, f, g, o):
///
///     i = σ(x W_ii + b_ii + h W_hi + b_hi)    f = σ(… f …)    g = tanh(… g …)    o = σ(… o …)
///     c' = f ⊙ c + i ⊙ g                      h' = o ⊙ tanh(c')
///
/// See `TTRecurrentLayer` for the parameters and their layout.
public final class TTLSTM<T: LAPACKScalar>: TTRecurrentLayer<T> {
    /// A TT-LSTM with PyTorch-like initial parameters (see `initialize(seed:)`).
    /// - Parameters:
    ///   - inputModes: d ≥ 1 modes, Π = input_size.
    ///   - hiddenSize: the hidden (and cell) state size, ≥ 1.
    ///   - outputModes: d modes of W_ih's columns, Π = 4 · hiddenSize.
    ///   - ranks: the d − 1 inner TT ranks, each ≥ 1.
    ///   - seed: fixes the random initialisation.
    /// - Throws: `TNError.shape` for bad modes, output modes not multiplying to 4 · hidden, or
    ///   a rank list of the wrong length; `TNError.value` for a hidden size or rank below 1.
    public init(inputModes: [Int], hiddenSize: Int, outputModes: [Int], ranks: [Int], seed: UInt64 = 0) throws {
        try super.init(layer: "TTLSTM", gates: 4, inputModes: inputModes, hiddenSize: hiddenSize, outputModes: outputModes,
                       ranks: ranks, seed: seed)
    }

    /// A TT-LSTM with the same TT rank on every bond.
    /// - Throws: as `init(inputModes:hiddenSize:outputModes:ranks:seed:)`.
    public convenience init(inputModes: [Int], hiddenSize: Int, outputModes: [Int], rank: Int, seed: UInt64 = 0) throws {
        try self.init(inputModes: inputModes, hiddenSize: hiddenSize, outputModes: outputModes,
                      ranks: [Int](repeating: rank, count: Swift.max(inputModes.count - 1, 0)), seed: seed)
    }

    /// Runs the sequence and records what `backward` needs.
    /// - Parameters:
    ///   - x: (batch, seq, input_size), any strides; batch and seq ≥ 1.
    ///   - h0, c0: initial states, (batch, hidden) or (1, batch, hidden); nil for zeros.
    ///   - output: receives h_1 … h_seq, (batch, seq, hidden).
    ///   - hn, cn: receive the final states when given, shaped like h0.
    /// - Throws: `TNError.shape` when a view does not fit (or seq or batch is 0);
    ///   `TNError.memory` when buffers cannot be allocated.
    /// - Complexity: the TT product on batch · seq rows plus seq GEMMs of batch × hidden ×
    ///   4 · hidden.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(_ x: StridedView<T>, initialHidden h0: StridedView<T>? = nil, initialCell c0: StridedView<T>? = nil,
                        output: StridedView<T>, finalHidden hn: StridedView<T>? = nil, finalCell cn: StridedView<T>? = nil) throws {
        try run(x, h0: h0, c0: c0, output: output, hn: hn, cn: cn)
    }

    /// `forward` for code in this module (see `SVD.factor` on exported specialisations).
    func run(_ x: StridedView<T>, h0: StridedView<T>?, c0: StridedView<T>?, output: StridedView<T>,
             hn: StridedView<T>?, cn: StridedView<T>?) throws {
        try withLock {
            let (batch, steps) = try sequenceSize(x)
            let h0v = try stateView(h0, batch: batch, what: "h0")
            let c0v = try stateView(c0, batch: batch, what: "c0")
            let out = try sequenceView(output, batch: batch, steps: steps, width: hiddenSize, what: "the output")
            let hnv = try stateView(hn, batch: batch, what: "h_n")
            let cnv = try stateView(cn, batch: batch, what: "c_n")
            let tape = try startTape(batch: batch, steps: steps)
            try projectInput(x, tape: tape)
            let hs = tape.hidden.pointer, cs = tape.cell!.pointer
            loadState(h0v, into: hs, tape: tape)
            loadState(c0v, into: cs, tape: tape)
            let h = hiddenSize, w = 4 * h, ldg = steps * w, lds = (steps + 1) * h
            let whh = hiddenWeight.pointer, bhh = hiddenBias.pointer
            for t in 0..<steps {
                let g = tape.gates.pointer + t * w
                RecurrentKernels.addRow(bhh, to: g, rows: batch, width: w, ldc: ldg)
                T.product(m: batch, n: w, k: h, a: hs + t * h, lda: lds, b: whh, ldb: w, beta: 1, c: g, ldc: ldg)
                for b in 0..<batch {
                    let row = g + b &* ldg
                    let cPrev = cs + (b &* lds &+ t &* h), hNext = hs + (b &* lds &+ (t &+ 1) &* h)
                    let cNext = cPrev + h
                    for j in 0..<h {
                        let i = RecurrentKernels.sigmoid(row[j]), f = RecurrentKernels.sigmoid(row[h &+ j])
                        let gg = RecurrentKernels.hyperbolicTangent(row[2 &* h &+ j]), o = RecurrentKernels.sigmoid(row[3 &* h &+ j])
                        row[j] = i; row[h &+ j] = f; row[2 &* h &+ j] = gg; row[3 &* h &+ j] = o
                        let c = f * cPrev[j] + i * gg
                        cNext[j] = c
                        hNext[j] = o * RecurrentKernels.hyperbolicTangent(c)
                    }
                }
            }
            storeStates(hs, tape: tape, sequence: out, last: hnv)
            storeStates(cs, tape: tape, sequence: nil, last: cnv)
            tape.complete = true
        }
    }

    /// Backpropagation through time of the last `forward`: the gradients of
    /// L = Σ output · dOutput + Σ h_n · dhn + Σ c_n · dcn with respect to every parameter (into
    /// `gradient(i)`, replacing what was there) and, when their views are given, x, h0, c0.
    /// The gradients are taken at the last forward's input, states and parameters (change no
    /// parameter in between).
    /// - Parameters:
    ///   - dOutput: (batch, seq, hidden), or nil for zeros.
    ///   - dhn, dcn: (batch, hidden) or (1, batch, hidden), or nil for zeros.
    ///   - dx: receives dL/dx, (batch, seq, input_size).
    ///   - dh0, dc0: receive dL/dh0 and dL/dc0, shaped like h0.
    /// - Throws: `TNError.value` without a forward before, or when a given gradient has a NaN
    ///   or an infinity; `TNError.shape` when a view does not fit the last forward.
    /// - Complexity: about twice the forward.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(outputGradient dOutput: StridedView<T>?, finalHiddenGradient dhn: StridedView<T>? = nil,
                         finalCellGradient dcn: StridedView<T>? = nil, inputGradient dx: StridedView<T>? = nil,
                         initialHiddenGradient dh0: StridedView<T>? = nil, initialCellGradient dc0: StridedView<T>? = nil) throws {
        try backpropagate(dOutput, dhn: dhn, dcn: dcn, dx: dx, dh0: dh0, dc0: dc0)
    }

    /// `backward` for code in this module.
    func backpropagate(_ dOutput: StridedView<T>?, dhn: StridedView<T>?, dcn: StridedView<T>?, dx: StridedView<T>?,
                       dh0: StridedView<T>?, dc0: StridedView<T>?) throws {
        try withLock {
            let tape = try recordedTape()
            let (batch, steps) = (tape.batch, tape.steps)
            let dOut = try checkedGradient(dOutput, tape: tape, sequence: true, what: "d_output")
            let dhnv = try checkedGradient(dhn, tape: tape, sequence: false, what: "d_h_n")
            let dcnv = try checkedGradient(dcn, tape: tape, sequence: false, what: "d_c_n")
            let dxv = try sequenceView(dx, batch: batch, steps: steps, width: inputSize, what: "dx")
            let dh0v = try stateView(dh0, batch: batch, what: "dh0")
            let dc0v = try stateView(dc0, batch: batch, what: "dc0")
            let h = hiddenSize, w = 4 * h, ldg = steps * w, lds = (steps + 1) * h
            let carried = tape.nextHiddenGradient.pointer, dh = tape.hiddenGradient.pointer, dc = tape.cellGradient!.pointer
            let cs = tape.cell!.pointer, gates = tape.gates.pointer, dG = tape.inputGateGradient.pointer
            denseState(dhnv, into: carried, batch: batch)
            denseState(dcnv, into: dc, batch: batch)
            for t in stride(from: steps - 1, through: 0, by: -1) {
                stepHiddenGradient(dOut, step: t, carried: carried, into: dh, batch: batch)
                for b in 0..<batch {
                    let row = gates + (b &* ldg &+ t &* w), dRow = dG + (b &* ldg &+ t &* w)
                    let cPrev = cs + (b &* lds &+ t &* h), cNext = cPrev + h
                    let dhb = dh + b &* h, dcb = dc + b &* h
                    for j in 0..<h {
                        let i = row[j], f = row[h &+ j], g = row[2 &* h &+ j], o = row[3 &* h &+ j]
                        let tc = RecurrentKernels.hyperbolicTangent(cNext[j])
                        let dhj = dhb[j]
                        let dcj = dcb[j] + dhj * o * (1 - tc * tc)
                        dRow[j] = dcj * g * i * (1 - i)
                        dRow[h &+ j] = dcj * cPrev[j] * f * (1 - f)
                        dRow[2 &* h &+ j] = dcj * i * (1 - g * g)
                        dRow[3 &* h &+ j] = dhj * tc * o * (1 - o)
                        dcb[j] = dcj * f
                    }
                }
                T.product(transB: true, m: batch, n: h, k: w, a: dG + t * w, lda: ldg, b: hiddenWeight.pointer,
                                      ldb: w, beta: 0, c: carried, ldc: h)
            }
            storeDenseState(carried, into: dh0v)
            storeDenseState(dc, into: dc0v)
            try finishBackward(tape: tape, inputGradient: dxv)
        }
    }
}
