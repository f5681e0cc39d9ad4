#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A linear layer whose weight is a tensor network: y = einsum(x, P_1, …, P_k) + b.
///
/// The equation names the input first, then the parameters, e.g. the two-core TensorNetwork
/// layer `"nij,aik,bjk->nab"`. The input's first label (or `...`) is the batch: it appears in
/// no parameter and leads the output. Every other input label is an input mode (its size
/// comes from the parameter that carries it); every other output label is an output mode. So
/// the layer maps in_features = Π input modes to out_features = Π output modes, and its weight
/// as a matrix is W (in_features × out_features) with y = x · W + b.
///
/// Forward and backward run on contraction plans cached per batch size: the path optimizer
/// and `LayerCostModel` decide, for that batch, whether contracting x through the factors or
/// rebuilding W first is cheaper (`planReport(batch:)` says which). A rebuilt W is kept until
/// the parameters change (checked exactly before each use), so inference runs one GEMM;
/// backward reuses the forward's intermediates. Parameters and gradients live in the layer's own aligned buffers, which
/// callers may read and write in place (optimizers update them there).
///
/// Thread safety: calls on one layer are serialised by a lock (they share gradient buffers);
/// different layers run in parallel.
public class EinsumLayer<T: LAPACKScalar> {
    /// The equation in the layer's own form: batch label, input modes, parameters, output.
    public let equation: String
    /// The shape of each parameter.
    public let parameterShapes: [[Int]]
    /// The sizes of the input modes, in the order of the input's labels.
    public let inputModes: [Int]
    /// The sizes of the output modes, in the order of the output's labels.
    public let outputModes: [Int]
    /// Π inputModes.
    public let inFeatures: Int
    /// Π outputModes.
    public let outFeatures: Int
    /// Whether y gets a bias of `outFeatures` values.
    public let hasBias: Bool
    /// A name per parameter ("core_0", "factor_1", …; "p0", "p1", … for a custom equation).
    public internal(set) var parameterNames: [String]

    let spec: LayerEquation
    var expression: EinsumExpression { spec.expression }
    let parameters: [Workspace<T>]
    let gradients: [Workspace<T>]
    /// Views of `parameters` and `gradients` in their shapes, made once: every forward and
    /// backward passes them to plans.
    let parameterViews: [StridedView<T>]
    let gradientViews: [StridedView<T>]
    let bias: Workspace<T>?
    let biasGradient: Workspace<T>?
    /// Programs by batch size (the most recent few).
    var plans: [(batch: Int, program: LayerProgram<T>)] = []
    /// The rebuilt weight, for batch sizes whose program is `rebuilt`.
    var weightCache: WeightCache<T>? = nil
    var lock = pthread_mutex_t()
    static var cachedPlans: Int { 4 }

    /// A layer from an equation and parameter shapes, parameters initialised so that the
    /// reconstructed weight has the variance of PyTorch's default dense init (see
    /// `initialize(seed:)`).
    /// - Parameters:
    ///   - equation: input, parameters, `->`, output; the input's first label (or `...`) is
    ///     the batch.
    ///   - parameterShapes: one shape per parameter operand.
    ///   - bias: whether to add a bias (initialised to zero).
    ///   - seed: fixes the random initialisation.
    /// - Throws: `TNError.subscript` for a malformed equation or one that is not a layer (no
    ///   batch label, a batch label in a parameter or not leading the output, an input label
    ///   in no parameter, an output label from nowhere); `TNError.shape` when the parameter
    ///   shapes do not fit the equation; `TNError.memory` when a buffer cannot be allocated.
    public convenience init(equation: String, parameterShapes: [[Int]], bias: Bool = true, seed: UInt64 = 0) throws {
        try self.init(layerEquation: equation, parameterShapes: parameterShapes, bias: bias)
        try fillInitial(seed: seed)
    }

    /// Parses and checks the equation and allocates the buffers (parameters zero).
    init(layerEquation equation: String, parameterShapes: [[Int]], bias: Bool) throws {
        guard !parameterShapes.isEmpty else { throw TNError.shape("a layer needs at least one parameter") }
        let spec = try LayerEquation(equation, parameterShapes: parameterShapes)
        self.equation = spec.canonical
        self.spec = spec
        self.parameterShapes = parameterShapes
        self.inputModes = spec.inputModes
        self.outputModes = spec.outputModes
        self.inFeatures = try checkedProduct(spec.inputModes, what: "the input features")
        self.outFeatures = try checkedProduct(spec.outputModes, what: "the output features")
        self.hasBias = bias
        parameterNames = parameterShapes.indices.map { "p\($0)" }
        let sizes = try parameterShapes.map { try checkedProduct($0, what: "a parameter of shape \($0)") }
        var total = bias ? outFeatures : 0
        for n in sizes {
            let (sum, overflow) = total.addingReportingOverflow(n)
            guard !overflow else { throw TNError.memory("the layer's parameters overflow a 64-bit count") }
            total = sum
        }
        try LayerAllocationBudget.check(total)
        parameters = try sizes.map { try Workspace<T>(count: $0) }
        gradients = try parameters.map { try Workspace<T>(count: $0.count) }
        parameterViews = zip(parameters, parameterShapes).map { StridedView(contiguous: $0.pointer, shape: $1) }
        gradientViews = zip(gradients, parameterShapes).map { StridedView(contiguous: $0.pointer, shape: $1) }
        for b in parameters + gradients { b.pointer.initialize(repeating: 0, count: b.count) }
        self.bias = bias ? try Workspace<T>(count: outFeatures) : nil
        self.biasGradient = bias ? try Workspace<T>(count: outFeatures) : nil
        for b in [self.bias, biasGradient].compactMap({ $0 }) { b.pointer.initialize(repeating: 0, count: b.count) }
        pthread_mutex_init(&lock, nil)
    }

    deinit { pthread_mutex_destroy(&lock) }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return try body()
    }

    /// What rebuilds this layer's structure (not its values), as model files store it.
    public var configuration: JSONValue {
        .object([("type", .string("EinsumLayer")), ("equation", .string(equation)),
                 ("parameter_shapes", .array(parameterShapes.map { .array($0.map { .number(Double($0)) }) })),
                 ("bias", .bool(hasBias))])
    }

    /// The number of parameters (including the bias).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } + (bias?.count ?? 0) }

    /// Parameter `i`'s values (row-major in its shape), writable in place.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
    public func parameter(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: parameters[i].pointer, count: parameters[i].count)
    }

    /// The gradient of parameter `i` from the last `backward`.
    public func gradient(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: gradients[i].pointer, count: gradients[i].count)
    }

    /// The bias (nil without one), writable in place.
    public var biasValues: UnsafeMutableBufferPointer<T>? {
        bias.map { UnsafeMutableBufferPointer(start: $0.pointer, count: $0.count) }
    }

    /// The bias gradient from the last `backward` (nil without a bias).
    public var biasGradientValues: UnsafeMutableBufferPointer<T>? {
        biasGradient.map { UnsafeMutableBufferPointer(start: $0.pointer, count: $0.count) }
    }

    /// Parameters `initialize` sets to ones instead of random values (CP weights).
    var unitParameters: Set<Int> = []

    /// Fills every parameter with seeded Gaussian values scaled so that each element of the
    /// reconstructed weight has variance 1 / (3 · in_features), PyTorch's default for a dense
    /// `Linear` (kaiming-uniform with a = √5), and zeroes the bias.
    ///
    /// The weight element is a sum over the contracted (rank) labels of products of one entry
    /// per parameter, so with independent zero-mean entries its variance is
    /// Π_p σ_p² · Π_rank-labels size; every random parameter gets the same σ (CP weights are
    /// ones).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func initialize(seed: UInt64) throws {
        try fillInitial(seed: seed)
    }

    /// `initialize` for code in this module (see `SVD.factor` on exported specialisations).
    func fillInitial(seed: UInt64) throws {
        withLock {
            let target = 1 / (3 * Double(inFeatures))
            let bonds = spec.bondSizes
            let randomCount = parameters.count - unitParameters.count
            let logSigma2 = (log(target) - bonds.reduce(0.0) { $0 + log(Double($1)) }) / Double(Swift.max(randomCount, 1))
            let sigma = exp(logSigma2 / 2)
            var random = SeededRandom(seed: seed)
            for (j, p) in parameters.enumerated() {
                let ones = unitParameters.contains(j)
                for i in 0..<p.count { p.pointer[i] = ones ? 1 : T(random.nextGaussian() * sigma) }
            }
            bias?.pointer.update(repeating: 0, count: outFeatures)
        }
    }
}
