#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The dense weight a layer rebuilds from its factors when that is cheaper, kept until the
/// factors change.
///
/// A snapshot of the parameters it was built from is compared element by element (not
/// sampled) before every use, so an edit made anywhere — an optimizer step, a write through a
/// parameter view — is always seen; the comparison reads the factors once, far less than the
/// GEMM it saves.
final class WeightCache<T: LAPACKScalar> {
    /// Contracts the parameters into W (input modes, then output modes).
    let build: ContractionPlan<T>
    let weight: Workspace<T>
    let gradient: Workspace<T>
    private let snapshot: [Workspace<T>]
    private var valid = false

    init(build: ContractionPlan<T>, parameterCounts: [Int]) throws {
        self.build = build
        let count = build.outputShape.reduce(1, *)
        weight = try Workspace<T>(count: count)
        gradient = try Workspace<T>(count: count)
        snapshot = try parameterCounts.map { try Workspace<T>(count: $0) }
    }

    var weightView: StridedView<T> { StridedView(contiguous: weight.pointer, shape: build.outputShape) }
    var gradientView: StridedView<T> { StridedView(contiguous: gradient.pointer, shape: build.outputShape) }

    /// Rebuilds W unless the parameters equal the snapshot it was built from.
    func refresh(_ parameters: [StridedView<T>]) throws {
        if valid && zip(parameters, snapshot).allSatisfy({ memcmp($0.base, $1.pointer, $1.count * MemoryLayout<T>.stride) == 0 }) {
            return
        }
        try build.run(parameters, into: weightView)
        for (p, s) in zip(parameters, snapshot) { s.pointer.update(from: p.base, count: s.count) }
        valid = true
    }
}
