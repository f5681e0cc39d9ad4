/// How a Tucker decomposition is computed.
public enum TuckerMethod: Sendable {
    /// Higher-order SVD: each factor from the leading left singular vectors of its unfolding,
    /// in one pass.
    case hosvd
    /// Higher-order orthogonal iteration: HOSVD, then alternating updates of each factor
    /// against the others until the error settles (never worse than HOSVD).
    case hooi
}
