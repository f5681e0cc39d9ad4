// The small-GEMM kernel's entry point and B packing, written once and included by SmallGemm.c for
// each element type, after SmallGemmTile.h was included for each instruction set.
// Expects: SG_T (element), SG_NR (panel width: 16 floats or 8 doubles, 64 bytes), SG_TB and
// SG_TRANSPOSE(src, ld, dst, dstStride) (an SG_TB × SG_TB block, AVX2), SG_RUN_AVX2 and
// SG_RUN_AVX512 (the multiplies), and the names SG_NAME (the exported function) and SG_PACK.
//
// B is packed into panels of SG_NR columns (zero-padded); the multiply then runs on the widest
// vectors the CPU has (see tnk_avx512).

/// Packs columns p·NR ..< p·NR + NR of op(B) (zero past n) into `dst`, k rows of NR.
__attribute__((target("avx2,fma"))) static void
SG_PACK(int transB, long n, long k, const SG_T *b, long ldb, long p, SG_T *dst) {
    const long first = p * SG_NR, cols = n - first < SG_NR ? n - first : SG_NR;
    long kk = 0;
    if (transB && cols == SG_NR) {
        // A full panel of a transposed B: square blocks transposed in registers.
        for (; kk + SG_TB <= k; kk += SG_TB, dst += SG_TB * SG_NR)
            for (long j = 0; j < SG_NR; j += SG_TB) SG_TRANSPOSE(b + (first + j) * ldb + kk, ldb, dst + j, SG_NR);
    }
    for (; kk < k; kk++, dst += SG_NR) {
        if (transB) {
            for (long j = 0; j < cols; j++) dst[j] = b[(first + j) * ldb + kk];
        } else {
            for (long j = 0; j < cols; j++) dst[j] = b[kk * ldb + first + j];
        }
        for (long j = cols; j < SG_NR; j++) dst[j] = 0;
    }
}

int SG_NAME(int transA, int transB, int accumulate, int stream, long m, long n, long k, const SG_T *a, long lda,
            const SG_T *b, long ldb, SG_T *c, long ldc) {
    if (!tnk_available() || m < 1 || n < 1 || k < 1) return 0;
    const long count = (n + SG_NR - 1) / SG_NR * k * SG_NR;
    SG_T stackPanels[STACK_PANEL_BYTES / sizeof(SG_T)] __attribute__((aligned(64)));
    SG_T *panels = stackPanels;
    if (count > (long)(STACK_PANEL_BYTES / sizeof(SG_T))) {
        panels = aligned_alloc(64, ((size_t)count * sizeof(SG_T) + 63) / 64 * 64);
        if (!panels) return 0;
    }
    // Streaming stores need every row of C 32-byte aligned; they only overwrite.
    stream = stream && !accumulate && (uintptr_t)c % 32 == 0 && ldc * (long)sizeof(SG_T) % 32 == 0;
    for (long p = 0; p * SG_NR < n; p++) SG_PACK(transB, n, k, b, ldb, p, panels + p * k * SG_NR);
    if (tnk_avx512())
        SG_RUN_AVX512(transA, accumulate, stream, m, n, k, a, lda, panels, c, ldc);
    else
        SG_RUN_AVX2(transA, accumulate, stream, m, n, k, a, lda, panels, c, ldc);
    // Order the streamed stores before whatever tells another thread that C is ready.
    if (stream) _mm_sfence();
    if (panels != stackPanels) free(panels);
    return 1;
}

