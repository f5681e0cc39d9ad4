/// The two contractions of the full tensor that CP-ALS and HOOI sweeps are built on, kept
/// until the factor they used changes.
///
/// Updating factor n needs the tensor contracted with every other factor. The expensive part,
/// a pass over the full tensor, is one GEMM with a single factor: with the last factor
/// ("last", serving modes 0…d−2) or with the first ("first", serving mode d−1); the rest are
/// small reductions. A sweep over modes 0…d−1 (the order TensorLy and most references use,
/// so the same start gives the same iterates) therefore passes over the tensor twice, where
/// contracting each unfolding with a Khatri–Rao or Kronecker product would pass d times.
final class SweepContractions<T: BLASScalar> {
    enum Side { case last, first }

    private let values: UnsafePointer<T>
    private let order: Int
    private let lastPlan: ContractionPlan<T>, firstPlan: ContractionPlan<T>
    private let lastBuffer: Workspace<T>, firstBuffer: Workspace<T>
    private var lastValid = false, firstValid = false

    /// - Parameters:
    ///   - lastPlan: contracts (tensor, factor d−1); its output fills `lastBuffer`.
    ///   - firstPlan: contracts (tensor, factor 0).
    init(values: UnsafePointer<T>, order: Int, lastPlan: ContractionPlan<T>, firstPlan: ContractionPlan<T>) throws {
        self.values = values
        self.order = order
        self.lastPlan = lastPlan
        self.firstPlan = firstPlan
        lastBuffer = try Workspace<T>(count: lastPlan.outputShape.reduce(1, *))
        firstBuffer = try Workspace<T>(count: firstPlan.outputShape.reduce(1, *))
    }

    /// The contraction mode n is updated from, computed first when it is stale.
    /// - Parameter factors: the current factors (factor 0 and d−1 are read).
    func source(for n: Int, factors: [[T]]) throws -> (side: Side, values: UnsafePointer<T>) {
        let useLast = n == 0 || (n != order - 1 && (lastValid || !firstValid))
        if useLast {
            if !lastValid {
                try factors[order - 1].withUnsafeBufferPointer {
                    try ModeKernels.run(lastPlan, [values, $0.baseAddress!], into: lastBuffer.pointer)
                }
                lastValid = true
            }
            return (.last, UnsafePointer(lastBuffer.pointer))
        }
        if !firstValid {
            try factors[0].withUnsafeBufferPointer {
                try ModeKernels.run(firstPlan, [values, $0.baseAddress!], into: firstBuffer.pointer)
            }
            firstValid = true
        }
        return (.first, UnsafePointer(firstBuffer.pointer))
    }

    /// Records that factor n changed (the contraction that used it is stale).
    func factorChanged(_ n: Int) {
        if n == order - 1 { lastValid = false }
        if n == 0 { firstValid = false }
    }
}
