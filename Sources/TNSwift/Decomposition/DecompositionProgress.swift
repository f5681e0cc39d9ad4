/// What a long decomposition reports after each step, and how a caller stops it.
///
/// Iterative methods (CP-ALS, HOOI) report once per iteration with the relative
/// reconstruction error; TT-SVD reports once per bond. The callback returns `true` to go on
/// and `false` to stop: the decomposition then throws `TNError.interrupted` (the C ABI
/// returns `TN_ERR_INTERRUPTED`, Python raises `KeyboardInterrupt` when Ctrl-C caused it).
public struct DecompositionProgress: Sendable {
    /// Steps done so far (iterations or bonds), starting at 1.
    public let step: Int
    /// The most steps this run can take (`maxIterations`, or d − 1 bonds).
    public let totalSteps: Int
    /// The relative reconstruction error after this step, when the method tracks it.
    public let relativeError: Double?

    public init(step: Int, totalSteps: Int, relativeError: Double?) {
        self.step = step
        self.totalSteps = totalSteps
        self.relativeError = relativeError
    }
}

/// Called after each step of a decomposition; returns whether to continue.
public typealias DecompositionProgressHandler = (DecompositionProgress) -> Bool

extension DecompositionProgress {
    /// Calls `handler` (if any) and throws `TNError.interrupted` when it asks to stop.
    static func report(_ handler: DecompositionProgressHandler?, _ operation: String,
                       step: Int, of total: Int, error: Double?) throws {
        guard let handler else { return }
        if !handler(DecompositionProgress(step: step, totalSteps: total, relativeError: error)) {
            throw TNError.interrupted("\(operation) was interrupted after step \(step) of \(total)")
        }
    }
}
