#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The position-wise feed-forward block of a transformer with both linear maps stored as
/// TT-matrices:
///
///     y = TT₂(act(TT₁(x))),   TT₁(x) = x · W₁ + b₁ (d_model → d_ff),
///                             TT₂(h) = h · W₂ + b₂ (d_ff → d_model),
///
/// where W₁ (d_model × d_ff) and W₂ (d_ff × d_model) are TT-matrices with the same number of
/// modes (Π modelModes = d_model, Π hiddenModes = d_ff) and `act` is one of `Activation`'s
/// element-wise functions (ReLU, as in Vaswani et al., or the exact GELU). Each map is a
/// `TTLinear`, so each runs on that layer's cached contraction plans.
///
/// The input is any array whose last axis is d_model — (batch, d_model), (batch, seq,
/// d_model), … — and the map acts on every row alike.
///
/// Parameters, in order: the first map's cores "ff1.core_k" (r_{k−1}, m_k, h_k, r_k) and
/// "ff1.bias" (d_ff), then the second map's "ff2.core_k" (r_{k−1}, h_k, m_k, r_k) and
/// "ff2.bias" (d_model) (no bias entries for `bias: false`). Each lives in its layer's buffer
/// (`parameter(i)`), writable in place; `backward` fills `gradient(i)`.
///
/// Thread safety: calls on one block are serialised by a lock; different blocks run in
/// parallel.
public final class TTFeedForward<T: LAPACKScalar> {
    /// The modes of d_model (Π = modelDim).
    public let modelModes: [Int]
    /// The modes of d_ff (Π = hiddenDim).
    public let hiddenModes: [Int]
    /// d_model: the features of the input and of the output.
    public let modelDim: Int
    /// d_ff: the features between the two maps.
    public let hiddenDim: Int
    /// The element-wise function between the maps.
    public let activation: Activation
    /// Whether both maps have a bias.
    public let hasBias: Bool
    /// "ff1.core_0" … "ff1.bias", "ff2.core_0" … "ff2.bias".
    public let parameterNames: [String]
    /// The shape of each parameter.
    public let parameterShapes: [[Int]]

    /// TT₁: d_model → d_ff.
    let first: TTLinear<T>
    /// TT₂: d_ff → d_model.
    let second: TTLinear<T>
    var lock = pthread_mutex_t()

    /// A block with fresh TT cores (each map initialised like `TTLinear`: the reconstructed
    /// weight has PyTorch's dense variance 1 / (3 · fan_in)) and zero biases.
    /// - Parameters:
    ///   - modelModes: d ≥ 1 modes of d_model, each ≥ 1.
    ///   - hiddenModes: d modes of d_ff (as many as `modelModes`), each ≥ 1.
    ///   - ranks: the d − 1 inner TT ranks, each ≥ 1, used by both maps.
    ///   - activation: `.relu` (default) or `.gelu` (any `Activation` is accepted).
    ///   - bias: whether both maps add a bias.
    ///   - seed: fixes the random initialisation (the second map draws from a derived seed).
    /// - Throws: `TNError.shape` for bad modes or a rank list of the wrong length;
    ///   `TNError.value` for a rank below 1.
    public init(modelModes: [Int], hiddenModes: [Int], ranks: [Int], activation: Activation = .relu,
                bias: Bool = true, seed: UInt64 = 0) throws {
        try LayerLabels.check("TTFeedForward", inputModes: modelModes, outputModes: hiddenModes, sameCount: true)
        guard ranks.count == modelModes.count - 1 else {
            throw TNError.shape("TTFeedForward with \(modelModes.count) modes has \(modelModes.count - 1) TT bonds but \(ranks.count) ranks were given")
        }
        for r in ranks where r < 1 { throw TNError.value("TTFeedForward: TT ranks must be at least 1 (got \(ranks))") }
        first = try TTLinear<T>(inputModes: modelModes, outputModes: hiddenModes, ranks: ranks, bias: bias, seed: seed)
        second = try TTLinear<T>(inputModes: hiddenModes, outputModes: modelModes, ranks: ranks, bias: bias,
                                 seed: TTFeedForward.secondSeed(seed))
        self.modelModes = modelModes
        self.hiddenModes = hiddenModes
        modelDim = first.inFeatures
        hiddenDim = first.outFeatures
        self.activation = activation
        hasBias = bias
        var names: [String] = [], shapes: [[Int]] = []
        for (prefix, layer) in [("ff1", first), ("ff2", second)] {
            names += layer.parameterNames.map { "\(prefix).\($0)" }
            shapes += layer.parameterShapes
            if bias {
                names.append("\(prefix).bias")
                shapes.append([layer.outFeatures])
            }
        }
        parameterNames = names
        parameterShapes = shapes
        pthread_mutex_init(&lock, nil)
    }

    /// A block with the same TT rank on every bond of both maps.
    /// - Throws: as `init(modelModes:hiddenModes:ranks:activation:bias:seed:)`.
    public convenience init(modelModes: [Int], hiddenModes: [Int], rank: Int, activation: Activation = .relu,
                            bias: Bool = true, seed: UInt64 = 0) throws {
        try self.init(modelModes: modelModes, hiddenModes: hiddenModes,
                      ranks: [Int](repeating: rank, count: Swift.max(modelModes.count - 1, 0)),
                      activation: activation, bias: bias, seed: seed)
    }

    deinit { pthread_mutex_destroy(&lock) }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return try body()
    }

    static func secondSeed(_ seed: UInt64) -> UInt64 { seed ^ 0x2545_F491_4F6C_DD1D }

    /// The d + 1 TT ranks of each map (first and last 1).
    public var ranks: [Int] { first.ranks }

    /// The number of parameters (cores and biases of both maps).
    public var parameterCount: Int { first.parameterCount + second.parameterCount }

    /// The layer and its parameter index (nil: the bias) behind parameter `i`.
    private func locate(_ i: Int) -> (EinsumLayer<T>, Int?) {
        let perLayer = first.parameterShapes.count + (hasBias ? 1 : 0)
        precondition(i >= 0 && i < 2 * perLayer, "parameter index out of range")
        let layer: EinsumLayer<T> = i < perLayer ? first : second
        let j = i % perLayer
        return (layer, j < layer.parameterShapes.count ? j : nil)
    }

    /// Parameter `i`'s values (row-major in `parameterShapes[i]`), writable in place.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
    public func parameter(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        let (layer, j) = locate(i)
        return j.map { layer.parameter($0) } ?? layer.biasValues!
    }

    /// The gradient of parameter `i` from the last `backward`.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
    public func gradient(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        let (layer, j) = locate(i)
        return j.map { layer.gradient($0) } ?? layer.biasGradientValues!
    }

    /// Re-initialises both maps like `init` does.
    /// - Throws: `TNError.memory` only if a map cannot allocate.
    public func initialize(seed: UInt64) throws {
        try withLock {
            try first.fillInitial(seed: seed)
            try second.fillInitial(seed: TTFeedForward.secondSeed(seed))
        }
    }

    /// W₁ (d_model × d_ff) and W₂ (d_ff × d_model) as dense matrices, contracted from the cores.
    /// - Throws: `TNError.memory` when they cannot be allocated.
    public func denseWeights() throws -> (first: Matrix<T>, second: Matrix<T>) {
        try withLock { (try first.denseWeight(), try second.denseWeight()) }
    }
}
