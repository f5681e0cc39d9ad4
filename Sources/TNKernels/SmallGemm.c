#include "TNKernels.h"

#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>

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

// AVX-512 F, DQ, BW and VL, with the OS saving the opmask and all 32 zmm registers (XCR0 bits 5-7).
static int detectAVX512(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6u) != 0xe6u) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const unsigned f = 1u << 16, dq = 1u << 17, bw = 1u << 30, vl = 1u << 31;
    return (ebx & (f | dq | bw | vl)) == (f | dq | bw | vl);
}

// Whether the AVX-512 tiles can run: the kernels are on, and the CPU and OS support AVX-512.
static int avx512Usable(void) { return tnk_available() && detectAVX512(); }

// -1 until the first call; racing first calls compute and store the same value.
static int useAVX512 = -1;

int tnk_avx512(void) {
    int value = __atomic_load_n(&useAVX512, __ATOMIC_RELAXED);
    if (value < 0) {
        value = avx512Usable() && getenv("TNSWIFT_NO_AVX512") == NULL;
        __atomic_store_n(&useAVX512, value, __ATOMIC_RELAXED);
    }
    return value;
}

int tnk_set_avx512(int use) {
    const int before = tnk_avx512();
    __atomic_store_n(&useAVX512, use && avx512Usable(), __ATOMIC_RELAXED);
    return before;
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

// Square transposes for packing a transposed B: row j of the source (8 floats or 4 doubles at `src + j·ld`)
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

#define AVX512_TARGET "avx2,fma,avx512f,avx512dq,avx512bw,avx512vl"

// The lanes below `count` of a 16-lane mask (none for count <= 0, all for count >= 16).
static inline unsigned laneMask16(long count) {
    return count <= 0 ? 0u : count >= 16 ? 0xffffu : (1u << count) - 1u;
}

// ---- float: panels of 16 columns.
#define SG_T float
#define SG_NR 16
#define SG_TB 8
#define SG_TRANSPOSE transposeFloat8

// AVX2: 6 rows × 2 ymm = 12 accumulators of the 16 vector registers.
#define SG_TARGET "avx2,fma"
#define SG_V __m256
#define SG_W 8
#define SG_VPR 2
#define SG_MR 6
#define SG_ZERO() _mm256_setzero_ps()
#define SG_LOAD(p) _mm256_loadu_ps(p)
#define SG_STORE(p, v) _mm256_storeu_ps(p, v)
#define SG_STREAM(p, v) _mm256_stream_ps(p, v)
#define SG_BCAST(p) _mm256_broadcast_ss(p)
#define SG_FMA(a, b, acc) _mm256_fmadd_ps(a, b, acc)
#define SG_ADD(a, b) _mm256_add_ps(a, b)
#define SG_MASK_T __m256i
#define SG_MASK(count) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define SG_MASKLOAD(p, mask) _mm256_maskload_ps(p, mask)
#define SG_MASKSTORE(p, mask, v) _mm256_maskstore_ps(p, mask, v)
#define SG_TILE smallGemmFloatTileAVX2
#define SG_RUN smallGemmFloatRunAVX2
#include "SmallGemmTile.h"
#include "SmallGemmUndefISA.h"

// AVX-512: 8 rows × 1 zmm, the A broadcasts folded into the FMAs (8 ran 1.25-1.5x faster than
// the AVX2 tiles on an Emerald Rapids core; 6, 10 and 12 rows were slower than 8).
#define SG_TARGET AVX512_TARGET
#define SG_V __m512
#define SG_W 16
#define SG_VPR 1
#define SG_MR 8
#define SG_ZERO() _mm512_setzero_ps()
#define SG_LOAD(p) _mm512_loadu_ps(p)
#define SG_STORE(p, v) _mm512_storeu_ps(p, v)
#define SG_STREAM(p, v) (_mm256_stream_ps(p, _mm512_castps512_ps256(v)), _mm256_stream_ps((p) + 8, _mm512_extractf32x8_ps(v, 1)))
#define SG_BCAST(p) _mm512_set1_ps(*(p))
#define SG_FMA(a, b, acc) _mm512_fmadd_ps(a, b, acc)
#define SG_ADD(a, b) _mm512_add_ps(a, b)
#define SG_MASK_T __mmask16
#define SG_MASK(count) laneMask16(count)
#define SG_MASKLOAD(p, mask) _mm512_maskz_loadu_ps(mask, p)
#define SG_MASKSTORE(p, mask, v) _mm512_mask_storeu_ps(p, mask, v)
#define SG_TILE smallGemmFloatTileAVX512
#define SG_RUN smallGemmFloatRunAVX512
#include "SmallGemmTile.h"
#include "SmallGemmUndefISA.h"

#define SG_NAME tnk_small_sgemm
#define SG_PACK smallGemmFloatPack
#define SG_RUN_AVX2 smallGemmFloatRunAVX2
#define SG_RUN_AVX512 smallGemmFloatRunAVX512
#include "SmallGemmBody.h"
#undef SG_NAME
#undef SG_PACK
#undef SG_RUN_AVX2
#undef SG_RUN_AVX512
#undef SG_T
#undef SG_NR
#undef SG_TB
#undef SG_TRANSPOSE

// ---- double: panels of 8 columns.
#define SG_T double
#define SG_NR 8
#define SG_TB 4
#define SG_TRANSPOSE transposeDouble4

#define SG_TARGET "avx2,fma"
#define SG_V __m256d
#define SG_W 4
#define SG_VPR 2
#define SG_MR 6
#define SG_ZERO() _mm256_setzero_pd()
#define SG_LOAD(p) _mm256_loadu_pd(p)
#define SG_STORE(p, v) _mm256_storeu_pd(p, v)
#define SG_STREAM(p, v) _mm256_stream_pd(p, v)
#define SG_BCAST(p) _mm256_broadcast_sd(p)
#define SG_FMA(a, b, acc) _mm256_fmadd_pd(a, b, acc)
#define SG_ADD(a, b) _mm256_add_pd(a, b)
#define SG_MASK_T __m256i
#define SG_MASK(count) _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), _mm256_setr_epi64x(0, 1, 2, 3))
#define SG_MASKLOAD(p, mask) _mm256_maskload_pd(p, mask)
#define SG_MASKSTORE(p, mask, v) _mm256_maskstore_pd(p, mask, v)
#define SG_TILE smallGemmDoubleTileAVX2
#define SG_RUN smallGemmDoubleRunAVX2
#include "SmallGemmTile.h"
#include "SmallGemmUndefISA.h"

// AVX-512: as for float.
#define SG_TARGET AVX512_TARGET
#define SG_V __m512d
#define SG_W 8
#define SG_VPR 1
#define SG_MR 8
#define SG_ZERO() _mm512_setzero_pd()
#define SG_LOAD(p) _mm512_loadu_pd(p)
#define SG_STORE(p, v) _mm512_storeu_pd(p, v)
#define SG_STREAM(p, v) (_mm256_stream_pd(p, _mm512_castpd512_pd256(v)), _mm256_stream_pd((p) + 4, _mm512_extractf64x4_pd(v, 1)))
#define SG_BCAST(p) _mm512_set1_pd(*(p))
#define SG_FMA(a, b, acc) _mm512_fmadd_pd(a, b, acc)
#define SG_ADD(a, b) _mm512_add_pd(a, b)
#define SG_MASK_T __mmask8
#define SG_MASK(count) ((__mmask8)laneMask16(count))
#define SG_MASKLOAD(p, mask) _mm512_maskz_loadu_pd(mask, p)
#define SG_MASKSTORE(p, mask, v) _mm512_mask_storeu_pd(p, mask, v)
#define SG_TILE smallGemmDoubleTileAVX512
#define SG_RUN smallGemmDoubleRunAVX512
#include "SmallGemmTile.h"
#include "SmallGemmUndefISA.h"

#define SG_NAME tnk_small_dgemm
#define SG_PACK smallGemmDoublePack
#define SG_RUN_AVX2 smallGemmDoubleRunAVX2
#define SG_RUN_AVX512 smallGemmDoubleRunAVX512
#include "SmallGemmBody.h"
