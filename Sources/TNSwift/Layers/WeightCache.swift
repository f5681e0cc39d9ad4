#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The dense weight a layer rebuilds from its factors — when that is cheaper for the batch, or
/// for inference: when forward runs twice in a row on unchanged parameters and one GEMM with W
/// is cheaper than the factorized path — kept until the factors change.
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
    /// The snapshot holds the parameters of the last `remember` or `refresh`.
    private var remembered = false
    /// W was built from the snapshot.
    private(set) var built = false

    init(build: ContractionPlan<T>, parameterCounts: [Int]) throws {
        self.build = build
        let count = build.outputShape.reduce(1, *)
        weight = try Workspace<T>(count: count)
        gradient = try Workspace<T>(count: count)
        snapshot = try parameterCounts.map { try Workspace<T>(count: $0) }
    }

    var weightView: StridedView<T> { StridedView(contiguous: weight.pointer, shape: build.outputShape) }
    var gradientView: StridedView<T> { StridedView(contiguous: gradient.pointer, shape: build.outputShape) }

    /// Whether the parameters equal the snapshot, element by element.
    func matches(_ parameters: [StridedView<T>]) -> Bool {
        remembered && zip(parameters, snapshot).allSatisfy { memcmp($0.base, $1.pointer, $1.count * MemoryLayout<T>.stride) == 0 }
    }

    /// Whether W is built from exactly these parameters.
    func isCurrent(_ parameters: [StridedView<T>]) -> Bool { built && matches(parameters) }

    /// Records the parameters without building W (W no longer matches them).
    func remember(_ parameters: [StridedView<T>]) {
        for (p, s) in zip(parameters, snapshot) { s.pointer.update(from: p.base, count: s.count) }
        remembered = true
        built = false
    }

    /// Rebuilds W unless it was built from these very parameters.
    func refresh(_ parameters: [StridedView<T>]) throws {
        if isCurrent(parameters) { return }
        built = false   // a build that throws part-way (an interrupt) leaves W describing nothing
        try build.run(parameters, into: weightView)
        remember(parameters)
        built = true
    }
}
