/// What a layer's forward plan does for one batch size, next to the dense layer's cost.
public struct LayerPlanReport: Sendable, CustomStringConvertible {
    /// The batch size planned for.
    public let batch: Int
    /// Forward FLOPs of the chosen path (opt_einsum's counting).
    public let flops: Double
    /// Forward FLOPs of the dense layer, 2 · batch · in_features · out_features.
    public let denseFlops: Double
    /// Whether the path contracts all parameters first (rebuilding W) and then does one GEMM
    /// with x; otherwise x flows through the factors.
    public let reconstructsWeight: Bool
    /// Whether, on the factorized path, forward calls on unchanged parameters switch to one
    /// GEMM with the rebuilt weight (inference), because that is cheaper for this batch.
    public let reusesWeight: Bool
    /// Bytes of the parameters (with the bias) and of a dense weight (with the bias).
    public let parameterBytes: Int
    public let denseBytes: Int
    /// The largest intermediate of the path, in elements.
    public let largestIntermediate: Int
    /// The engine's own report: path, per-step labels, kernels and FLOPs.
    public let planReport: String

    public var description: String {
        let mode = reconstructsWeight ? "reconstructs the weight, then one GEMM"
            : "factorized (x flows through the factors)" + (reusesWeight ? "; repeated calls on unchanged parameters use the rebuilt weight" : "")
        func fmt(_ x: Double) -> String {
            var e = 0, m = x
            while m >= 10 { m /= 10; e += 1 }
            return "\(Double(Int(m * 100)) / 100)e\(e)"
        }
        return """
        batch \(batch): \(mode)
          FLOPs \(fmt(flops)) vs dense \(fmt(denseFlops)) (ratio \(Double(Int(flops / Swift.max(denseFlops, 1) * 1000)) / 1000))
          parameter bytes \(parameterBytes) vs dense \(denseBytes); largest intermediate \(largestIntermediate) elements
        \(planReport)
        """
    }
}
