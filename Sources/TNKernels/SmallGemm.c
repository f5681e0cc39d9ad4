#include "TNKernels.h"

#include <cpuid.h>
#include <immintrin.h>
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

#define SG_T float
#define SG_V __m256
#define SG_W 8
#define SG_ZERO() _mm256_setzero_ps()
#define SG_LOAD(p) _mm256_loadu_ps(p)
#define SG_STORE(p, v) _mm256_storeu_ps(p, v)
#define SG_BCAST(p) _mm256_broadcast_ss(p)
#define SG_FMA(a, b, acc) _mm256_fmadd_ps(a, b, acc)
#define SG_ADD(a, b) _mm256_add_ps(a, b)
#define SG_MASK(count) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define SG_MASKLOAD(p, mask) _mm256_maskload_ps(p, mask)
#define SG_MASKSTORE(p, mask, v) _mm256_maskstore_ps(p, mask, v)
#define SG_NAME tnk_small_sgemm
#define SG_RUN smallGemmFloatRun
#define SG_TILE smallGemmFloatTile
#include "SmallGemmBody.h"
#undef SG_T
#undef SG_V
#undef SG_W
#undef SG_ZERO
#undef SG_LOAD
#undef SG_STORE
#undef SG_BCAST
#undef SG_FMA
#undef SG_ADD
#undef SG_MASK
#undef SG_MASKLOAD
#undef SG_MASKSTORE
#undef SG_NAME
#undef SG_RUN
#undef SG_TILE

#define SG_T double
#define SG_V __m256d
#define SG_W 4
#define SG_ZERO() _mm256_setzero_pd()
#define SG_LOAD(p) _mm256_loadu_pd(p)
#define SG_STORE(p, v) _mm256_storeu_pd(p, v)
#define SG_BCAST(p) _mm256_broadcast_sd(p)
#define SG_FMA(a, b, acc) _mm256_fmadd_pd(a, b, acc)
#define SG_ADD(a, b) _mm256_add_pd(a, b)
#define SG_MASK(count) _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), _mm256_setr_epi64x(0, 1, 2, 3))
#define SG_MASKLOAD(p, mask) _mm256_maskload_pd(p, mask)
#define SG_MASKSTORE(p, mask, v) _mm256_maskstore_pd(p, mask, v)
#define SG_NAME tnk_small_dgemm
#define SG_RUN smallGemmDoubleRun
#define SG_TILE smallGemmDoubleTile
#include "SmallGemmBody.h"
