#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A 2-D convolution layer on NCHW arrays whose kernel K (out_channels, in_channels, kh, kw)
/// is a tensor network over its parameters: y[n, o] = Σ_c K[o, c] ⋆ x[n, c] + b[o], with
/// PyTorch's `conv2d` semantics for stride, padding and dilation (cross-correlation).
///
/// Each layer has two evaluations: its own structure, stage by stage (1 × 1 convolutions,
/// depthwise and small dense convolutions on the factors), and the dense kernel contracted
/// from the parameters followed by one convolution (im2col + GEMM). For each input shape a
/// FLOP and memory-traffic estimate picks the cheaper; the contracted operands are kept until
/// the parameters change (compared exactly). Scratch buffers are made once per input shape
/// (the most recent few are kept).
///
/// Parameters and gradients live in the layer's own buffers, writable in place. Calls on one
/// layer are serialised by a lock; different layers run in parallel.
public class ConvLayer<T: LAPACKScalar> {
    /// Input channels C.
    public let inChannels: Int
    /// Output channels O.
    public let outChannels: Int
    /// (kh, kw).
    public let kernelSize: [Int]
    /// (height, width) strides.
    public let stride: [Int]
    /// The padding as given.
    public let padding: ConvPadding
    /// (height, width) dilations.
    public let dilation: [Int]
    /// Whether y gets a bias of `outChannels` values.
    public let hasBias: Bool
    /// The shape of each parameter.
    public let parameterShapes: [[Int]]
    /// A name per parameter ("weight"; "weights", "factor_k"; "core", …).
    public let parameterNames: [String]

    let layerName: String
    let window: ConvWindow
    let parameters: [Workspace<T>]
    let gradients: [Workspace<T>]
    let bias: Workspace<T>?
    let biasGradient: Workspace<T>?
    /// The operands and stages of the factorized evaluation (nil: the kernel is a parameter).
    let factorizedOperands: [ConvOperand<T>]?
    let factorizedStages: [ConvStage]?
    /// The dense kernel (O, C, kh, kw): parameter 0, or contracted from the parameters.
    let kernelOperand: ConvOperand<T>
    /// Programs by (N, H, W), the most recent last.
    var programs: [(key: [Int], program: ConvProgram<T>)] = []
    /// Set by tests to run one evaluation whatever the estimate says.
    var forcedChoice: ConvPathChoice? = nil
    /// Parameters initialised to ones (CP weights).
    let unitParameters: Set<Int>
    /// Π of the sizes of the labels summed when the kernel is contracted (1 for dense).
    let bondProduct: Double
    var lock = pthread_mutex_t()
    static var cachedPrograms: Int { 4 }

    /// Allocates the parameters (zero) and builds both evaluations.
    /// - Parameters:
    ///   - kernelEquation: the contraction of all parameters into K (its output, C order,
    ///     must be (O, C, kh, kw) possibly split into modes); nil when parameter 0 is K.
    ///   - factorized: the factorized path, or nil for a dense layer.
    init(layer: String, inChannels: Int, outChannels: Int, kernelSize: [Int], stride: [Int], padding: ConvPadding,
         dilation: [Int], bias: Bool, parameterShapes: [[Int]], parameterNames: [String], kernelEquation: String?,
         factorized: (operands: [ConvOperandSpec], stages: [ConvStage])?, bondProduct: Double,
         unitParameters: Set<Int> = []) throws {
        guard inChannels >= 1, outChannels >= 1 else {
            throw TNError.value("\(layer): in_channels and out_channels must be at least 1 (got \(inChannels) and \(outChannels))")
        }
        window = try ConvWindow(layer: layer, kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation)
        _ = try checkedProduct([outChannels, inChannels, kernelSize[0], kernelSize[1]], what: "the \(layer) kernel")
        layerName = layer
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.hasBias = bias
        self.parameterShapes = parameterShapes
        self.parameterNames = parameterNames
        self.unitParameters = unitParameters
        self.bondProduct = bondProduct
        parameters = try parameterShapes.map { try Workspace<T>(count: checkedProduct($0, what: "a parameter of shape \($0)")) }
        gradients = try parameters.map { try Workspace<T>(count: $0.count) }
        for b in parameters + gradients { b.pointer.initialize(repeating: 0, count: b.count) }
        self.bias = bias ? try Workspace<T>(count: outChannels) : nil
        biasGradient = bias ? try Workspace<T>(count: outChannels) : nil
        for b in [self.bias, biasGradient].compactMap({ $0 }) { b.pointer.initialize(repeating: 0, count: b.count) }
        kernelOperand = try ConvOperand(kernelEquation.map { .contraction($0, Array(parameterShapes.indices)) } ?? .parameter(0),
                                        parameterShapes: parameterShapes)
        guard kernelOperand.count == outChannels * inChannels * window.kernelArea else {
            throw TNError.shape("\(layer): the kernel has \(kernelOperand.count) values, not \(outChannels)·\(inChannels)·\(kernelSize[0])·\(kernelSize[1]) (internal)")
        }
        factorizedOperands = try factorized?.operands.map { try ConvOperand($0, parameterShapes: parameterShapes) }
        factorizedStages = factorized?.stages
        pthread_mutex_init(&lock, nil)
    }

    deinit { pthread_mutex_destroy(&lock) }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return try body()
    }

    /// The zero padding as applied: top, bottom, left, right (`.same` may pad one more row or
    /// column at the bottom / right).
    public var appliedPadding: [Int] { [window.padTop, window.padBottom, window.padLeft, window.padRight] }

    /// The number of parameters (the bias included).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } + (bias?.count ?? 0) }

    /// A dense convolution's parameter count over this layer's (biases on both sides).
    public var compression: Double {
        (Double(outChannels) * Double(inChannels) * Double(window.kernelArea) + Double(hasBias ? outChannels : 0))
            / Double(parameterCount)
    }

    /// Parameter `i`'s values (row-major in its shape), writable in place.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
    public func parameter(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: parameters[i].pointer, count: parameters[i].count)
    }

    /// The gradient of parameter `i` from the last `backward`.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
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

    /// The output shape (N, out_channels, H', W') for an input of shape (N, C, H, W).
    /// - Throws: `TNError.shape` for an input that is not 4-D, has the wrong channel count, or
    ///   is smaller than the dilated kernel after padding.
    /// - Complexity: O(1).
    public func outputShape(forInput shape: [Int]) throws -> [Int] {
        try checkInput(shape, what: "the input")
        let (oh, ow) = try window.outputSize(height: shape[2], width: shape[3], layer: layerName)
        return [shape[0], outChannels, oh, ow]
    }

    func checkInput(_ shape: [Int], what: String) throws {
        guard shape.count == 4 else {
            throw TNError.shape("\(layerName): \(what) has shape \(shape) but the layer takes (batch, \(inChannels), height, width)")
        }
        guard shape[1] == inChannels else {
            throw TNError.shape("\(layerName): \(what) has \(shape[1]) channels (shape \(shape)) but the layer has in_channels = \(inChannels)")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TNError.shape("\(layerName): \(what) has a negative size (\(shape))") }
        _ = try checkedProduct(shape, what: "\(what) of shape \(shape)")
    }

    /// Fills every parameter with seeded Gaussian values scaled so that each element of the
    /// reconstructed kernel has variance 1 / (3 · in_channels · kh · kw), PyTorch's default for
    /// a dense `Conv2d` (kaiming-uniform with a = √5), and zeroes the bias.
    ///
    /// A kernel element is a sum over the contracted (rank) labels of products of one entry
    /// per parameter, so with independent zero-mean entries its variance is
    /// Π_p σ_p² · Π_rank-labels size; every random parameter gets the same σ (CP weights are
    /// ones).
    /// - Complexity: O(parameterCount).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func initialize(seed: UInt64) {
        fillInitial(seed: seed)
    }

    /// `initialize` for code in this module (see `SVD.factor` on exported specialisations).
    func fillInitial(seed: UInt64) {
        withLock {
            let target = 1 / (3 * Double(inChannels * window.kernelArea))
            let randomCount = Swift.max(parameters.count - unitParameters.count, 1)
            let sigma = exp((log(target) - log(bondProduct)) / Double(randomCount) / 2)
            var random = SeededRandom(seed: seed)
            for (j, p) in parameters.enumerated() {
                let ones = unitParameters.contains(j)
                for i in 0..<p.count { p.pointer[i] = ones ? 1 : T(random.nextGaussian() * sigma) }
            }
            bias?.pointer.update(repeating: 0, count: outChannels)
        }
    }

    /// Copies `values` into the parameters and `bias` into the bias (counts equal by construction).
    func load(_ values: [[T]], bias values2: [T]?) {
        for (i, v) in values.enumerated() { parameter(i).overwrite(with: v) }
        if let b = values2, let dst = biasValues { dst.overwrite(with: b) }
    }
}
