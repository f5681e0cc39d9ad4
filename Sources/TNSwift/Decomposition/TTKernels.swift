/// Small dense helpers shared by the tensor-train code: products of row-major arrays, the
/// squared Frobenius norm, and a transposition of a C-contiguous tensor.
enum TTKernels {
    /// Row-major `op(A) · B` with op(A) m×k (A stored k×m when `transA`) and B k×n.
    /// - Complexity: O(m · k · n).
    static func multiply<T: BLASScalar>(_ a: [T], _ b: [T], m: Int, k: Int, n: Int, transA: Bool = false) -> [T] {
        precondition(a.count == m &* k && b.count == k &* n, "TT multiply: sizes do not match")
        if m == 0 || n == 0 { return [] }
        if k == 0 { return [T](repeating: 0, count: m &* n) }
        return [T](unsafeUninitializedCapacity: m &* n) { c, count in
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    LinalgKernels.gemm(transA: transA, transB: false, m: m, n: n, k: k,
                                       a: a.baseAddress!, lda: transA ? m : k, b: b.baseAddress!, ldb: n,
                                       c: c.baseAddress!, ldc: n)
                }
            }
            count = m &* n
        }
    }

    /// Σ x², accumulated in `Double`.
    static func squaredNorm<T: BLASScalar>(_ x: UnsafeBufferPointer<T>) -> Double {
        var s = 0.0
        for v in x { let d = Double(v); s += d * d }
        return s
    }

    /// Writes the C-contiguous tensor `src` of shape `shape` transposed so that output axis o
    /// is input axis `perm[o]`, C-contiguous, into `dst`.
    /// - Complexity: O(Π shape).
    static func permute<T>(_ src: UnsafePointer<T>, shape: [Int], perm: [Int], into dst: UnsafeMutablePointer<T>) {
        let rank = shape.count
        var strides = [Int](repeating: 1, count: rank)
        var s = 1
        for a in stride(from: rank - 1, through: 0, by: -1) { strides[a] = s; s &*= shape[a] }
        let total = s
        if total == 0 { return }
        let outShape = perm.map { shape[$0] }
        let outStrides = perm.map { strides[$0] }
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        for o in 0..<total {
            dst[o] = src[offset]
            var a = rank - 1
            while a >= 0 {
                index[a] &+= 1
                offset &+= outStrides[a]
                if index[a] < outShape[a] { break }
                offset &-= outStrides[a] &* outShape[a]
                index[a] = 0
                a -= 1
            }
        }
    }
}
