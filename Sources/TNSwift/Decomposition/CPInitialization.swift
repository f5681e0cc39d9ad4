/// How CP-ALS chooses its starting factors.
public enum CPInitialization<T: LAPACKScalar> {
    /// Factor k starts as the leading left singular vectors of the mode-k unfolding (the first
    /// scaled by the singular values); modes smaller than the rank fill the remaining columns
    /// with seeded uniform values.
    case svd
    /// Every factor starts with uniform values in [0, 1) from the given seed.
    case random(seed: UInt64)
    /// Start from these weights and factors (the weights are folded into the first factor).
    case given(CPTensor<T>)
}
