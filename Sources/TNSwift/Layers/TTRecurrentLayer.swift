#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `TTLSTM` and `TTGRU` share (Yang et al. 2017, TT-RNN): a single-layer recurrent
/// network on batch-first sequences (batch, seq, input_size) whose input-to-hidden weight
/// W_ih (input_size × G · hidden) is a TT-matrix and whose hidden-to-hidden weight W_hh
/// (hidden × G · hidden) is dense, with PyTorch's biases b_ih and b_hh.
///
/// The gates' input part x_t W_ih + b_ih is computed for all time steps at once, by one
/// `TTLinear` on batch · seq rows (its cached contraction plans); only h_{t−1} W_hh + b_hh runs
/// step by step (one GEMM per step). Gate columns are ordered like PyTorch's: gate-major
/// (LSTM i, f, g, o; GRU r, z, n), then the hidden unit. W_hh is stored in × out (row-major
/// hidden × G · hidden), the transpose of PyTorch's `weight_hh_l0`.
///
/// Parameters, in order: the TT cores `core_k` (r_{k−1}, m_k, n_k, r_k), `bias_ih` (G · hidden),
/// `weight_hh` (hidden, G · hidden), `bias_hh` (G · hidden); each lives in the layer's own
/// buffer (`parameter(i)`), writable in place, and `backward` fills `gradient(i)`.
///
/// Thread safety: calls on one layer are serialised by a lock (they share the tape and the
/// gradient buffers); different layers run in parallel.
public class TTRecurrentLayer<T: LAPACKScalar> {
    /// The sizes of the input modes (Π = inputSize).
    public let inputModes: [Int]
    /// The sizes of the output modes of W_ih (Π = gateCount · hiddenSize).
    public let outputModes: [Int]
    /// The d + 1 TT ranks of W_ih (first and last 1).
    public let ranks: [Int]
    /// Features per time step of the input.
    public let inputSize: Int
    /// Features of the hidden state.
    public let hiddenSize: Int
    /// Gates per unit: 4 (LSTM) or 3 (GRU).
    public let gateCount: Int
    /// "core_0" … "core_{d−1}", "bias_ih", "weight_hh", "bias_hh".
    public let parameterNames: [String]
    /// The shape of each parameter.
    public let parameterShapes: [[Int]]

    let layerName: String
    /// x W_ih + b_ih for a whole sequence (its bias is b_ih).
    let inputWeight: TTLinear<T>
    let hiddenWeight: Workspace<T>
    let hiddenBias: Workspace<T>
    let hiddenWeightGradient: Workspace<T>
    let hiddenBiasGradient: Workspace<T>
    /// The last forward's activations (the most recent (batch, seq) only).
    var tape: RecurrentTape<T>? = nil
    var lock = pthread_mutex_t()

    /// Checks the sizes, builds the TT part and initialises every parameter.
    init(layer: String, gates: Int, inputModes: [Int], hiddenSize: Int, outputModes: [Int], ranks: [Int], seed: UInt64) throws {
        guard hiddenSize >= 1 else { throw TNError.value("\(layer): hidden_size must be at least 1 (got \(hiddenSize))") }
        try LayerLabels.check(layer, inputModes: inputModes, outputModes: outputModes, sameCount: true)
        let width = try checkedProduct([gates, hiddenSize], what: "\(layer)'s gates")
        let product = try checkedProduct(outputModes, what: "\(layer)'s output modes")
        guard product == width else {
            throw TNError.shape("\(layer): the output modes \(outputModes) multiply to \(product) but \(gates) gates × hidden_size \(hiddenSize) = \(width)")
        }
        guard ranks.count == inputModes.count - 1 else {
            throw TNError.shape("\(layer) with \(inputModes.count) modes has \(inputModes.count - 1) TT bonds but \(ranks.count) ranks were given")
        }
        for r in ranks where r < 1 { throw TNError.value("\(layer): TT ranks must be at least 1 (got \(ranks))") }
        let weightCount = try checkedProduct([hiddenSize, width], what: "\(layer)'s hidden weight")
        try LayerAllocationBudget.check(weightCount)
        inputWeight = try TTLinear<T>(inputModes: inputModes, outputModes: outputModes, ranks: ranks, bias: true, seed: seed)
        layerName = layer
        gateCount = gates
        self.inputModes = inputModes
        self.outputModes = outputModes
        self.ranks = inputWeight.ranks
        self.hiddenSize = hiddenSize
        inputSize = inputWeight.inFeatures
        parameterNames = inputWeight.parameterNames + ["bias_ih", "weight_hh", "bias_hh"]
        parameterShapes = inputWeight.parameterShapes + [[width], [hiddenSize, width], [width]]
        hiddenWeight = try Workspace(count: weightCount)
        hiddenWeightGradient = try Workspace(count: weightCount)
        hiddenBias = try Workspace(count: width)
        hiddenBiasGradient = try Workspace(count: width)
        for b in [hiddenWeightGradient, hiddenBiasGradient] { b.pointer.initialize(repeating: 0, count: b.count) }
        pthread_mutex_init(&lock, nil)
        fillDense(seed: seed)
    }

    deinit { pthread_mutex_destroy(&lock) }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return try body()
    }

    /// The number of parameters (TT cores, both biases and W_hh).
    public var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.reduce(1, *) } }

    /// Parameter `i`'s values (row-major in `parameterShapes[i]`), writable in place.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
    public func parameter(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        let cores = inputWeight.parameterShapes.count
        precondition(i >= 0 && i < cores + 3, "parameter index out of range")
        switch i - cores {
        case 0: return inputWeight.biasValues!
        case 1: return UnsafeMutableBufferPointer(start: hiddenWeight.pointer, count: hiddenWeight.count)
        case 2: return UnsafeMutableBufferPointer(start: hiddenBias.pointer, count: hiddenBias.count)
        default: return inputWeight.parameter(i)
        }
    }

    /// The gradient of parameter `i` from the last `backward`.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
    public func gradient(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        let cores = inputWeight.parameterShapes.count
        precondition(i >= 0 && i < cores + 3, "parameter index out of range")
        switch i - cores {
        case 0: return inputWeight.biasGradientValues!
        case 1: return UnsafeMutableBufferPointer(start: hiddenWeightGradient.pointer, count: hiddenWeightGradient.count)
        case 2: return UnsafeMutableBufferPointer(start: hiddenBiasGradient.pointer, count: hiddenBiasGradient.count)
        default: return inputWeight.gradient(i)
        }
    }

    /// Re-initialises every parameter like PyTorch's `nn.LSTM` / `nn.GRU`: W_hh, b_ih and
    /// b_hh uniform in ±1/√hidden; the TT cores seeded Gaussian, scaled so that each element of
    /// the reconstructed W_ih has that uniform's variance, 1 / (3 · hidden).
    /// - Throws: `TNError.memory` only if the TT part cannot allocate.
    public func initialize(seed: UInt64) throws {
        try withLock {
            try inputWeight.fillInitial(seed: seed)
            fillDense(seed: seed)
        }
    }

    /// Rescales the TT cores from `TTLinear`'s variance 1 / (3 · in) to 1 / (3 · hidden) and
    /// draws the dense parts.
    func fillDense(seed: UInt64) {
        let d = inputWeight.parameterShapes.count
        let scale = T(pow(Double(inputSize) / Double(hiddenSize), 1 / (2 * Double(d))))
        for k in 0..<d {
            let core = inputWeight.parameter(k)
            for j in core.indices { core[j] *= scale }
        }
        let bound = 1 / Double(hiddenSize).squareRoot()
        var random = SeededRandom(seed: seed ^ 0x5851_F42D_4C95_7F2D)
        let uniform = { (p: UnsafeMutablePointer<T>, n: Int) in
            for j in 0..<n { p[j] = T((2 * random.nextUniform() - 1) * bound) }
        }
        let bias = inputWeight.biasValues!
        uniform(bias.baseAddress!, bias.count)
        uniform(hiddenWeight.pointer, hiddenWeight.count)
        uniform(hiddenBias.pointer, hiddenBias.count)
    }

    /// W_ih as a dense input_size × (G · hidden) matrix, contracted from the TT cores.
    /// - Throws: `TNError.memory` when it cannot be allocated.
    public func denseInputWeight() throws -> Matrix<T> {
        try withLock { try inputWeight.denseWeight() }
    }
}
