/// A tensor a convolution stage uses as its weights, with the buffer its gradient goes to.
///
/// A parameter is used in place; a contracted operand (e.g. the Khatri–Rao product of a CP
/// layer's input factors, or the whole dense kernel) lives in a `WeightCache`, rebuilt only
/// when its parameters changed, and its gradient is carried back to those parameters by the
/// contraction's backward.
final class ConvOperand<T: LAPACKScalar> {
    enum Source {
        case parameter(Int)
        case built(WeightCache<T>, parameters: [Int])
    }
    let source: Source
    /// Number of values.
    let count: Int

    init(_ spec: ConvOperandSpec, parameterShapes: [[Int]]) throws {
        switch spec {
        case .parameter(let i):
            source = .parameter(i)
            count = try checkedProduct(parameterShapes[i], what: "a parameter")
        case .contraction(let equation, let indices):
            let shapes = indices.map { parameterShapes[$0] }
            let expression = try EinsumParser.parse(equation, ndims: shapes.map(\.count))
            let plan = try ContractionPlan<T>(planning: expression, shapes: shapes)
            let cache = try WeightCache<T>(build: plan, parameterCounts: try shapes.map { try checkedProduct($0, what: "a parameter") })
            source = .built(cache, parameters: indices)
            count = try checkedProduct(plan.outputShape, what: "an operand")
        }
    }

    /// FLOPs of building the operand (0 for a parameter).
    var buildFlops: Double {
        if case .built(let cache, _) = source { return cache.build.path.optimizedFlops }
        return 0
    }
}
