/// A TT-GRU (Yang et al. 2017): PyTorch's single-layer, batch-first `nn.GRU` whose
/// input-to-hidden weight is a TT-matrix. With gate order (r, z, n):
///
///     r = σ(x W_ir + b_ir + h W_hr + b_hr)    z = σ(x W_iz + b_iz + h W_hz + b_hz)
///     n = tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn))
///     h' = (1 − z) ⊙ n + z ⊙ h
///
/// See `TTRecurrentLayer` for the parameters and their layout.
public final class TTGRU<T: LAPACKScalar>: TTRecurrentLayer<T> {
    /// A TT-GRU with PyTorch-like initial parameters (see `initialize(seed:)`).
    /// - Parameters:
    ///   - inputModes: d ≥ 1 modes, Π = input_size.
    ///   - hiddenSize: the hidden state size, ≥ 1.
    ///   - outputModes: d modes of W_ih's columns, Π = 3 · hiddenSize.
    ///   - ranks: the d − 1 inner TT ranks, each ≥ 1.
    ///   - seed: fixes the random initialisation.
    /// - Throws: `TNError.shape` for bad modes, output modes not multiplying to 3 · hidden, or
    ///   a rank list of the wrong length; `TNError.value` for a hidden size or rank below 1.
    public init(inputModes: [Int], hiddenSize: Int, outputModes: [Int], ranks: [Int], seed: UInt64 = 0) throws {
        try super.init(layer: "TTGRU", gates: 3, inputModes: inputModes, hiddenSize: hiddenSize, outputModes: outputModes,
                       ranks: ranks, seed: seed)
    }

    /// A TT-GRU with the same TT rank on every bond.
    /// - Throws: as `init(inputModes:hiddenSize:outputModes:ranks:seed:)`.
    public convenience init(inputModes: [Int], hiddenSize: Int, outputModes: [Int], rank: Int, seed: UInt64 = 0) throws {
        try self.init(inputModes: inputModes, hiddenSize: hiddenSize, outputModes: outputModes,
                      ranks: [Int](repeating: rank, count: Swift.max(inputModes.count - 1, 0)), seed: seed)
    }

    /// Runs the sequence and records what `backward` needs.
    /// - Parameters:
    ///   - x: (batch, seq, input_size), any strides; batch and seq ≥ 1.
    ///   - h0: the initial state, (batch, hidden) or (1, batch, hidden); nil for zeros.
    ///   - output: receives h_1 … h_seq, (batch, seq, hidden).
    ///   - hn: receives the final state when given, shaped like h0.
    /// - Throws: `TNError.shape` when a view does not fit (or seq or batch is 0);
    ///   `TNError.memory` when buffers cannot be allocated.
    /// - Complexity: the TT product on batch · seq rows plus seq GEMMs of batch × hidden ×
    ///   3 · hidden.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func forward(_ x: StridedView<T>, initialHidden h0: StridedView<T>? = nil, output: StridedView<T>,
                        finalHidden hn: StridedView<T>? = nil) throws {
        try run(x, h0: h0, output: output, hn: hn)
    }

    /// `forward` for code in this module (see `SVD.factor` on exported specialisations).
    func run(_ x: StridedView<T>, h0: StridedView<T>?, output: StridedView<T>, hn: StridedView<T>?) throws {
        try withLock {
            let (batch, steps) = try sequenceSize(x)
            let h0v = try stateView(h0, batch: batch, what: "h0")
            let out = try sequenceView(output, batch: batch, steps: steps, width: hiddenSize, what: "the output")
            let hnv = try stateView(hn, batch: batch, what: "h_n")
            let tape = try startTape(batch: batch, steps: steps)
            try projectInput(x, tape: tape)
            let hs = tape.hidden.pointer, gh = tape.stepGates.pointer, candidate = tape.candidate!.pointer
            loadState(h0v, into: hs, tape: tape)
            let h = hiddenSize, w = 3 * h, ldg = steps * w, lds = (steps + 1) * h
            for t in 0..<steps {
                for b in 0..<batch { (gh + b * w).update(from: hiddenBias.pointer, count: w) }
                T.product(m: batch, n: w, k: h, a: hs + t * h, lda: lds, b: hiddenWeight.pointer, ldb: w,
                                      beta: 1, c: gh, ldc: w)
                for b in 0..<batch {
                    let row = tape.gates.pointer + (b &* ldg &+ t &* w), hRow = gh + b &* w
                    let hPrev = hs + (b &* lds &+ t &* h), hNext = hPrev + h
                    let kept = candidate + (b &* steps &+ t) &* h
                    for j in 0..<h {
                        let r = RecurrentKernels.sigmoid(row[j] + hRow[j])
                        let z = RecurrentKernels.sigmoid(row[h &+ j] + hRow[h &+ j])
                        let hn = hRow[2 &* h &+ j]
                        let n = RecurrentKernels.hyperbolicTangent(row[2 &* h &+ j] + r * hn)
                        row[j] = r; row[h &+ j] = z; row[2 &* h &+ j] = n
                        kept[j] = hn
                        hNext[j] = (1 - z) * n + z * hPrev[j]
                    }
                }
            }
            storeStates(hs, tape: tape, sequence: out, last: hnv)
            tape.complete = true
        }
    }

    /// Backpropagation through time of the last `forward`: the gradients of
    /// L = Σ output · dOutput + Σ h_n · dhn with respect to every parameter (into `gradient(i)`,
    /// replacing what was there) and, when their views are given, x and h0. The gradients are
    /// taken at the last forward's input, states and parameters (change no parameter in
    /// between).
    /// - Parameters:
    ///   - dOutput: (batch, seq, hidden), or nil for zeros.
    ///   - dhn: (batch, hidden) or (1, batch, hidden), or nil for zeros.
    ///   - dx: receives dL/dx, (batch, seq, input_size).
    ///   - dh0: receives dL/dh0, shaped like h0.
    /// - Throws: `TNError.value` without a forward before, or when a given gradient has a NaN
    ///   or an infinity; `TNError.shape` when a view does not fit the last forward.
    /// - Complexity: about twice the forward.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func backward(outputGradient dOutput: StridedView<T>?, finalHiddenGradient dhn: StridedView<T>? = nil,
                         inputGradient dx: StridedView<T>? = nil, initialHiddenGradient dh0: StridedView<T>? = nil) throws {
        try backpropagate(dOutput, dhn: dhn, dx: dx, dh0: dh0)
    }

    /// `backward` for code in this module.
    func backpropagate(_ dOutput: StridedView<T>?, dhn: StridedView<T>?, dx: StridedView<T>?, dh0: StridedView<T>?) throws {
        try withLock {
            let tape = try recordedTape()
            let (batch, steps) = (tape.batch, tape.steps)
            let dOut = try checkedGradient(dOutput, tape: tape, sequence: true, what: "d_output")
            let dhnv = try checkedGradient(dhn, tape: tape, sequence: false, what: "d_h_n")
            let dxv = try sequenceView(dx, batch: batch, steps: steps, width: inputSize, what: "dx")
            let dh0v = try stateView(dh0, batch: batch, what: "dh0")
            let h = hiddenSize, w = 3 * h, ldg = steps * w, lds = (steps + 1) * h
            let carried = tape.nextHiddenGradient.pointer, dh = tape.hiddenGradient.pointer
            let hs = tape.hidden.pointer, gates = tape.gates.pointer, candidate = tape.candidate!.pointer
            let dX = tape.inputGateGradient.pointer, dH = tape.hiddenGates
            denseState(dhnv, into: carried, batch: batch)
            for t in stride(from: steps - 1, through: 0, by: -1) {
                stepHiddenGradient(dOut, step: t, carried: carried, into: dh, batch: batch)
                for b in 0..<batch {
                    let offset = b &* ldg &+ t &* w
                    let row = gates + offset, dxRow = dX + offset, dhRow = dH + offset
                    let hPrev = hs + (b &* lds &+ t &* h), kept = candidate + (b &* steps &+ t) &* h
                    let dhb = dh + b &* h, next = carried + b &* h
                    for j in 0..<h {
                        let r = row[j], z = row[h &+ j], n = row[2 &* h &+ j]
                        let d = dhb[j]
                        let an = d * (1 - z) * (1 - n * n)
                        let ar = an * kept[j] * r * (1 - r)
                        let az = d * (hPrev[j] - n) * z * (1 - z)
                        dxRow[j] = ar; dxRow[h &+ j] = az; dxRow[2 &* h &+ j] = an
                        dhRow[j] = ar; dhRow[h &+ j] = az; dhRow[2 &* h &+ j] = an * r
                        next[j] = d * z
                    }
                }
                T.product(transB: true, m: batch, n: h, k: w, a: dH + t * w, lda: ldg, b: hiddenWeight.pointer,
                                      ldb: w, beta: 1, c: carried, ldc: h)
            }
            storeDenseState(carried, into: dh0v)
            try finishBackward(tape: tape, inputGradient: dxv)
        }
    }
}
