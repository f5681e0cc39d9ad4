/// One primitive of a bound plan: the loops the executor runs, over slots of memory.
///
/// Slots are indices into the executor's table of base pointers (caller buffers, intermediates,
/// scratch), so a bound program is reused across calls whose strides are unchanged.
enum PlanInstruction {
    /// Strided copy / reduce / broadcast (`TensorKernels.transfer`).
    case transfer(sizes: [Int], src: Int, srcStrides: [Int], dst: Int, dstStrides: [Int])
    /// Zero a strided view.
    case zero(dst: Int, sizes: [Int], strides: [Int])
    /// Loop contraction (`TensorKernels.direct`).
    case direct(outSizes: [Int], sumSizes: [Int], operands: [Int], operandStrides: [[Int]], out: Int, outStrides: [Int])
    /// A batch of GEMMs.
    case gemm(GemmCall)
}

/// `C[b] = op(A[b]) * op(B[b])` for every batch index b, row-major.
struct GemmCall {
    var batchSizes: [Int]
    var batchStridesA: [Int], batchStridesB: [Int], batchStridesC: [Int]
    var a: Int, b: Int, c: Int
    var m: Int, n: Int, k: Int
    var transA: Bool, transB: Bool
    var lda: Int, ldb: Int, ldc: Int
    var parallel: Bool
}
