#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A contraction compiled for fixed operand shapes and one element type: the path, its cost,
/// the workspace, and the backward program planned with the forward.
///
/// Calls on one plan from several threads are serialised by the plan; use one plan per thread
/// to run in parallel. `backward` reuses the intermediates of the last `execute` when it gets
/// the same operand buffers (do not modify them in between, as with autograd).
public final class ContractionPlan<T: BLASScalar> {
    /// The parsed expression.
    public let expression: EinsumExpression
    /// The operand shapes the plan was made for.
    public let shapes: [[Int]]
    /// Shape of the result.
    public let outputShape: [Int]
    /// The chosen path and its cost.
    public let path: ContractionPath
    /// Size of every label.
    public let labelSizes: [Int]

    let operandCount: Int
    /// Physical labels of each operand: distinct labels in order, without broadcast (size-1
    /// against a larger size) and size-1 labels; `operandDims[i][d]` lists the operand
    /// dimensions whose strides add up for physical dimension d (more than one: a diagonal).
    let operandLabels: [[Int]]
    let operandDims: [[[Int]]]
    let outputLabels: [Int]
    let outputDims: [Int]
    /// Physical labels of each step result.
    let nodeLabels: [Int: [Int]]
    /// Some label has size 0: the result is empty or all zeros.
    let isEmpty: Bool

    // Slots: operands 0..<n, output n, dy n+1, grads n+2..<2n+2, step results, their gradients.
    var outputSlot: Int { operandCount }
    var dySlot: Int { operandCount + 1 }
    func gradSlot(_ i: Int) -> Int { operandCount + 2 + i }
    func nodeSlot(_ node: Int) -> Int { 2 * operandCount + 2 + (node - operandCount) }
    func dnodeSlot(_ node: Int) -> Int { nodeSlot(node) + path.steps.count }
    var firstScratchSlot: Int { 2 * operandCount + 2 + 2 * path.steps.count }

    var lock = pthread_mutex_t()
    var nodeBuffers: [Int: Workspace<T>] = [:]
    var forward: BoundProgram<T>? = nil
    var backwardProgram: BoundProgram<T>? = nil
    /// Operand pointers and strides of the last forward run whose intermediates are kept.
    var savedOperands: [UnsafeMutableRawPointer?] = []
    var savedStrides: [[Int]] = []
    var lastAddresses: [UInt] = []
    /// Operands the kept intermediates are computed from, and their fingerprints at the last
    /// forward run: backward recomputes when one changed.
    let intermediateOperands: [Int]
    var savedFingerprints: [UInt64] = []
    /// Views of the last successful `execute`, for `executeAgain`.
    var lastCall: (operands: [StridedView<T>], out: StridedView<T>)? = nil

    /// - Parameters:
    ///   - expression: the contraction (from `EinsumParser.parse` or `NconNetwork`).
    ///   - shapes: the shape of each operand.
    ///   - strategy: how to choose the path.
    ///   - memoryLimit: largest intermediate in elements, or nil.
    /// - Throws: `TNError.shape` when sizes disagree, `TNError.memory` when a size overflows,
    ///   `TNError.value` for a bad option.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public convenience init(expression: EinsumExpression, shapes: [[Int]], strategy: PathStrategy = .auto,
                            memoryLimit: Int? = nil) throws {
        try self.init(planning: expression, shapes: shapes, strategy: strategy, memoryLimit: memoryLimit)
    }

    /// The planner behind `init(expression:shapes:strategy:memoryLimit:)`; code in this module
    /// calls this one (see `SVD.factor` on exported specialisations).
    ///
    /// `steps`, when given, fixes the pairwise order instead of searching (a layer that
    /// compared candidate paths by its own cost model).
    init(planning expression: EinsumExpression, shapes: [[Int]], strategy: PathStrategy = .auto,
         memoryLimit: Int? = nil, steps: [(Int, Int)]? = nil) throws {
        let n = shapes.count
        guard n >= 1 else { throw TNError.shape("einsum needs at least one operand") }
        _ = ThreadSettings.workers   // configure BLAS threading before any GEMM runs
        guard expression.inputs.count == n else {
            throw TNError.shape("the expression has \(expression.inputs.count) operand(s) but \(n) shape(s) were given")
        }
        guard expression.labelCount <= LabelSet.capacity else {
            throw TNError.value("\(expression.labelCount) distinct labels; at most \(LabelSet.capacity) are supported")
        }
        if let limit = memoryLimit, limit < 1 { throw TNError.value("memory_limit must be at least 1 element (got \(limit))") }
        let name = { (l: Int) in expression.labelDescriptions[l] }
        var sizes = [Int](repeating: -1, count: expression.labelCount)
        for (i, (labels, shape)) in zip(expression.inputs, shapes).enumerated() {
            guard labels.count == shape.count else {
                throw TNError.shape("operand \(i) has \(shape.count) dimension(s) but the expression gives it \(labels.count) label(s)")
            }
            for (d, l) in labels.enumerated() {
                let s = shape[d]
                guard s >= 0 else { throw TNError.shape("operand \(i) has a negative size \(s) in dimension \(d)") }
                if let first = labels.firstIndex(of: l), first < d, shape[first] != s {
                    throw TNError.shape("operand \(i) repeats \(name(l)) over dimensions of sizes \(shape[first]) and \(s); a diagonal needs equal sizes")
                }
                if sizes[l] == -1 || sizes[l] == 1 { sizes[l] = s }
                else if s != 1 && s != sizes[l] {
                    let other = zip(expression.inputs, shapes).enumerated().first { $0.element.0.contains(l) && $0.element.1[$0.element.0.firstIndex(of: l)!] == sizes[l] }
                    throw TNError.shape("\(name(l)) has size \(s) in operand \(i) (dimension \(d)) but size \(sizes[l]) in operand \(other?.offset ?? 0); sizes must match or be 1")
                }
            }
        }
        for l in 0..<sizes.count where sizes[l] == -1 { sizes[l] = 1 }
        for (i, shape) in shapes.enumerated() { _ = try checkedProduct(shape, what: "operand \(i)") }
        let outShape = expression.output.map { sizes[$0] }
        _ = try checkedProduct(outShape, what: "the output")

        // Physical layouts.
        var opLabels: [[Int]] = [], opDims: [[[Int]]] = []
        for (labels, shape) in zip(expression.inputs, shapes) {
            var ls: [Int] = [], ds: [[Int]] = []
            for (d, l) in labels.enumerated() {
                guard sizes[l] > 1, shape[d] == sizes[l] || sizes[l] == 0 else { continue }
                if let k = ls.firstIndex(of: l) { ds[k].append(d) } else { ls.append(l); ds.append([d]) }
            }
            opLabels.append(ls); opDims.append(ds)
        }
        var outLabels: [Int] = [], outDims: [Int] = []
        for (d, l) in expression.output.enumerated() where sizes[l] > 1 || sizes[l] == 0 { outLabels.append(l); outDims.append(d) }

        let optimizer = PathOptimizer(inputs: expression.inputs.map { LabelSet($0) }, output: LabelSet(expression.output),
                                      sizes: sizes.map(Double.init), memoryLimit: memoryLimit)
        let path = try steps.map { try optimizer.path(steps: $0) } ?? optimizer.path(strategy)
        // Each kernel loops over its own index space: the whole one for a direct contraction,
        // the union of the two operands' labels for a pairwise step.
        if path.isDirect || path.steps.isEmpty {
            _ = try checkedProduct(Set(expression.inputs.joined()).map { sizes[$0] }, what: "the contraction's index space")
        }
        var nodes: [Int: [Int]] = [:]
        var phys = opLabels.map { Set($0) }
        for (s, (x, y)) in path.steps.enumerated() {
            let node = n + s
            let logical = path.nodeLabels[node]
            let present = phys[x].union(phys[y])
            _ = try checkedProduct(present.map { sizes[$0] }, what: "the index space of step \(s)")
            let ordered = (0..<sizes.count).filter { present.contains($0) && logical.contains($0) }
            nodes[node] = ordered
            phys.append(Set(ordered))
        }

        self.expression = expression
        self.shapes = shapes
        self.outputShape = outShape
        self.path = path
        self.labelSizes = sizes
        self.operandCount = n
        self.operandLabels = opLabels
        self.operandDims = opDims
        self.outputLabels = outLabels
        self.outputDims = outDims
        self.nodeLabels = nodes
        self.isEmpty = sizes.contains(0)
        var feeding = Set<Int>()
        var leaves: [Int: Set<Int>] = [:]
        for k in 0..<n { leaves[k] = [k] }
        for (s, (x, y)) in path.steps.enumerated() {
            leaves[n + s] = leaves[x]!.union(leaves[y]!)
            if s < path.steps.count - 1 { feeding.formUnion(leaves[n + s]!) }
        }
        self.intermediateOperands = feeding.sorted()
        pthread_mutex_init(&lock, nil)
        for (node, labels) in nodes where node != n + path.steps.count - 1 {
            nodeBuffers[node] = try Workspace<T>(count: try checkedProduct(labels.map { sizes[$0] }, what: "an intermediate"))
        }
    }

    deinit { pthread_mutex_destroy(&lock) }

    /// Convenience: parse `subscripts` and plan for `shapes`.
    /// - Throws: `TNError.subscript` or the errors of `init(expression:shapes:strategy:memoryLimit:)`.
    public convenience init(_ subscripts: String, shapes: [[Int]], strategy: PathStrategy = .auto,
                            memoryLimit: Int? = nil) throws {
        let e = try EinsumParser.parse(subscripts, ndims: shapes.map(\.count))
        try self.init(planning: e, shapes: shapes, strategy: strategy, memoryLimit: memoryLimit)
    }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return try body()
    }
}
