// The small-GEMM kernel's multiply over packed panels of B, written once and included by
// SmallGemm.c for each element type and instruction set.
// Expects the element type's SG_T and SG_NR (panel width), and for the instruction set:
// SG_TARGET (the target attribute string), SG_V (vector), SG_W (lanes), SG_VPR (vectors per
// panel row: SG_VPR · SG_W = SG_NR), SG_MR (rows of C per register tile), SG_ZERO(),
// SG_LOAD(p), SG_STORE(p, v), SG_STREAM(p, v) (a store that bypasses the caches, at a
// 32-byte-aligned p), SG_BCAST(p), SG_FMA(a, b, acc), SG_ADD(a, b), SG_MASK_T and SG_MASK(count)
// (lanes below count set; count may be <= 0 or > SG_W), SG_MASKLOAD(p, mask),
// SG_MASKSTORE(p, mask, v); and the names SG_TILE and SG_RUN.
//
// Each tile keeps SG_MR rows × SG_VPR vectors of C in registers and adds one rank-1 update per
// k: SG_VPR loads of B and SG_MR broadcasts of A.

__attribute__((target(SG_TARGET), always_inline)) static inline void
SG_TILE(const int rows, long k, const SG_T *a, long ai, long ak, const SG_T *panel,
        SG_T *c, long ldc, long cols, int accumulate, int stream) {
    SG_V acc[SG_MR][SG_VPR];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < SG_VPR; v++) acc[r][v] = SG_ZERO();
    for (long kk = 0; kk < k; kk++) {
        SG_V b[SG_VPR];
        for (int v = 0; v < SG_VPR; v++) b[v] = SG_LOAD(panel + kk * SG_NR + v * SG_W);
        const SG_T *ap = a + kk * ak;
        for (int r = 0; r < rows; r++) {
            const SG_V x = SG_BCAST(ap + r * ai);
            for (int v = 0; v < SG_VPR; v++) acc[r][v] = SG_FMA(x, b[v], acc[r][v]);
        }
    }
    if (cols == SG_NR) {
        for (int r = 0; r < rows; r++) {
            SG_T *cp = c + r * ldc;
            for (int v = 0; v < SG_VPR; v++) {
                if (accumulate) acc[r][v] = SG_ADD(acc[r][v], SG_LOAD(cp + v * SG_W));
                if (stream) {
                    SG_STREAM(cp + v * SG_W, acc[r][v]);
                } else {
                    SG_STORE(cp + v * SG_W, acc[r][v]);
                }
            }
        }
    } else {
        // A partial panel: masked loads and stores keep to the columns that exist.
        SG_MASK_T mask[SG_VPR];
        for (int v = 0; v < SG_VPR; v++) mask[v] = SG_MASK(cols - v * SG_W);
        for (int r = 0; r < rows; r++) {
            SG_T *cp = c + r * ldc;
            for (int v = 0; v < SG_VPR; v++) {
                if (accumulate) acc[r][v] = SG_ADD(acc[r][v], SG_MASKLOAD(cp + v * SG_W, mask[v]));
                SG_MASKSTORE(cp + v * SG_W, mask[v], acc[r][v]);
            }
        }
    }
}

/// C (+)= op(A) · B over B's packed panels (k rows of SG_NR each, zero past n).
__attribute__((target(SG_TARGET))) static void
SG_RUN(int transA, int accumulate, int stream, long m, long n, long k, const SG_T *a, long lda,
       const SG_T *panels, SG_T *c, long ldc) {
    const long panelCount = (n + SG_NR - 1) / SG_NR;
    const long ai = transA ? 1 : lda, ak = transA ? lda : 1;
    // Rows in blocks that stay in L1 while every panel passes over them.
    long block = (16384 / (long)sizeof(SG_T)) / k;
    block = block < SG_MR ? SG_MR : block - block % SG_MR;
    for (long i0 = 0; i0 < m; i0 += block) {
        const long end = i0 + block < m ? i0 + block : m;
        for (long p = 0; p < panelCount; p++) {
            const SG_T *panel = panels + p * k * SG_NR;
            const long cols = n - p * SG_NR < SG_NR ? n - p * SG_NR : SG_NR;
            long i = i0;
            for (; i + SG_MR <= end; i += SG_MR)
                SG_TILE(SG_MR, k, a + i * ai, ai, ak, panel, c + i * ldc + p * SG_NR, ldc, cols, accumulate, stream);
            const SG_T *at = a + i * ai;
            SG_T *ct = c + i * ldc + p * SG_NR;
            // The last rows, with the row count a constant in each case so that the
            // accumulators stay in registers (cases from SG_MR up are never reached).
            switch (end - i) {
#define SG_TAIL(r) case r: if (r < SG_MR) SG_TILE(r, k, at, ai, ak, panel, ct, ldc, cols, accumulate, stream); break;
            SG_TAIL(1) SG_TAIL(2) SG_TAIL(3) SG_TAIL(4) SG_TAIL(5) SG_TAIL(6) SG_TAIL(7) SG_TAIL(8) SG_TAIL(9)
            SG_TAIL(10) SG_TAIL(11)
#if SG_MR > 12
#error "SG_MR above 12 needs more tail cases"
#endif
#undef SG_TAIL
            default: break;
            }
        }
    }
}
