#ifndef TNKERNELS_H
#define TNKERNELS_H

/// Hand-written kernels for shapes where OpenBLAS is slow, with their own CPU dispatch.
/// Internal to the library: the `tnk_` symbols are hidden and are not part of the C ABI.

#define TNK_INTERNAL __attribute__((visibility("hidden")))

/// Whether this CPU (and OS) runs the AVX2/FMA kernels; when 0 every kernel declines.
TNK_INTERNAL int tnk_available(void);

/// Whether the kernels run on AVX-512 (F, DQ, BW, VL) registers: 1 on such a CPU unless
/// TNSWIFT_NO_AVX512 is set (read once); else they run on AVX2.
TNK_INTERNAL int tnk_avx512(void);

/// For tests: runs the kernels on AVX-512 (when `use` is nonzero and the CPU has it) or on
/// AVX2 from now on; returns whether they used AVX-512 before.
TNK_INTERNAL int tnk_set_avx512(int use);

/// Row-major C = op(A)·op(B) (or C += op(A)·op(B) when `accumulate` is nonzero) for a
/// small n or k, where OpenBLAS's packing costs more than the multiply. With `stream`
/// nonzero, an overwritten C whose rows are 32-byte aligned is written with stores that
/// bypass the caches (for a C far larger than they are). Returns 1 when it ran, 0 when it
/// declined (no AVX2/FMA, or no memory for the packed B); the caller then falls back to
/// BLAS. m, n, k >= 1; lda, ldb, ldc as in cblas row-major.
TNK_INTERNAL int tnk_small_sgemm(int transA, int transB, int accumulate, int stream, long m, long n, long k,
                                const float *a, long lda, const float *b, long ldb, float *c, long ldc);
TNK_INTERNAL int tnk_small_dgemm(int transA, int transB, int accumulate, int stream, long m, long n, long k,
                                const double *a, long lda, const double *b, long ldb, double *c, long ldc);

/// A parallel loop's body: runs index `index` of the loop with the caller's `context`.
typedef void (*tnk_task)(void *context, long index);

/// Runs task(context, i) for every i in [0, count) on the calling thread and up to
/// `threads - 1` pool workers, and returns when all have run. Each index runs exactly once, on
/// whichever thread claims it first. A loop started while another runs (on another thread,
/// or from inside a task) runs on the calling thread alone.
TNK_INTERNAL void tnk_parallel_for(long count, int threads, tnk_task task, void *context);

#endif
