#ifndef TNKERNELS_H
#define TNKERNELS_H

/// Hand-written kernels for shapes where OpenBLAS is slow, with their own CPU dispatch.
/// Internal to the library: the `tnk_` symbols are hidden and are not part of the C ABI.

#define TNK_INTERNAL __attribute__((visibility("hidden")))

/// Whether this CPU (and OS) runs the AVX2/FMA kernels; when 0 every kernel declines.
TNK_INTERNAL int tnk_available(void);

/// Row-major C = op(A)·op(B) (or C += op(A)·op(B) when `accumulate` is nonzero) for a
/// small n or k, where OpenBLAS's packing costs more than the multiply. Returns 1 when it
/// ran, 0 when it declined (no AVX2/FMA, or no memory for the packed B); the caller then
/// falls back to BLAS. m, n, k >= 1; lda, ldb, ldc as in cblas row-major.
TNK_INTERNAL int tnk_small_sgemm(int transA, int transB, int accumulate, long m, long n, long k,
                                const float *a, long lda, const float *b, long ldb, float *c, long ldc);
TNK_INTERNAL int tnk_small_dgemm(int transA, int transB, int accumulate, long m, long n, long k,
                                const double *a, long lda, const double *b, long ldb, double *c, long ldc);

#endif
