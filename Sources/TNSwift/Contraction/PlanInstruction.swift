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

/// A copy of a tensor into a contiguous scratch layout, made while binding: later steps of the
/// same binding, and a backward binding, read it instead of copying the tensor again (the
/// tensors copied are not written after their first reader).
struct CopyRecord {
    var src: Int
    /// The copy's label order (the plan's label numbers).
    var labels: [Int]
    var sizes: [Int], srcStrides: [Int], dstStrides: [Int]
    var slot: Int

    func matches(_ o: CopyRecord) -> Bool {
        src == o.src && sizes == o.sizes && srcStrides == o.srcStrides && dstStrides == o.dstStrides
    }
}

/// `C[b] = op(A[b]) * op(B[b])` for every batch index b, row-major. Batches run across the
/// workers; a single large GEMM is split into blocks of C.
struct GemmCall {
    var batchSizes: [Int]
    var batchStridesA: [Int], batchStridesB: [Int], batchStridesC: [Int]
    var a: Int, b: Int, c: Int
    var m: Int, n: Int, k: Int
    var transA: Bool, transB: Bool
    var lda: Int, ldb: Int, ldc: Int
}

extension PlanInstruction: CustomStringConvertible {
    /// One line per instruction, for `TNSWIFT_TRACE=1` (see `BoundProgram`).
    var description: String {
        switch self {
        case .transfer(let sizes, let src, let ss, let dst, let ds):
            return "transfer \(sizes.reduce(1, *)) elements sizes \(sizes) slot \(src) strides \(ss) -> slot \(dst) strides \(ds)"
        case .zero(let dst, let sizes, _):
            return "zero slot \(dst) sizes \(sizes)"
        case .direct(let outSizes, let sumSizes, let operands, _, let out, _):
            return "loop out \(outSizes) sum \(sumSizes) slots \(operands) -> slot \(out)"
        case .gemm(let g):
            return "gemm batch \(g.batchSizes) m \(g.m) n \(g.n) k \(g.k) transA \(g.transA) transB \(g.transB) slots \(g.a),\(g.b) -> \(g.c)"
        }
    }
}
