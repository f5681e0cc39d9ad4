#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An embedding table E (num_embeddings × embedding_dim) stored as a TT-matrix (Khrulkov et
/// al. 2019, "Tensorized Embedding Layers"): with row modes v_1 … v_d (Π v_k ≥
/// num_embeddings) and column modes d_1 … d_d (Π d_k = embedding_dim),
///
///     E[(i_1 … i_d), (j_1 … j_d)] = G_1[:, i_1, j_1, :] · G_2[:, i_2, j_2, :] ⋯ G_d[:, i_d, j_d, :],
///
/// core k of shape (r_{k-1}, v_k, d_k, r_k), r_0 = r_d = 1 — the layout of `TTMatrix`. Rows
/// past num_embeddings exist in the format but cannot be looked up.
///
/// A lookup gathers rows through the cores only: the table is never built, and the work and
/// memory of a call grow with the number of lookups, not with the vocabulary. Lookups that
/// share a row prefix share its partial product (see `EmbeddingLookup`). The backward
/// accumulates every lookup's contribution, so repeated indices add up.
///
/// Parameters and gradients live in the layer's own buffers, writable in place. Calls on one
/// layer are serialised by a lock; different layers run in parallel.
public final class TTEmbedding<T: LAPACKScalar> {
    /// Rows that can be looked up.
    public let numEmbeddings: Int
    /// The length of each row.
    public let embeddingDim: Int
    /// v_1 … v_d (Π ≥ numEmbeddings).
    public let rowModes: [Int]
    /// d_1 … d_d (Π = embeddingDim).
    public let columnModes: [Int]
    /// The d + 1 TT ranks, first and last 1.
    public let ranks: [Int]
    /// A row whose lookups give zeros and no gradient (as `torch.nn.Embedding`), or nil.
    public let paddingIndex: Int?
    /// Core k's shape (r_{k-1}, v_k, d_k, r_k).
    public let parameterShapes: [[Int]]
    /// "core_0" … "core_{d-1}".
    public let parameterNames: [String]

    /// columnPrefixes[k] = d_1 ⋯ d_k (0 ≤ k ≤ d).
    let columnPrefixes: [Int]
    let parameters: [Workspace<T>]
    let gradients: [Workspace<T>]
    /// The last forward's lookups and partial products, reused by a backward on the same
    /// indices and parameters.
    var saved: EmbeddingForwardState<T>? = nil
    /// Scratch and level states reused across calls (see `pooled`).
    var pool: [Int: Workspace<T>] = [:]
    var lock = pthread_mutex_t()

    /// A TT embedding with fresh cores: seeded Gaussian values scaled so that each row entry
    /// has variance `std`² (1 by default, as `torch.nn.Embedding`'s N(0, 1)).
    /// - Parameters:
    ///   - rowModes: v_k ≥ 1 with Π v_k ≥ numEmbeddings; nil: `defaultRowModes`.
    ///   - columnModes: d_k ≥ 1 with Π d_k = embeddingDim, as many as the row modes; nil: a
    ///     balanced split of embeddingDim (`balancedModes`), smallest first.
    ///   - ranks: the d − 1 inner ranks, each ≥ 1.
    ///   - order: the number of modes d when neither mode list is given (default 3).
    ///   - paddingIndex: 0 ≤ paddingIndex < numEmbeddings, or nil.
    /// - Throws: `TNError.value` for sizes or ranks below 1, a bad padding index, or a
    ///   non-finite or negative std; `TNError.shape` for mode lists that do not fit the sizes
    ///   or each other, or a rank list of the wrong length; `TNError.memory` when the cores do
    ///   not fit.
    public init(numEmbeddings: Int, embeddingDim: Int, ranks: [Int], rowModes: [Int]? = nil, columnModes: [Int]? = nil,
                order: Int? = nil, paddingIndex: Int? = nil, std: Double = 1, seed: UInt64 = 0) throws {
        guard numEmbeddings >= 1, embeddingDim >= 1 else {
            throw TNError.value("TTEmbedding: num_embeddings and embedding_dim must be at least 1 (got \(numEmbeddings) and \(embeddingDim))")
        }
        let d = rowModes?.count ?? columnModes?.count ?? order ?? 3
        guard (1...12).contains(d) else { throw TNError.value("TTEmbedding: the number of modes must be between 1 and 12 (got \(d))") }
        if let order, order != d {
            throw TNError.shape("TTEmbedding: order \(order) differs from the \(d) modes given")
        }
        // Default modes ascend: a lookup's partial products over the first cores stay small and
        // the wide last core is applied once per distinct row.
        let rows = try rowModes ?? TTEmbedding.defaultRowModes(numEmbeddings, order: d)
        let columns = try columnModes ?? balancedModes(embeddingDim, order: d).reversed()
        guard rows.count == d, columns.count == d else {
            throw TNError.shape("TTEmbedding: row modes \(rows) and column modes \(columns) must have the same length")
        }
        guard rows.allSatisfy({ $0 >= 1 }), columns.allSatisfy({ $0 >= 1 }) else {
            throw TNError.shape("TTEmbedding: modes must be at least 1 (row modes \(rows), column modes \(columns))")
        }
        let rowProduct = rows.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard rowProduct >= numEmbeddings else {
            throw TNError.shape("TTEmbedding: the row modes \(rows) cover \(rowProduct) rows, fewer than num_embeddings = \(numEmbeddings)")
        }
        guard rowProduct < Int(Int32.max) * 1024 else { throw TNError.value("TTEmbedding: the row modes \(rows) cover too many rows") }
        guard (try? checkedProduct(columns, what: "")) == embeddingDim else {
            throw TNError.shape("TTEmbedding: the column modes \(columns) multiply to \(columns.reduce(1, *)), not embedding_dim = \(embeddingDim)")
        }
        guard ranks.count == d - 1 else {
            throw TNError.shape("TTEmbedding with \(d) modes has \(d - 1) bonds but \(ranks.count) ranks were given")
        }
        for r in ranks where r < 1 { throw TNError.value("TTEmbedding: TT ranks must be at least 1 (got \(ranks))") }
        if let p = paddingIndex, !(0..<numEmbeddings).contains(p) {
            throw TNError.value("TTEmbedding: padding_idx \(p) is not a row (0 ..< \(numEmbeddings))")
        }
        guard std.isFinite, std >= 0 else { throw TNError.value("TTEmbedding: std must be finite and non-negative (got \(std))") }
        let all = [1] + ranks + [1]
        self.numEmbeddings = numEmbeddings
        self.embeddingDim = embeddingDim
        self.rowModes = rows
        self.columnModes = columns
        columnPrefixes = columns.reduce(into: [1]) { $0.append($0.last! * $1) }
        self.ranks = all
        self.paddingIndex = paddingIndex
        parameterShapes = (0..<d).map { [all[$0], rows[$0], columns[$0], all[$0 + 1]] }
        parameterNames = (0..<d).map { "core_\($0)" }
        let sizes = try parameterShapes.map { try checkedProduct($0, what: "a core of shape \($0)") }
        var total = 0
        for n in sizes {
            let (sum, overflow) = total.addingReportingOverflow(n)
            guard !overflow else { throw TNError.memory("TTEmbedding: the cores overflow a 64-bit count") }
            total = sum
        }
        try LayerAllocationBudget.check(total)
        parameters = try sizes.map { try Workspace<T>(count: $0) }
        gradients = try sizes.map { try Workspace<T>(count: $0) }
        for b in parameters + gradients { b.pointer.initialize(repeating: 0, count: b.count) }
        pthread_mutex_init(&lock, nil)
        fillInitial(seed: seed, std: std)
    }

    /// A TT embedding with the same rank on every bond.
    /// - Throws: as `init(numEmbeddings:embeddingDim:ranks:…)`; `TNError.value` for rank < 1.
    public convenience init(numEmbeddings: Int, embeddingDim: Int, rank: Int, rowModes: [Int]? = nil,
                            columnModes: [Int]? = nil, order: Int? = nil, paddingIndex: Int? = nil, std: Double = 1,
                            seed: UInt64 = 0) throws {
        guard rank >= 1 else { throw TNError.value("TTEmbedding: the TT rank must be at least 1 (got \(rank))") }
        let d = rowModes?.count ?? columnModes?.count ?? order ?? 3
        try self.init(numEmbeddings: numEmbeddings, embeddingDim: embeddingDim,
                      ranks: [Int](repeating: rank, count: Swift.max(d - 1, 0)), rowModes: rowModes,
                      columnModes: columnModes, order: order, paddingIndex: paddingIndex, std: std, seed: seed)
    }

    deinit { pthread_mutex_destroy(&lock) }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return try body()
    }

    /// Row modes for `n` rows in `order` modes, smallest first: the balanced split of n when
    /// its modes are within a factor 2 of each other, else the smallest equal-ish modes
    /// covering n (a few unused rows, as for a prime n).
    /// - Throws: `TNError.value` for n or order below 1.
    public static func defaultRowModes(_ n: Int, order: Int) throws -> [Int] {
        let exact = try balancedModes(n, order: order)
        if exact.max()! <= 2 * exact.min()! { return exact.reversed() }
        var modes = [Int](repeating: 1, count: order)
        // Grow the smallest mode until the product covers n: modes end within one of each other.
        while modes.reduce(1, { $0 * $1 }) < n {
            let k = modes.indices.min { modes[$0] < modes[$1] }!
            modes[k] += 1
        }
        return modes.sorted()
    }

    /// The number of parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// A dense table's parameter count over this one's.
    public var compression: Double { Double(numEmbeddings) * Double(embeddingDim) / Double(parameterCount) }

    /// Core `i`'s values (row-major in its shape), writable in place.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
    public func parameter(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: parameters[i].pointer, count: parameters[i].count)
    }

    /// The gradient of core `i` from the last `backward`.
    /// - Precondition: 0 ≤ i < parameterShapes.count.
    public func gradient(_ i: Int) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: gradients[i].pointer, count: gradients[i].count)
    }

    /// Fills the cores with seeded Gaussian values so that each table entry (a sum over the
    /// Π r_k bond values of products of one entry per core) has variance `std`².
    /// - Complexity: O(parameterCount).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func initialize(seed: UInt64, std: Double = 1) {
        fillInitial(seed: seed, std: std)
    }

    /// `initialize` for code in this module (see `SVD.factor` on exported specialisations).
    func fillInitial(seed: UInt64, std: Double) {
        withLock {
            let bonds = ranks.reduce(1.0) { $0 * Double($1) }
            let sigma = std == 0 ? 0 : exp((2 * log(std) - log(bonds)) / Double(parameters.count) / 2)
            var random = SeededRandom(seed: seed)
            for p in parameters { for i in 0..<p.count { p.pointer[i] = T(random.nextGaussian() * sigma) } }
            saved = nil
        }
    }

    /// Copies `cores` into the parameters (counts equal by construction).
    func load(_ cores: [[T]]) {
        for (i, c) in cores.enumerated() { parameter(i).overwrite(with: c) }
    }
}
