#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Multi-linear attention (Ma et al. 2019, "A Tensorized Transformer for Language Modeling",
/// Section 3): attention as a block-term tensor decomposition whose factor matrices — the
/// projected queries, keys and values — are shared by all blocks, each block owning only a
/// diagonal core.
///
/// For one sequence, with Q (n × d_model), K and V (N × d_model):
///
/// - Shared projections (the paper's parameter sharing): Q̂ = Q W_q + b_q, K̂ = K W_k + b_k,
///   V̂ = V W_v + b_v, each W (d_model × R). The paper's Q, K, V ∈ ℝ^{N×d} enter the Tucker
///   form only through their first R columns (it sets I = J = M = R), so the projections are
///   R wide here.
/// - Single-block attention (the paper's Tucker form with a diagonal core, eqs. 5–6): block h
///   has a core G_h with G_h[i,j,m] = g_h[r] when i = j = m = r and 0 otherwise, so
///
///       T_h = G_h ×₁ Q̂ ×₂ K̂ ×₃ V̂ = Σ_{r=1}^{R} g_h[r] · q̂_r ∘ k̂_r ∘ v̂_r,
///       T_h[i, j, k] = Σ_r g_h[r] Q̂[i, r] K̂[j, r] V̂[k, r]        (n × N × N),
///
///   with q̂_r, k̂_r, v̂_r the r-th columns of Q̂, K̂, V̂ and ∘ the outer product. No softmax and
///   no 1/√d scaling appear in this form.
/// - Multi-linear attention (eq. 8): the blocks are averaged, the 3-order tensor is split
///   along its first (query) mode into n slices of N × N that are concatenated as the rows of
///   an n × N² matrix, and the output layer maps it to d_model:
///
///       MultiLinear(G; Q, K, V) = SplitConcat((T_1 + … + T_H) / H) · W_o + b_o,
///       Y[i, o] = Σ_{j,k} T̄[i, j, k] · W_o[j · N + k, o] + b_o[o],   W_o (N² × d_model).
///
/// Where the paper is ambiguous this follows its authors' released language-model code (the
/// most used open implementation): SplitConcat is the row-major reshape of T̄ from
/// (n, N, N) to (n, N²) — slicing along the query mode — so W_o is sized for a fixed key/value
/// length N (`keyLength`); the query length n is free. The paper says the core vector is
/// drawn from rand(0, 1) and then normalised by a softmax in its experiments, while that code
/// applies the softmax once to fixed random cores: here each g_h is a trainable parameter used
/// as is (default), or, with `softmaxCores`, the stored values are logits θ_h and
/// g_h = softmax(θ_h). The paper's masks, dropout, residual and layer norm are outside this
/// layer.
///
/// Because the factors are shared, the block average is itself one CP term with the averaged
/// core ḡ = (g_1 + … + g_H) / H, and with M[r, o] = Σ_{j,k} K̂[j, r] V̂[k, r] W_o[j·N + k, o]
/// the output is Y = Q̂ · diag(ḡ) · M + b_o. The layer computes it that way with GEMMs and
/// never forms the n × N × N tensor: O(R · N² · d_model) per sequence (W_o's size times R)
/// instead of O(n · N² · (R + d_model)).
///
/// Parameters, in order: "query.weight" (d_model, R), "query.bias" (R), "key.weight",
/// "key.bias", "value.weight", "value.bias", "cores" (H, R), "output.weight" (N², d_model),
/// "output.bias" (d_model); the biases only with `bias: true`. Weights are stored
/// in × out (y = x · W). Each lives in the layer's own buffer (`parameter(i)`), writable in
/// place; `backward` fills `gradient(i)`.
///
/// Thread safety: calls on one layer are serialised by a lock; different layers run in
/// parallel.
public final class MultiLinearAttention<T: LAPACKScalar> {
    /// d_model: the features of Q, K, V and of the output.
    public let modelDim: Int
    /// N: the key and value sequence length W_o is sized for (N² × d_model).
    public let keyLength: Int
    /// H: the number of blocks (diagonal cores).
    public let blocks: Int
    /// R: the core length, and the width of the shared projections.
    public let rank: Int
    /// Whether the cores are stored as logits and normalised by a softmax per block.
    public let softmaxCores: Bool
    /// Whether the four linear maps have biases.
    public let hasBias: Bool
    /// The name of each parameter (see the type's description).
    public let parameterNames: [String]
    /// The shape of each parameter.
    public let parameterShapes: [[Int]]

    /// Where a parameter lives.
    enum Slot {
        case weight(Linear<T>), bias(Linear<T>), cores
    }

    let queryMap: Linear<T>
    let keyMap: Linear<T>
    let valueMap: Linear<T>
    /// W_o and b_o (only its storage is used: the layer contracts W_o itself).
    let outputMap: Linear<T>
    let cores: Workspace<T>
    let coreGradient: Workspace<T>
    let slots: [Slot]
    var lock = pthread_mutex_t()

    /// A layer with fresh parameters: every weight like a PyTorch-default dense layer of its
    /// fan-in (variance 1 / (3 · fan_in), zero biases), core entries uniform in (0, 1) as the
    /// paper draws them.
    /// - Parameters:
    ///   - modelDim: d_model ≥ 1.
    ///   - keyLength: N ≥ 1, the length of K and V (W_o has N² rows).
    ///   - blocks: H ≥ 1.
    ///   - rank: R ≥ 1.
    ///   - bias: whether the projections and the output layer add biases.
    ///   - softmaxCores: store logits and use g_h = softmax(θ_h) (see the type's description).
    ///   - seed: fixes the random initialisation.
    /// - Throws: `TNError.value` for a size below 1; `TNError.memory` when N² · d_model
    ///   overflows or cannot be allocated.
    public init(modelDim: Int, keyLength: Int, blocks: Int, rank: Int, bias: Bool = true, softmaxCores: Bool = false,
                seed: UInt64 = 0) throws {
        for (name, v) in [("modelDim (d_model)", modelDim), ("keyLength (N)", keyLength), ("blocks (H)", blocks), ("rank (R)", rank)]
        where v < 1 {
            throw TNError.value("MultiLinearAttention: \(name) must be at least 1 (got \(v))")
        }
        let squared = try checkedProduct([keyLength, keyLength], what: "MultiLinearAttention's N² = \(keyLength)²")
        _ = try checkedProduct([squared, modelDim], what: "MultiLinearAttention's output weight")
        let coreCount = try checkedProduct([blocks, rank], what: "MultiLinearAttention's cores")
        try LayerAllocationBudget.check(coreCount)
        queryMap = try Linear<T>(inFeatures: modelDim, outFeatures: rank, bias: bias)
        keyMap = try Linear<T>(inFeatures: modelDim, outFeatures: rank, bias: bias)
        valueMap = try Linear<T>(inFeatures: modelDim, outFeatures: rank, bias: bias)
        outputMap = try Linear<T>(inFeatures: squared, outFeatures: modelDim, bias: bias)
        cores = try Workspace<T>(count: coreCount)
        coreGradient = try Workspace<T>(count: coreCount)
        coreGradient.pointer.initialize(repeating: 0, count: coreCount)
        cores.pointer.initialize(repeating: 0, count: coreCount)
        self.modelDim = modelDim
        self.keyLength = keyLength
        self.blocks = blocks
        self.rank = rank
        self.softmaxCores = softmaxCores
        hasBias = bias
        var slots: [Slot] = [], names: [String] = [], shapes: [[Int]] = []
        for (name, map) in [("query", queryMap), ("key", keyMap), ("value", valueMap)] {
            slots.append(.weight(map)); names.append("\(name).weight"); shapes.append([modelDim, rank])
            if bias { slots.append(.bias(map)); names.append("\(name).bias"); shapes.append([rank]) }
        }
        slots.append(.cores); names.append("cores"); shapes.append([blocks, rank])
        slots.append(.weight(outputMap)); names.append("output.weight"); shapes.append([squared, modelDim])
        if bias { slots.append(.bias(outputMap)); names.append("output.bias"); shapes.append([modelDim]) }
        self.slots = slots
        parameterNames = names
        parameterShapes = shapes
        pthread_mutex_init(&lock, nil)
        try fillInitial(seed: seed)
    }

    deinit { pthread_mutex_destroy(&lock) }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return try body()
    }

    /// The number of parameters.
    public var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.reduce(1, *) } }

    /// Parameter `i`'s values (row-major in `parameterShapes[i]`), writable in place.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
    public func parameter(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        precondition(i >= 0 && i < slots.count, "parameter index out of range")
        switch slots[i] {
        case .weight(let map): return map.parameter(0)
        case .bias(let map): return map.biasValues!
        case .cores: return UnsafeMutableBufferPointer(start: cores.pointer, count: cores.count)
        }
    }

    /// The gradient of parameter `i` from the last `backward`.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
    public func gradient(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        precondition(i >= 0 && i < slots.count, "parameter index out of range")
        switch slots[i] {
        case .weight(let map): return map.gradient(0)
        case .bias(let map): return map.biasGradientValues!
        case .cores: return UnsafeMutableBufferPointer(start: coreGradient.pointer, count: coreGradient.count)
        }
    }

    /// Re-initialises every parameter like `init` does.
    /// - Throws: `TNError.memory` only if a map cannot allocate.
    public func initialize(seed: UInt64) throws {
        try fillInitial(seed: seed)
    }

    /// `initialize` for code in this module.
    func fillInitial(seed: UInt64) throws {
        try withLock {
            for (k, map) in [queryMap, keyMap, valueMap, outputMap].enumerated() {
                try map.fillInitial(seed: seed ^ (0x9E37_79B9_7F4A_7C15 &* UInt64(k + 1)))
            }
            var random = SeededRandom(seed: seed ^ 0xD1B5_4A32_D192_ED03)
            for i in 0..<cores.count { cores.pointer[i] = T(random.nextUniform()) }
        }
    }

    /// The cores in use, g_h (softmax(θ_h) with `softmaxCores`), H × R row-major, in double.
    func effectiveCores() -> [Double] {
        let (h, r) = (blocks, rank)
        var g = (0..<(h * r)).map { Double(cores.pointer[$0]) }
        guard softmaxCores else { return g }
        for b in 0..<h {
            let row = (b * r)..<((b + 1) * r)
            let top = g[row].max()!
            var sum = 0.0
            for i in row { g[i] = exp(g[i] - top); sum += g[i] }
            for i in row { g[i] /= sum }
        }
        return g
    }

    /// The cores in use (g_h, after the softmax with `softmaxCores`), H × R row-major.
    public func coreValues() -> [T] {
        withLock { effectiveCores().map { T($0) } }
    }
}
