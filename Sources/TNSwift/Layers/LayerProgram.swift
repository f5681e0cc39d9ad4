/// How a layer runs for one batch size: the whole contraction of x with the factors, or one
/// GEMM of x with the weight rebuilt from the factors (`WeightCache`).
enum LayerProgram<T: LAPACKScalar> {
    case factorized(ContractionPlan<T>)
    /// The GEMM plan over (x, W).
    case rebuilt(ContractionPlan<T>)
}
