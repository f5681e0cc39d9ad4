/// How a layer runs for one batch size: the whole contraction of x with the factors, or one
/// GEMM of x with the weight rebuilt from the factors (`WeightCache`).
enum LayerProgram<T: LAPACKScalar> {
    /// The whole contraction; `reuse`, when given, is the GEMM over (x, W) that is cheaper
    /// once W is built, used while the parameters stay unchanged between forward calls;
    /// `backwardThroughWeight` says whether a backward after such a call also goes through W.
    case factorized(ContractionPlan<T>, reuse: ContractionPlan<T>?, backwardThroughWeight: Bool)
    /// The GEMM plan over (x, W).
    case rebuilt(ContractionPlan<T>)
}
