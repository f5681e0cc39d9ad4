/* Tiny check harness shared by the C tests: counts passes and failures and prints
   "N passed, M failed" at the end. */
#ifndef TN_CHECK_H
#define TN_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tnswift.h"

static int tn_passed = 0;
static int tn_failed = 0;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            tn_passed++;                                                     \
        } else {                                                             \
            tn_failed++;                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
        }                                                                    \
    } while (0)

/* A call that must succeed. */
#define CHECK_OK(call)                                                       \
    do {                                                                     \
        tn_status s_ = (call);                                               \
        CHECK(s_ == TN_OK, "%s -> %d (%s)", #call, (int)s_, tn_last_error()); \
    } while (0)

/* A call that must fail with `want` and leave a non-empty message. */
#define CHECK_STATUS(want, call)                                             \
    do {                                                                     \
        tn_status s_ = (call);                                               \
        const char *m_ = tn_last_error();                                    \
        CHECK(s_ == (want), "%s -> %d, expected %s (%d); message: %s", #call, \
              (int)s_, #want, (int)(want), m_ ? m_ : "(NULL)");              \
        CHECK(m_ != NULL && m_[0] != '\0', "%s: empty tn_last_error()", #call); \
    } while (0)

static inline int tn_report(const char *name) {
    printf("%s: %d passed, %d failed\n", name, tn_passed, tn_failed);
    return tn_failed == 0 ? 0 : 1;
}

/* Deterministic pseudo-random numbers in [-1, 1). */
static unsigned long long tn_rng_state = 88172645463325252ULL;
static inline double tn_rand(void) {
    tn_rng_state ^= tn_rng_state << 13;
    tn_rng_state ^= tn_rng_state >> 7;
    tn_rng_state ^= tn_rng_state << 17;
    return (double)(tn_rng_state >> 11) / 4503599627370496.0 - 1.0;
}

static inline void fill_d(double *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = tn_rand();
}

static inline void fill_f(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)tn_rand();
}

/* max_i |got_i - want_i| / (|want_i| + mag_i), the error relative to the term magnitudes. */
static inline double rel_err_d(const double *got, const double *want, const double *mag, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / (fabs(want[i]) + mag[i] + 1e-300);
        if (!(e <= worst)) worst = e; /* NaN propagates as a failure */
    }
    return worst;
}

#endif
