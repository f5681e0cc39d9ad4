/// Steps shared by `SVD`, `QR` and the randomized SVD: argument checks, row copies, LAPACK
/// workspace sizes, and a GEMM split over the engine's workers.
enum LinalgKernels {
    /// Checks a row-major matrix argument given as a buffer and returns its row stride
    /// (`rowStride` or, when nil, `columns`).
    /// - Throws: `TNError.shape` for negative sizes, a row stride below `columns`, or sizes
    ///   beyond LAPACK's 32-bit integers; `TNError.memory` when the extent overflows.
    static func checkMatrix(_ operation: String, rows: Int, columns: Int, rowStride: Int?) throws -> Int {
        guard rows >= 0, columns >= 0 else {
            throw TNError.shape("\(operation): a matrix cannot have a negative size (got \(rows)×\(columns))")
        }
        guard rows <= Int(Int32.max), columns <= Int(Int32.max) else {
            throw TNError.shape("\(operation): a \(rows)×\(columns) matrix exceeds LAPACK's 32-bit sizes")
        }
        let stride = rowStride ?? columns
        guard stride >= columns else {
            throw TNError.shape("\(operation): the row stride \(stride) is smaller than the number of columns \(columns)")
        }
        _ = try checkedProduct([rows, columns], what: "a \(rows)×\(columns) matrix")
        if rows > 1 { _ = try checkedProduct([rows - 1, stride], what: "a matrix with \(rows) rows of stride \(stride)") }
        return stride
    }

    /// Throws `TNError.value` naming the first NaN or infinity of a row-major matrix.
    /// - Complexity: O(rows · columns).
    static func checkFinite<T: BLASScalar>(_ operation: String, rows: Int, columns: Int,
                                           values: UnsafePointer<T>, rowStride: Int) throws {
        var row = values
        for i in 0..<rows {
            for j in 0..<columns where !row[j].isFinite {
                throw TNError.value("\(operation): the \(rows)×\(columns) input has a non-finite value (\(row[j])) at row \(i), column \(j)")
            }
            row += rowStride
        }
    }

    /// Copies a row-major matrix with row stride `rowStride` into dense rows at `dst`.
    static func copyRows<T: BLASScalar>(rows: Int, columns: Int, from src: UnsafePointer<T>, rowStride: Int,
                                        to dst: UnsafeMutablePointer<T>) {
        if rowStride == columns || rows == 1 {
            dst.update(from: src, count: rows &* columns)
            return
        }
        for i in 0..<rows {
            (dst + i &* columns).update(from: src + i &* rowStride, count: columns)
        }
    }

    /// Turns a LAPACK workspace query's answer into an element count (padded: a `Float` answer
    /// above 2^24 is rounded and must not come back smaller than LAPACK meant).
    /// - Throws: `TNError.memory` when the size does not fit LAPACK's 32-bit integers,
    ///   `TNError.value` for an answer that is not a size.
    static func workspaceSize<T: BLASScalar>(_ answer: T, routine: String) throws -> Int {
        let w = Double(answer)
        guard w.isFinite, w >= 0 else { throw TNError.value("LAPACK \(routine) returned the workspace size \(w)") }
        let padded = (w * (1 + 1e-6)).rounded(.up)
        guard padded <= Double(Int32.max) else {
            throw TNError.memory("LAPACK \(routine) needs a workspace of \(w) elements, beyond its 32-bit sizes")
        }
        return Swift.max(1, Int(padded))
    }

    /// Room for `count` LAPACK integers, owned by the returned workspace.
    /// - Throws: `TNError.memory` when it cannot be allocated.
    static func integerWorkspace<T: BLASScalar>(count: Int, as _: T.Type) throws -> (owner: Workspace<T>, pointer: UnsafeMutablePointer<Int32>) {
        let bytes = try checkedProduct([Swift.max(count, 1), MemoryLayout<Int32>.stride], what: "an integer workspace")
        let owner = try Workspace<T>(count: (bytes + MemoryLayout<T>.stride - 1) / MemoryLayout<T>.stride)
        let pointer = UnsafeMutableRawPointer(owner.pointer).bindMemory(to: Int32.self, capacity: Swift.max(count, 1))
        return (owner, pointer)
    }

    /// The error for a negative LAPACK `INFO` (an argument LAPACK rejected): a bug here, reported
    /// instead of trapping.
    static func rejectedArgument(_ routine: String, _ info: Int32) -> TNError {
        TNError.value("LAPACK \(routine) rejected its argument \(-info) (an internal error in tnswift)")
    }

    /// How one GEMM of C (m×n, inner size k) is split over the workers: into `blocks` blocks of
    /// at least 16 rows or columns (one block when it is small or not `parallel`).
    /// OpenBLAS runs two concurrent calls on column halves of C barely faster than one call
    /// (128³ float64: 104 µs alone, 94–111 µs split), while row halves run 1.8× faster, so
    /// its GEMMs split by rows unless C is much wider than tall; the small-GEMM kernel packs
    /// only its own columns of B, so its GEMMs split along the longer side.
    static func gemmSplit<T: BLASScalar>(m: Int, n: Int, k: Int, parallel: Bool, as _: T.Type) -> (blocks: Int, alongRows: Bool) {
        let workers = ThreadSettings.workers
        guard parallel, workers > 1, m &* n &* k >= StepBinder.parallelGemmWork else { return (1, true) }
        let rowBlocks = Swift.min(workers, Swift.max(1, m / 16)), columnBlocks = Swift.min(workers, Swift.max(1, n / 16))
        var alongRows = T.prefersSmallGemm(n: n, k: k) ? m >= n : m &* 4 >= n
        // A side too short to split (m16 n32 k89600 in W5b's backward) leaves the other.
        if (alongRows ? rowBlocks : columnBlocks) < 2 { alongRows = rowBlocks >= columnBlocks }
        return (alongRows ? rowBlocks : columnBlocks, alongRows)
    }

    /// Whether a large GEMM with a small C and a long inner size (a factor chain's weight
    /// gradients: m 16, n 32, k 179,200 in W5b's backward) splits k over the workers rather
    /// than C: split by rows or columns, every worker reads all of one operand (there 11-23 MB
    /// from memory); split by k, each reads its own half of both.
    static func gemmSplitsInner(m: Int, n: Int, k: Int) -> Bool {
        ThreadSettings.workers > 1 && m &* n &* k >= StepBinder.parallelGemmWork && splitsInnerByShape(m: m, n: n, k: k)
    }

    /// The shape part of `gemmSplitsInner`: a C of at most 16K elements, k at least 64 times
    /// its longer side.
    private static func splitsInnerByShape(m: Int, n: Int, k: Int) -> Bool {
        m &* n <= 1 << 14 && k >= 64 &* Swift.max(m, n)
    }

    /// Whether `gemm` spreads this GEMM over the workers itself when there are several: by k
    /// (`gemmSplitsInner`), or by rows or columns (`gemmSplit`: blocks of at least 16, so a
    /// side of 32 or more).
    static func gemmSpreadsOverWorkers(m: Int, n: Int, k: Int) -> Bool {
        m &* n &* k >= StepBinder.parallelGemmWork && (m >= 32 || n >= 32 || splitsInnerByShape(m: m, n: n, k: k))
    }

    /// C = op(A)·op(B) with k cut into one slice per worker: the first slice's product goes
    /// into C, the others' into scratch, then they are added to C. False, doing nothing, when
    /// the scratch cannot be allocated.
    private static func gemmOverInnerSlices<T: BLASScalar>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                                           a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                                           c: UnsafeMutablePointer<T>, ldc: Int) -> Bool {
        let parts = Swift.min(ThreadSettings.workers, k / 256)
        guard parts > 1, let partial = try? Workspace<T>(count: (parts - 1) &* m &* n) else { return false }
        withExtendedLifetime(partial) {
            TensorKernels.forEach(parts, parallel: true) { part in
                let lo = k &* part / parts, hi = k &* (part &+ 1) / parts
                T.gemmOverwriting(transA: transA, transB: transB, m: m, n: n, k: hi - lo,
                                  a: a + (transA ? lo &* lda : lo), lda: lda, b: b + (transB ? lo : lo &* ldb), ldb: ldb,
                                  c: part == 0 ? c : partial.pointer + (part - 1) &* m &* n, ldc: part == 0 ? ldc : n)
            }
            for part in 1..<parts {
                let slice = partial.pointer + (part - 1) &* m &* n
                for i in 0..<m {
                    let row = c + i &* ldc, add = slice + i &* n
                    for j in 0..<n { row[j] += add[j] }
                }
            }
        }
        return true
    }

    /// Bytes of a GEMM's C (all of a batch) from which the small-GEMM kernel writes it past
    /// the caches: such a C does not stay cached for its reader anyway, and the stores then
    /// skip reading each line before writing it. W5b's batch-100 forward writes 23 MB with
    /// one instruction; streamed, that GEMM ran 2.25x faster on one core (11.7 -> 5.2 ms).
    static let streamingOutputBytes = 8 << 20

    /// Row-major `C = op(A) * op(B)` (m×n, inner size k), or `C += op(A) * op(B)` when
    /// `accumulate`, split into blocks of rows or columns of C over `ThreadSettings.workers`
    /// when large and `parallel` (OpenBLAS itself runs single-threaded). `streaming`: see
    /// `gemmOverwriting`. With `check`, a GEMM of at least twice
    /// `InterruptCheck.gemmChunkWork` multiply-adds runs in chunks of about that size (of C's
    /// rows, or of its columns when they are more) and polls the check before each; false
    /// when it asked to stop (C is then partly computed).
    @discardableResult
    static func gemm<T: BLASScalar>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                    a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                    c: UnsafeMutablePointer<T>, ldc: Int, accumulate: Bool = false,
                                    parallel: Bool = true, streaming: Bool = false,
                                    check: InterruptCheck.Installed? = nil) -> Bool {
        if m == 0 || n == 0 { return true }
        if k == 0 {
            // An empty sum (BLAS would reject the leading dimensions of an empty operand).
            if !accumulate { for i in 0..<m { (c + i &* ldc).update(repeating: 0, count: n) } }
            return true
        }
        // The GEMM restricted to C's rows (or columns) lo ..< hi.
        func part(alongRows: Bool, _ lo: Int, _ hi: Int)
            -> (m: Int, n: Int, a: UnsafePointer<T>, b: UnsafePointer<T>, c: UnsafeMutablePointer<T>) {
            alongRows ? (hi - lo, n, a + (transA ? lo : lo &* lda), b, c + lo &* ldc)
                      : (m, hi - lo, a, b + (transB ? lo &* ldb : lo), c + lo)
        }
        let work = Double(m) * Double(n) * Double(k)
        if let check, work >= 2 * InterruptCheck.gemmChunkWork {
            let alongRows = m >= n, length = alongRows ? m : n
            let chunks = Swift.min(length, Int(work / InterruptCheck.gemmChunkWork))
            for chunk in 0..<chunks {
                if check.requested { return false }
                let p = part(alongRows: alongRows, length * chunk / chunks, length * (chunk + 1) / chunks)
                gemm(transA: transA, transB: transB, m: p.m, n: p.n, k: k, a: p.a, lda: lda, b: p.b, ldb: ldb,
                     c: p.c, ldc: ldc, accumulate: accumulate, parallel: parallel, streaming: streaming)
            }
            return true
        }
        if !accumulate && parallel && gemmSplitsInner(m: m, n: n, k: k),
           gemmOverInnerSlices(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc) {
            return true
        }
        let (blocks, alongRows) = gemmSplit(m: m, n: n, k: k, parallel: parallel, as: T.self)
        let extent = alongRows ? m : n
        TensorKernels.forEach(blocks, parallel: blocks > 1) { block in
            let p = part(alongRows: alongRows, extent * block / blocks, extent * (block + 1) / blocks)
            if accumulate {
                T.product(transA: transA, transB: transB, m: p.m, n: p.n, k: k, a: p.a, lda: lda,
                          b: p.b, ldb: ldb, beta: 1, c: p.c, ldc: ldc)
            } else {
                T.gemmOverwriting(transA: transA, transB: transB, m: p.m, n: p.n, k: k, a: p.a, lda: lda,
                                  b: p.b, ldb: ldb, c: p.c, ldc: ldc, streaming: streaming)
            }
        }
        return true
    }
}
