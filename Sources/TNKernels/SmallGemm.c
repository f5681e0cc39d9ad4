#include "TNKernels.h"

#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>

// Rows of C per register tile: 6 rows × 2 vectors = 12 accumulators of the 16 ymm registers.
#define MR 6
// Packed B up to this size lives on the stack.
#define STACK_PANEL_BYTES 32768

static int detectAVX2FMA(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const unsigned fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28;
    if ((ecx & (fma | osxsave | avx)) != (fma | osxsave | avx)) return 0;
    // The OS must save the YMM state (XCR0 bits 1 and 2).
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6u) != 6u) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    return (ebx & (1u << 5)) != 0;
}

int tnk_available(void) {
    // Racing first calls compute and store the same value.
    static int cached = -1;
    int value = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (value < 0) {
        value = detectAVX2FMA() && getenv("TNSWIFT_NO_KERNELS") == NULL;
        __atomic_store_n(&cached, value, __ATOMIC_RELAXED);
    }
    return value;
}

// Square transposes for packing a transposed B: row j of the source (W values at `src + j·ld`)
// becomes column j of the destination (rows `dst + i·dstStride`).
__attribute__((target("avx2,fma"))) static inline void transposeFloat8(const float *src, long ld, float *dst, long dstStride) {
    __m256 r[8], t[8], u[8];
    for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(src + j * ld);
    for (int j = 0; j < 8; j += 2) {
        t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
    }
    for (int h = 0; h < 8; h += 4) {
        u[h] = _mm256_shuffle_ps(t[h], t[h + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * dstStride, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * dstStride, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}

__attribute__((target("avx2,fma"))) static inline void transposeDouble4(const double *src, long ld, double *dst, long dstStride) {
    const __m256d r0 = _mm256_loadu_pd(src), r1 = _mm256_loadu_pd(src + ld), r2 = _mm256_loadu_pd(src + 2 * ld),
                  r3 = _mm256_loadu_pd(src + 3 * ld);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1), t2 = _mm256_unpacklo_pd(r2, r3),
                  t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dst + dstStride, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dst + 2 * dstStride, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(dst + 3 * dstStride, _mm256_permute2f128_pd(t1, t3, 0x31));
}

#define SG_T float
#define SG_V __m256
#define SG_W 8
#define SG_ZERO() _mm256_setzero_ps()
#define SG_LOAD(p) _mm256_loadu_ps(p)
#define SG_STORE(p, v) _mm256_storeu_ps(p, v)
#define SG_STREAM(p, v) _mm256_stream_ps(p, v)
#define SG_BCAST(p) _mm256_broadcast_ss(p)
#define SG_FMA(a, b, acc) _mm256_fmadd_ps(a, b, acc)
#define SG_ADD(a, b) _mm256_add_ps(a, b)
#define SG_MASK(count) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define SG_MASKLOAD(p, mask) _mm256_maskload_ps(p, mask)
#define SG_MASKSTORE(p, mask, v) _mm256_maskstore_ps(p, mask, v)
#define SG_TRANSPOSE transposeFloat8
#define SG_NAME tnk_small_sgemm
#define SG_RUN smallGemmFloatRun
#define SG_PACK smallGemmFloatPack
#define SG_TILE smallGemmFloatTile
#include "SmallGemmBody.h"
#undef SG_T
#undef SG_V
#undef SG_W
#undef SG_ZERO
#undef SG_LOAD
#undef SG_STORE
#undef SG_STREAM
#undef SG_BCAST
#undef SG_FMA
#undef SG_ADD
#undef SG_MASK
#undef SG_MASKLOAD
#undef SG_MASKSTORE
#undef SG_TRANSPOSE
#undef SG_NAME
#undef SG_RUN
#undef SG_PACK
#undef SG_TILE

#define SG_T double
#define SG_V __m256d
#define SG_W 4
#define SG_ZERO() _mm256_setzero_pd()
#define SG_LOAD(p) _mm256_loadu_pd(p)
#define SG_STORE(p, v) _mm256_storeu_pd(p, v)
#define SG_STREAM(p, v) _mm256_stream_pd(p, v)
#define SG_BCAST(p) _mm256_broadcast_sd(p)
#define SG_FMA(a, b, acc) _mm256_fmadd_pd(a, b, acc)
#define SG_ADD(a, b) _mm256_add_pd(a, b)
#define SG_MASK(count) _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), _mm256_setr_epi64x(0, 1, 2, 3))
#define SG_MASKLOAD(p, mask) _mm256_maskload_pd(p, mask)
#define SG_MASKSTORE(p, mask, v) _mm256_maskstore_pd(p, mask, v)
#define SG_TRANSPOSE transposeDouble4
#define SG_NAME tnk_small_dgemm
#define SG_RUN smallGemmDoubleRun
#define SG_PACK smallGemmDoublePack
#define SG_TILE smallGemmDoubleTile
#include "SmallGemmBody.h"
