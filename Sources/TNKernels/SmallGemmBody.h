// The small-GEMM kernel, written once and included by SmallGemm.c for each element type.
// Expects: SG_T (element), SG_V (vector), SG_W (lanes), SG_ZERO(), SG_LOAD(p), SG_STORE(p, v),
// SG_STREAM(p, v) (an aligned store that bypasses the caches),
// SG_BCAST(p), SG_FMA(a, b, acc), SG_ADD(a, b), SG_MASK(count) (lanes below count set),
// SG_MASKLOAD(p, mask), SG_MASKSTORE(p, mask, v), SG_TRANSPOSE(src, ld, dst, dstStride) (a W × W
// block); and the names SG_NAME (the exported function), SG_RUN, SG_PACK and SG_TILE (its helpers).
//
// B is packed into panels of 2·SG_W columns (zero-padded); each tile keeps MR rows × 2 vectors
// of C in 12 registers and adds one rank-1 update per k: two B loads, MR broadcasts of A.

#define SG_NR (2 * SG_W)

__attribute__((target("avx2,fma"), always_inline)) static inline void
SG_TILE(const int rows, long k, const SG_T *a, long ai, long ak, const SG_T *panel,
        SG_T *c, long ldc, long cols, int accumulate, int stream) {
    SG_V acc0[MR], acc1[MR];
    for (int r = 0; r < rows; r++) { acc0[r] = SG_ZERO(); acc1[r] = SG_ZERO(); }
    for (long kk = 0; kk < k; kk++) {
        const SG_V b0 = SG_LOAD(panel + kk * SG_NR), b1 = SG_LOAD(panel + kk * SG_NR + SG_W);
        const SG_T *ap = a + kk * ak;
        for (int r = 0; r < rows; r++) {
            const SG_V x = SG_BCAST(ap + r * ai);
            acc0[r] = SG_FMA(x, b0, acc0[r]);
            acc1[r] = SG_FMA(x, b1, acc1[r]);
        }
    }
    if (cols == SG_NR) {
        for (int r = 0; r < rows; r++) {
            SG_T *cp = c + r * ldc;
            if (accumulate) {
                acc0[r] = SG_ADD(acc0[r], SG_LOAD(cp));
                acc1[r] = SG_ADD(acc1[r], SG_LOAD(cp + SG_W));
            }
            if (stream) {
                SG_STREAM(cp, acc0[r]);
                SG_STREAM(cp + SG_W, acc1[r]);
            } else {
                SG_STORE(cp, acc0[r]);
                SG_STORE(cp + SG_W, acc1[r]);
            }
        }
    } else {
        // A partial panel: masked loads and stores keep to the columns that exist.
        const __m256i m0 = SG_MASK(cols), m1 = SG_MASK(cols - SG_W);
        for (int r = 0; r < rows; r++) {
            SG_T *cp = c + r * ldc;
            if (accumulate) {
                acc0[r] = SG_ADD(acc0[r], SG_MASKLOAD(cp, m0));
                acc1[r] = SG_ADD(acc1[r], SG_MASKLOAD(cp + SG_W, m1));
            }
            SG_MASKSTORE(cp, m0, acc0[r]);
            SG_MASKSTORE(cp + SG_W, m1, acc1[r]);
        }
    }
}

/// Packs columns p·NR ..< p·NR + NR of op(B) (zero past n) into `dst`, k rows of NR.
__attribute__((target("avx2,fma"))) static void
SG_PACK(int transB, long n, long k, const SG_T *b, long ldb, long p, SG_T *dst) {
    const long first = p * SG_NR, cols = n - first < SG_NR ? n - first : SG_NR;
    long kk = 0;
    if (transB && cols == SG_NR) {
        // A full panel of a transposed B: square blocks transposed in registers.
        for (; kk + SG_W <= k; kk += SG_W, dst += SG_W * SG_NR) {
            SG_TRANSPOSE(b + first * ldb + kk, ldb, dst, SG_NR);
            SG_TRANSPOSE(b + (first + SG_W) * ldb + kk, ldb, dst + SG_W, SG_NR);
        }
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

/// Packs every panel of B into `panels`, then multiplies.
__attribute__((target("avx2,fma"))) static void
SG_RUN(int transA, int transB, int accumulate, int stream, long m, long n, long k, const SG_T *a, long lda,
       const SG_T *b, long ldb, SG_T *c, long ldc, SG_T *panels) {
    const long panelCount = (n + SG_NR - 1) / SG_NR;
    for (long p = 0; p < panelCount; p++) SG_PACK(transB, n, k, b, ldb, p, panels + p * k * SG_NR);
    const long ai = transA ? 1 : lda, ak = transA ? lda : 1;
    // Rows in blocks that stay in L1 while every panel passes over them.
    long block = (16384 / (long)sizeof(SG_T)) / k;
    block = block < MR ? MR : block - block % MR;
    for (long i0 = 0; i0 < m; i0 += block) {
        const long end = i0 + block < m ? i0 + block : m;
        for (long p = 0; p < panelCount; p++) {
            const SG_T *panel = panels + p * k * SG_NR;
            const long cols = n - p * SG_NR < SG_NR ? n - p * SG_NR : SG_NR;
            long i = i0;
            for (; i + MR <= end; i += MR)
                SG_TILE(MR, k, a + i * ai, ai, ak, panel, c + i * ldc + p * SG_NR, ldc, cols, accumulate, stream);
            const SG_T *at = a + i * ai;
            SG_T *ct = c + i * ldc + p * SG_NR;
            switch (end - i) {
            case 5: SG_TILE(5, k, at, ai, ak, panel, ct, ldc, cols, accumulate, stream); break;
            case 4: SG_TILE(4, k, at, ai, ak, panel, ct, ldc, cols, accumulate, stream); break;
            case 3: SG_TILE(3, k, at, ai, ak, panel, ct, ldc, cols, accumulate, stream); break;
            case 2: SG_TILE(2, k, at, ai, ak, panel, ct, ldc, cols, accumulate, stream); break;
            case 1: SG_TILE(1, k, at, ai, ak, panel, ct, ldc, cols, accumulate, stream); break;
            default: break;
            }
        }
    }
}

int SG_NAME(int transA, int transB, int accumulate, int stream, long m, long n, long k, const SG_T *a, long lda,
            const SG_T *b, long ldb, SG_T *c, long ldc) {
    if (!tnk_available() || m < 1 || n < 1 || k < 1) return 0;
    const long count = (n + SG_NR - 1) / SG_NR * k * SG_NR;
    SG_T stackPanels[STACK_PANEL_BYTES / sizeof(SG_T)] __attribute__((aligned(32)));
    SG_T *panels = stackPanels;
    if (count > (long)(STACK_PANEL_BYTES / sizeof(SG_T))) {
        panels = aligned_alloc(32, ((size_t)count * sizeof(SG_T) + 31) / 32 * 32);
        if (!panels) return 0;
    }
    // Streaming stores need every row of C 32-byte aligned; they only overwrite.
    stream = stream && !accumulate && (uintptr_t)c % 32 == 0 && ldc * (long)sizeof(SG_T) % 32 == 0;
    SG_RUN(transA, transB, accumulate, stream, m, n, k, a, lda, b, ldb, c, ldc, panels);
    // Order the streamed stores before whatever tells another thread that C is ready.
    if (stream) _mm_sfence();
    if (panels != stackPanels) free(panels);
    return 1;
}

#undef SG_NR
