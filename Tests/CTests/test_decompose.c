/* C ABI decompositions: TT-SVD, TT-matrix, TT rounding/inner/add, balanced modes, CP-ALS and
   Tucker against dense references built here, plus every error path.
   Prints "test_decompose: N passed, M failed". */
#include <stdint.h>

#include "tn_check.h"

#define MAXN 4096

/* ------------------------------------------------------------------ helpers */

static int64_t prod(const int64_t *s, int64_t n) {
    int64_t p = 1;
    for (int64_t i = 0; i < n; i++) p *= s[i];
    return p;
}

static double norm_d(const double *x, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

static double diff_norm_d(const double *x, const double *y, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (x[i] - y[i]) * (x[i] - y[i]);
    return sqrt(s);
}

/* Dense tensor of TT cores: cores[k] of shape (r[k], n[k], r[k+1]), C order. */
static void tt_dense(int64_t d, const int64_t *n, const int64_t *r, double *const *cores, double *out) {
    static double cur[MAXN * 8], next[MAXN * 8];
    int64_t rows = 1; /* cur is rows x r[k] */
    cur[0] = 1.0;
    for (int64_t k = 0; k < d; k++) {
        int64_t cols = n[k] * r[k + 1];
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                double s = 0.0;
                for (int64_t a = 0; a < r[k]; a++) s += cur[i * r[k] + a] * cores[k][a * cols + j];
                next[i * cols + j] = s;
            }
        rows *= n[k];
        memcpy(cur, next, (size_t)(rows * r[k + 1]) * sizeof(double));
    }
    memcpy(out, cur, (size_t)rows * sizeof(double));
}

/* Copies every array of h out (float64), checking count; returns the number of arrays. */
static int64_t fetch_all(tn_decomposition *h, double **arrays, int64_t (*shapes)[8], int64_t *ndims, int64_t max) {
    int64_t count = -1;
    CHECK_OK(tn_decomposition_count(h, &count));
    if (count < 0 || count > max) return -1;
    for (int64_t i = 0; i < count; i++) {
        CHECK_OK(tn_decomposition_array_shape(h, i, &ndims[i], shapes[i], 8));
        int64_t n = prod(shapes[i], ndims[i]);
        arrays[i] = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
        tn_tensor dst = {arrays[i], ndims[i], shapes[i], NULL};
        CHECK_OK(tn_decomposition_array_copy(h, i, &dst));
    }
    return count;
}

static void free_all(double **arrays, int64_t count) {
    for (int64_t i = 0; i < count; i++) free(arrays[i]);
}

/* A random TT tensor of the given modes and ranks, dense into x. */
static void random_tt(int64_t d, const int64_t *n, const int64_t *r, double *x) {
    double *cores[8] = {0};
    for (int64_t k = 0; k < d; k++) {
        int64_t c = r[k] * n[k] * r[k + 1];
        cores[k] = malloc((size_t)c * sizeof(double));
        fill_d(cores[k], (size_t)c);
    }
    tt_dense(d, n, r, cores, x);
    for (int64_t k = 0; k < d; k++) free(cores[k]);
}

/* Dense tensor of a TT result handle; fills ranks (d + 1). */
static void handle_dense(tn_decomposition *h, int64_t d, const int64_t *n, int64_t *ranks, double *out) {
    double *cores[8] = {0};
    int64_t shapes[8][8], ndims[8];
    int64_t count = fetch_all(h, cores, shapes, ndims, 8);
    CHECK(count == d, "TT result has %lld cores, expected %lld", (long long)count, (long long)d);
    if (count != d) return;
    for (int64_t k = 0; k < d; k++) {
        CHECK(ndims[k] == 3 && shapes[k][1] == n[k], "core %lld shape", (long long)k);
        ranks[k] = shapes[k][0];
        ranks[k + 1] = shapes[k][2];
    }
    tt_dense(d, n, ranks, cores, out);
    free_all(cores, count);
}

/* ------------------------------------------------------------------ progress */

typedef struct {
    int64_t calls, last_step, last_total, stop_at;
    int saw_nan;
} progress_log;

static int progress_cb(void *context, int64_t step, int64_t total, double rel_error) {
    progress_log *log = context;
    log->calls++;
    log->last_step = step;
    log->last_total = total;
    if (rel_error != rel_error) log->saw_nan = 1;
    return log->stop_at == 0 || step < log->stop_at;
}

/* ------------------------------------------------------------------ TT */

static double X[MAXN], Y[MAXN], Z[MAXN];

static void test_tt_svd_exact(void) {
    int64_t n[4] = {4, 5, 3, 4}, r[5] = {1, 2, 3, 2, 1};
    int64_t total = prod(n, 4);
    random_tt(4, n, r, X);
    tn_tensor x = {X, 4, n, NULL};
    progress_log log = {0, 0, 0, 0, 0};

    /* no truncation: exact to rounding */
    tn_decomposition *h = NULL;
    CHECK_OK(tn_tt_svd(TN_FLOAT64, &x, NULL, -1.0, progress_cb, &log, &h));
    CHECK(log.calls == 3 && log.last_step == 3 && log.last_total == 3 && log.saw_nan,
          "progress: %lld calls, last %lld/%lld, nan %d", (long long)log.calls, (long long)log.last_step,
          (long long)log.last_total, log.saw_nan);
    int64_t ranks[5];
    handle_dense(h, 4, n, ranks, Y);
    double rel = diff_norm_d(X, Y, total) / norm_d(X, total);
    CHECK(rel < 1e-12, "exact TT-SVD relative error %g", rel);
    int64_t count = -1;
    CHECK_OK(tn_decomposition_errors(h, NULL, 0, &count));
    CHECK(count == 0, "TT-SVD error history has %lld entries", (long long)count);
    CHECK_OK(tn_decomposition_destroy(h));

    /* a tiny eps recovers the true ranks */
    h = NULL;
    CHECK_OK(tn_tt_svd(TN_FLOAT64, &x, NULL, 1e-10, NULL, NULL, &h));
    handle_dense(h, 4, n, ranks, Y);
    CHECK(ranks[0] == 1 && ranks[1] == 2 && ranks[2] == 3 && ranks[3] == 2 && ranks[4] == 1,
          "recovered ranks %lld %lld %lld", (long long)ranks[1], (long long)ranks[2], (long long)ranks[3]);
    rel = diff_norm_d(X, Y, total) / norm_d(X, total);
    CHECK(rel < 1e-12, "eps=1e-10 TT-SVD relative error %g", rel);
    CHECK_OK(tn_decomposition_destroy(h));

    /* caps */
    int64_t caps[3] = {1, 2, 1};
    h = NULL;
    CHECK_OK(tn_tt_svd(TN_FLOAT64, &x, caps, -1.0, NULL, NULL, &h));
    handle_dense(h, 4, n, ranks, Y);
    CHECK(ranks[1] == 1 && ranks[2] == 2 && ranks[3] == 1, "capped ranks %lld %lld %lld",
          (long long)ranks[1], (long long)ranks[2], (long long)ranks[3]);
    CHECK_OK(tn_decomposition_destroy(h));
}

static void test_tt_svd_eps_and_strides(void) {
    int64_t n[4] = {6, 5, 4, 3};
    int64_t total = prod(n, 4);
    fill_d(X, (size_t)total);
    tn_tensor x = {X, 4, n, NULL};
    const double epss[3] = {0.1, 0.3, 0.6};
    for (int e = 0; e < 3; e++) {
        tn_decomposition *h = NULL;
        CHECK_OK(tn_tt_svd(TN_FLOAT64, &x, NULL, epss[e], NULL, NULL, &h));
        int64_t ranks[5];
        handle_dense(h, 4, n, ranks, Y);
        double rel = diff_norm_d(X, Y, total) / norm_d(X, total);
        CHECK(rel <= epss[e] * (1 + 1e-12), "eps %g: relative error %g", epss[e], rel);
        CHECK(ranks[1] * ranks[2] * ranks[3] < 6 * 30 * 3, "eps %g did not truncate", epss[e]);
        tn_decomposition_destroy(h);
    }

    /* A transposed (strided) view decomposes like its packed copy. */
    int64_t t[4] = {3, 4, 5, 6}, ts[4] = {1, 3, 12, 60}; /* x viewed with axes reversed */
    for (int64_t a = 0; a < 6; a++)
        for (int64_t b = 0; b < 5; b++)
            for (int64_t c = 0; c < 4; c++)
                for (int64_t d = 0; d < 3; d++)
                    Z[((d * 4 + c) * 5 + b) * 6 + a] = X[((a * 5 + b) * 4 + c) * 3 + d];
    tn_tensor strided = {X, 4, t, ts}, packed = {Z, 4, t, NULL};
    tn_decomposition *h1 = NULL, *h2 = NULL;
    CHECK_OK(tn_tt_svd(TN_FLOAT64, &strided, NULL, 0.2, NULL, NULL, &h1));
    CHECK_OK(tn_tt_svd(TN_FLOAT64, &packed, NULL, 0.2, NULL, NULL, &h2));
    int64_t r1[5], r2[5];
    static double D1[MAXN], D2[MAXN];
    handle_dense(h1, 4, t, r1, D1);
    handle_dense(h2, 4, t, r2, D2);
    CHECK(memcmp(r1, r2, sizeof r1) == 0, "strided and packed inputs give different ranks");
    CHECK(diff_norm_d(D1, D2, total) <= 1e-12 * norm_d(D2, total), "strided and packed results differ");
    tn_decomposition_destroy(h1);
    tn_decomposition_destroy(h2);
}

static void test_tt_f32(void) {
    int64_t n[3] = {4, 6, 5}, r[4] = {1, 3, 2, 1};
    int64_t total = prod(n, 3);
    random_tt(3, n, r, X);
    static float xf[MAXN], cf[MAXN];
    for (int64_t i = 0; i < total; i++) xf[i] = (float)X[i];
    tn_tensor x = {xf, 3, n, NULL};
    tn_decomposition *h = NULL;
    CHECK_OK(tn_tt_svd(TN_FLOAT32, &x, NULL, 1e-4, NULL, NULL, &h));
    int64_t count = 0;
    CHECK_OK(tn_decomposition_count(h, &count));
    CHECK(count == 3, "float32 TT has %lld cores", (long long)count);
    double *cores[3];
    int64_t ranks[4] = {1, 0, 0, 1};
    for (int64_t k = 0; k < count && k < 3; k++) {
        int64_t nd = 0, s[3];
        CHECK_OK(tn_decomposition_array_shape(h, k, &nd, s, 3));
        ranks[k + 1] = s[2];
        int64_t c = prod(s, 3);
        tn_tensor dst = {cf, 3, s, NULL};
        CHECK_OK(tn_decomposition_array_copy(h, k, &dst));
        cores[k] = malloc((size_t)c * sizeof(double));
        for (int64_t i = 0; i < c; i++) cores[k][i] = cf[i];
    }
    CHECK(ranks[1] == 3 && ranks[2] == 2, "float32 ranks %lld %lld", (long long)ranks[1], (long long)ranks[2]);
    if (ranks[1] == 3 && ranks[2] == 2) {
        tt_dense(3, n, ranks, cores, Y);
        double rel = diff_norm_d(X, Y, total) / norm_d(X, total);
        CHECK(rel < 1e-5, "float32 TT-SVD relative error %g", rel);
    }
    for (int64_t k = 0; k < count && k < 3; k++) free(cores[k]);
    tn_decomposition_destroy(h);
}

static void test_tt_matrix(void) {
    /* W (rows 2*3*2 = 12, cols 3*2*4 = 24) from random TT-matrix cores of ranks 1,2,3,1. */
    int64_t m[3] = {2, 3, 2}, nn[3] = {3, 2, 4}, r[4] = {1, 2, 3, 1};
    int64_t merged[3] = {6, 6, 8};
    random_tt(3, merged, r, X); /* X in (m1 n1, m2 n2, m3 n3) order */
    static double W[12 * 24];
    /* W[(i1 i2 i3), (j1 j2 j3)] = X[(i1 j1), (i2 j2), (i3 j3)] */
    for (int64_t i1 = 0; i1 < 2; i1++) for (int64_t i2 = 0; i2 < 3; i2++) for (int64_t i3 = 0; i3 < 2; i3++)
    for (int64_t j1 = 0; j1 < 3; j1++) for (int64_t j2 = 0; j2 < 2; j2++) for (int64_t j3 = 0; j3 < 4; j3++) {
        int64_t row = (i1 * 3 + i2) * 2 + i3, col = (j1 * 2 + j2) * 4 + j3;
        W[row * 24 + col] = X[((i1 * 3 + j1) * 6 + (i2 * 2 + j2)) * 8 + (i3 * 4 + j3)];
    }
    int64_t ws[2] = {12, 24};
    tn_tensor w = {W, 2, ws, NULL};
    tn_decomposition *h = NULL;
    progress_log log = {0, 0, 0, 0, 0};
    CHECK_OK(tn_tt_matrix(TN_FLOAT64, &w, 3, m, nn, NULL, 1e-10, progress_cb, &log, &h));
    CHECK(log.calls == 2, "TT-matrix progress calls %lld", (long long)log.calls);
    double *cores[3];
    int64_t shapes[8][8], ndims[8];
    int64_t count = fetch_all(h, cores, shapes, ndims, 3);
    CHECK(count == 3, "TT-matrix has %lld cores", (long long)count);
    if (count == 3) {
        int64_t ranks[4] = {1, shapes[0][3], shapes[1][3], 1};
        for (int k = 0; k < 3; k++)
            CHECK(ndims[k] == 4 && shapes[k][1] == m[k] && shapes[k][2] == nn[k], "TT-matrix core %d shape", k);
        CHECK(ranks[1] == 2 && ranks[2] == 3, "TT-matrix ranks %lld %lld", (long long)ranks[1], (long long)ranks[2]);
        /* the cores read as (r, m n, r) are the TT of X */
        tt_dense(3, merged, ranks, cores, Y);
        double rel = diff_norm_d(X, Y, 12 * 24) / norm_d(X, 12 * 24);
        CHECK(rel < 1e-12, "TT-matrix relative error %g", rel);
        free_all(cores, count);
    }
    tn_decomposition_destroy(h);
    /* modes that do not multiply to the matrix */
    int64_t bad[3] = {2, 3, 3};
    CHECK_STATUS(TN_ERR_SHAPE, tn_tt_matrix(TN_FLOAT64, &w, 3, bad, nn, NULL, -1, NULL, NULL, &h));
    CHECK(h == NULL, "failed call left *out set");
    int64_t three[3] = {2, 3, 4};
    tn_tensor w3 = {W, 3, three, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_tt_matrix(TN_FLOAT64, &w3, 3, m, nn, NULL, -1, NULL, NULL, &h));
    CHECK_STATUS(TN_ERR_SHAPE, tn_tt_matrix(TN_FLOAT64, &w, 0, m, nn, NULL, -1, NULL, NULL, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_matrix(TN_FLOAT64, &w, 3, NULL, nn, NULL, -1, NULL, NULL, &h));
}

static void test_tt_round_inner_add(void) {
    int64_t n[4] = {3, 4, 5, 3}, r[5] = {1, 2, 3, 2, 1};
    int64_t total = prod(n, 4);
    random_tt(4, n, r, X);
    tn_tensor x = {X, 4, n, NULL};
    tn_decomposition *h = NULL;
    CHECK_OK(tn_tt_svd(TN_FLOAT64, &x, NULL, 1e-12, NULL, NULL, &h));
    double *cores[8] = {0};
    int64_t shapes[8][8], ndims[8];
    int64_t count = fetch_all(h, cores, shapes, ndims, 8);
    tn_decomposition_destroy(h);
    if (count != 4) {
        CHECK(0, "TT-SVD gave %lld cores", (long long)count);
        return;
    }
    tn_tensor c[4];
    for (int k = 0; k < 4; k++) c[k] = (tn_tensor){cores[k], 3, shapes[k], NULL};

    /* inner and norm against the dense tensor */
    double inner = 0.0;
    CHECK_OK(tn_tt_inner(TN_FLOAT64, 4, c, c, &inner));
    double nx = norm_d(X, total);
    CHECK(fabs(inner - nx * nx) <= 1e-10 * nx * nx, "inner %g vs %g", inner, nx * nx);

    /* x + x has doubled ranks; rounding brings them back and gives 2x */
    h = NULL;
    CHECK_OK(tn_tt_add(TN_FLOAT64, 4, c, c, &h));
    int64_t sr[5];
    handle_dense(h, 4, n, sr, Y);
    CHECK(sr[1] == 4 && sr[2] == 6 && sr[3] == 4, "sum ranks %lld %lld %lld", (long long)sr[1], (long long)sr[2], (long long)sr[3]);
    double *sum_cores[8];
    int64_t sum_shapes[8][8], sum_ndims[8];
    int64_t sc = fetch_all(h, sum_cores, sum_shapes, sum_ndims, 8);
    tn_decomposition_destroy(h);
    tn_tensor s[4];
    for (int k = 0; k < 4 && k < sc; k++) s[k] = (tn_tensor){sum_cores[k], 3, sum_shapes[k], NULL};
    h = NULL;
    CHECK_OK(tn_tt_round(TN_FLOAT64, 4, s, NULL, 1e-10, &h));
    int64_t rr[5];
    handle_dense(h, 4, n, rr, Z);
    CHECK(rr[1] == 2 && rr[2] == 3 && rr[3] == 2, "rounded ranks %lld %lld %lld", (long long)rr[1], (long long)rr[2], (long long)rr[3]);
    for (int64_t i = 0; i < total; i++) Y[i] = 2 * X[i];
    CHECK(diff_norm_d(Y, Z, total) <= 1e-10 * norm_d(Y, total), "round(x + x) != 2x");
    tn_decomposition_destroy(h);
    int64_t caps[3] = {1, 1, 1};
    h = NULL;
    CHECK_OK(tn_tt_round(TN_FLOAT64, 4, s, caps, -1, &h));
    handle_dense(h, 4, n, rr, Z);
    CHECK(rr[1] == 1 && rr[2] == 1 && rr[3] == 1, "capped rounding ranks");
    tn_decomposition_destroy(h);

    /* bad cores */
    tn_tensor broken[4] = {c[0], c[2], c[1], c[3]};
    CHECK_STATUS(TN_ERR_SHAPE, tn_tt_round(TN_FLOAT64, 4, broken, NULL, 0.1, &h));
    tn_tensor flat = {cores[0], 2, shapes[0] + 1, NULL};
    tn_tensor two[2] = {flat, c[1]};
    CHECK_STATUS(TN_ERR_SHAPE, tn_tt_round(TN_FLOAT64, 2, two, NULL, 0.1, &h));
    CHECK_STATUS(TN_ERR_SHAPE, tn_tt_round(TN_FLOAT64, 0, c, NULL, 0.1, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_round(TN_FLOAT64, 4, NULL, NULL, 0.1, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_round(TN_FLOAT64, 4, c, NULL, NAN, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_inner(TN_FLOAT64, 4, c, c, NULL));
    CHECK_STATUS(TN_ERR_SHAPE, tn_tt_inner(TN_FLOAT64, 4, c, broken, &inner));
    CHECK_STATUS(TN_ERR_SHAPE, tn_tt_add(TN_FLOAT64, 4, c, broken, &h));
    free_all(cores, count);
    free_all(sum_cores, sc);
}

static void test_balanced_modes(void) {
    int64_t modes[5] = {0};
    CHECK_OK(tn_balanced_modes(1024, 5, modes));
    CHECK(modes[0] == 4 && modes[4] == 4, "1024 in 5: %lld ... %lld", (long long)modes[0], (long long)modes[4]);
    CHECK_OK(tn_balanced_modes(13, 3, modes));
    CHECK(modes[0] == 13 && modes[1] == 1 && modes[2] == 1, "13 in 3");
    CHECK_STATUS(TN_ERR_VALUE, tn_balanced_modes(0, 3, modes));
    CHECK_STATUS(TN_ERR_VALUE, tn_balanced_modes(12, 0, modes));
    CHECK_STATUS(TN_ERR_VALUE, tn_balanced_modes(12, 3, NULL));
}

/* ------------------------------------------------------------------ errors */

static void test_tt_errors(void) {
    int64_t n[3] = {3, 4, 5};
    fill_d(X, 60);
    tn_tensor x = {X, 3, n, NULL};
    tn_decomposition *h = (tn_decomposition *)&x; /* must be reset to NULL on failure */
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_svd(TN_FLOAT64, NULL, NULL, 0.1, NULL, NULL, &h));
    CHECK(h == NULL, "failed tn_tt_svd left *out set");
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_svd(TN_FLOAT64, &x, NULL, 0.1, NULL, NULL, NULL));
    CHECK_STATUS(TN_ERR_DTYPE, tn_tt_svd((tn_dtype)7, &x, NULL, 0.1, NULL, NULL, &h));
    int64_t zero[2] = {0, 2};
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_svd(TN_FLOAT64, &x, zero, 0.1, NULL, NULL, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_svd(TN_FLOAT64, &x, NULL, NAN, NULL, NULL, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_svd(TN_FLOAT64, &x, NULL, INFINITY, NULL, NULL, &h));
    tn_tensor nodata = {NULL, 3, n, NULL};
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_svd(TN_FLOAT64, &nodata, NULL, 0.1, NULL, NULL, &h));
    int64_t empty[2] = {3, 0};
    tn_tensor e = {NULL, 2, empty, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_tt_svd(TN_FLOAT64, &e, NULL, 0.1, NULL, NULL, &h));
    tn_tensor scalar = {X, 0, NULL, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_tt_svd(TN_FLOAT64, &scalar, NULL, 0.1, NULL, NULL, &h));
    int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    tn_tensor big = {X, 2, huge, NULL};
    CHECK_STATUS(TN_ERR_MEMORY, tn_tt_svd(TN_FLOAT64, &big, NULL, 0.1, NULL, NULL, &h));
    X[7] = NAN;
    CHECK_STATUS(TN_ERR_VALUE, tn_tt_svd(TN_FLOAT64, &x, NULL, 0.1, NULL, NULL, &h));
    X[7] = 0.5;

    /* interrupted by the progress callback: after step 1 of 2 */
    progress_log log = {0, 0, 0, 1, 0};
    h = NULL;
    CHECK_STATUS(TN_ERR_INTERRUPTED, tn_tt_svd(TN_FLOAT64, &x, NULL, 0.1, progress_cb, &log, &h));
    CHECK(h == NULL && log.calls == 1, "interrupted: %lld calls, out %p", (long long)log.calls, (void *)h);
    CHECK(strstr(tn_last_error(), "interrupt") != NULL, "interrupted message: %s", tn_last_error());
}

static void test_handle_errors(void) {
    int64_t n[3] = {3, 4, 5};
    fill_d(X, 60);
    tn_tensor x = {X, 3, n, NULL};
    tn_decomposition *h = NULL;
    CHECK_OK(tn_tt_svd(TN_FLOAT64, &x, NULL, 0.1, NULL, NULL, &h));
    int64_t count = 0, nd = 0, s[8];
    double errors[4];
    tn_tensor dst = {Y, 3, s, NULL};

    CHECK_STATUS(TN_ERR_VALUE, tn_decomposition_array_shape(h, 3, &nd, s, 8));
    CHECK_STATUS(TN_ERR_VALUE, tn_decomposition_array_shape(h, -1, &nd, s, 8));
    CHECK_STATUS(TN_ERR_VALUE, tn_decomposition_array_shape(h, 0, &nd, s, 1));
    CHECK(nd == 3, "ndim is reported even when the capacity is short (got %lld)", (long long)nd);
    CHECK_STATUS(TN_ERR_VALUE, tn_decomposition_count(h, NULL));
    CHECK_OK(tn_decomposition_array_shape(h, 1, &nd, s, 8));
    s[1] += 1;
    CHECK_STATUS(TN_ERR_SHAPE, tn_decomposition_array_copy(h, 1, &dst));
    s[1] -= 1;
    CHECK_STATUS(TN_ERR_VALUE, tn_decomposition_array_copy(h, 1, NULL));
    CHECK_OK(tn_decomposition_array_copy(h, 1, &dst));
    /* strided destination: every other element */
    int64_t st[3] = {2 * s[1] * s[2], 2 * s[2], 2};
    static double wide[2 * MAXN];
    tn_tensor sdst = {wide, 3, s, st};
    CHECK_OK(tn_decomposition_array_copy(h, 1, &sdst));
    int same = 1;
    for (int64_t i = 0; i < prod(s, 3); i++) same &= wide[2 * i] == Y[i];
    CHECK(same, "strided copy differs from the contiguous one");

    /* NULL, destroyed and foreign handles */
    CHECK_STATUS(TN_ERR_HANDLE, tn_decomposition_count(NULL, &count));
    CHECK_STATUS(TN_ERR_HANDLE, tn_decomposition_destroy(NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_decomposition_count((tn_decomposition *)X, &count));
    CHECK_OK(tn_decomposition_destroy(h));
    CHECK_STATUS(TN_ERR_HANDLE, tn_decomposition_count(h, &count));
    CHECK_STATUS(TN_ERR_HANDLE, tn_decomposition_array_shape(h, 0, &nd, s, 8));
    CHECK_STATUS(TN_ERR_HANDLE, tn_decomposition_array_copy(h, 0, &dst));
    CHECK_STATUS(TN_ERR_HANDLE, tn_decomposition_errors(h, errors, 4, &count));
    CHECK_STATUS(TN_ERR_HANDLE, tn_decomposition_destroy(h));
    /* a plan is not a decomposition */
    int64_t sa[2] = {2, 2}, nd2[1] = {2};
    const int64_t *shapes[1] = {sa};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create("ij->ji", 1, nd2, shapes, TN_FLOAT64, NULL, &plan));
    CHECK_STATUS(TN_ERR_HANDLE, tn_decomposition_count((tn_decomposition *)plan, &count));
    CHECK_STATUS(TN_ERR_HANDLE, tn_decomposition_destroy((tn_decomposition *)plan));
    CHECK_OK(tn_plan_destroy(plan));
}

/* ------------------------------------------------------------------ CP and Tucker */

static void test_cp(void) {
    /* exact rank-2 tensor 4 x 5 x 3 */
    int64_t n[3] = {4, 5, 3};
    double A[8], B[10], C[6];
    fill_d(A, 8);
    fill_d(B, 10);
    fill_d(C, 6);
    for (int64_t i = 0; i < 4; i++) for (int64_t j = 0; j < 5; j++) for (int64_t k = 0; k < 3; k++) {
        double s = 0;
        for (int q = 0; q < 2; q++) s += A[i * 2 + q] * B[j * 2 + q] * C[k * 2 + q];
        X[(i * 5 + j) * 3 + k] = s;
    }
    tn_tensor x = {X, 3, n, NULL};
    tn_decomposition *h = NULL;
    progress_log log = {0, 0, 0, 0, 0};
    CHECK_OK(tn_cp_als(TN_FLOAT64, &x, 2, TN_CP_INIT_SVD, 0, NULL, 500, 0.0, progress_cb, &log, &h));
    double *arrays[4];
    int64_t shapes[8][8], ndims[8];
    int64_t count = fetch_all(h, arrays, shapes, ndims, 4);
    CHECK(count == 4, "CP result has %lld arrays", (long long)count);
    if (count == 4) {
        CHECK(ndims[0] == 1 && shapes[0][0] == 2 && shapes[1][0] == 4 && shapes[1][1] == 2 && shapes[3][0] == 3,
              "CP array shapes");
        for (int64_t i = 0; i < 4; i++) for (int64_t j = 0; j < 5; j++) for (int64_t k = 0; k < 3; k++) {
            double s = 0;
            for (int q = 0; q < 2; q++)
                s += arrays[0][q] * arrays[1][i * 2 + q] * arrays[2][j * 2 + q] * arrays[3][k * 2 + q];
            Y[(i * 5 + j) * 3 + k] = s;
        }
        double rel = diff_norm_d(X, Y, 60) / norm_d(X, 60);
        CHECK(rel < 1e-6, "CP-ALS relative error %g", rel);
        free_all(arrays, count);
    }
    int64_t ne = 0;
    double errs[600];
    CHECK_OK(tn_decomposition_errors(h, errs, 600, &ne));
    CHECK(ne >= 1 && ne <= 500 && log.calls == ne, "CP error history %lld, progress calls %lld", (long long)ne,
          (long long)log.calls);
    CHECK(ne >= 1 && errs[ne - 1] < 1e-6, "CP last error %g", ne >= 1 ? errs[ne - 1] : -1.0);
    tn_decomposition_destroy(h);

    /* given init: wrong factor shape */
    int64_t ws[1] = {2}, fa[2] = {4, 2}, fb[2] = {5, 2}, fc[2] = {3, 2}, bad[2] = {4, 3};
    double w[2] = {1, 1};
    tn_tensor init[4] = {{w, 1, ws, NULL}, {A, 2, fa, NULL}, {B, 2, fb, NULL}, {C, 2, fc, NULL}};
    h = NULL;
    CHECK_OK(tn_cp_als(TN_FLOAT64, &x, 2, TN_CP_INIT_GIVEN, 0, init, 5, 0.0, NULL, NULL, &h));
    tn_decomposition_destroy(h);
    double a_bad[12] = {0};   /* the data must really hold what the descriptor claims */
    init[1].data = a_bad;
    init[1].shape = bad;
    CHECK_STATUS(TN_ERR_SHAPE, tn_cp_als(TN_FLOAT64, &x, 2, TN_CP_INIT_GIVEN, 0, init, 5, 0.0, NULL, NULL, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_cp_als(TN_FLOAT64, &x, 2, TN_CP_INIT_GIVEN, 0, NULL, 5, 0.0, NULL, NULL, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_cp_als(TN_FLOAT64, &x, 0, TN_CP_INIT_SVD, 0, NULL, 5, 0.0, NULL, NULL, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_cp_als(TN_FLOAT64, &x, 2, 9, 0, NULL, 5, 0.0, NULL, NULL, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_cp_als(TN_FLOAT64, NULL, 2, TN_CP_INIT_SVD, 0, NULL, 5, 0.0, NULL, NULL, &h));
    progress_log stop = {0, 0, 0, 2, 0};
    CHECK_STATUS(TN_ERR_INTERRUPTED,
                 tn_cp_als(TN_FLOAT64, &x, 2, TN_CP_INIT_RANDOM, 3, NULL, 50, 0.0, progress_cb, &stop, &h));
    CHECK(stop.calls == 2 && h == NULL, "CP interrupted after %lld calls", (long long)stop.calls);
}

static void test_tucker(void) {
    /* exact multilinear rank (2, 3, 2) tensor of shape 4 x 5 x 3 */
    int64_t n[3] = {4, 5, 3};
    double G[12], U0[8], U1[15], U2[6];
    fill_d(G, 12);
    fill_d(U0, 8);
    fill_d(U1, 15);
    fill_d(U2, 6);
    for (int64_t i = 0; i < 4; i++) for (int64_t j = 0; j < 5; j++) for (int64_t k = 0; k < 3; k++) {
        double s = 0;
        for (int a = 0; a < 2; a++) for (int b = 0; b < 3; b++) for (int c = 0; c < 2; c++)
            s += G[(a * 3 + b) * 2 + c] * U0[i * 2 + a] * U1[j * 3 + b] * U2[k * 2 + c];
        X[(i * 5 + j) * 3 + k] = s;
    }
    tn_tensor x = {X, 3, n, NULL};
    int64_t ranks[3] = {2, 3, 2};
    for (int method = 0; method < 2; method++) {
        tn_decomposition *h = NULL;
        CHECK_OK(tn_tucker(TN_FLOAT64, &x, ranks, -1, method, 20, 0.0, NULL, NULL, &h));
        double *arrays[4];
        int64_t shapes[8][8], ndims[8];
        int64_t count = fetch_all(h, arrays, shapes, ndims, 4);
        CHECK(count == 4, "Tucker result has %lld arrays", (long long)count);
        if (count == 4) {
            CHECK(ndims[0] == 3 && shapes[0][0] == 2 && shapes[0][1] == 3 && shapes[0][2] == 2, "Tucker core shape");
            double *g = arrays[0], *u0 = arrays[1], *u1 = arrays[2], *u2 = arrays[3];
            for (int64_t i = 0; i < 4; i++) for (int64_t j = 0; j < 5; j++) for (int64_t k = 0; k < 3; k++) {
                double s = 0;
                for (int a = 0; a < 2; a++) for (int b = 0; b < 3; b++) for (int c = 0; c < 2; c++)
                    s += g[(a * 3 + b) * 2 + c] * u0[i * 2 + a] * u1[j * 3 + b] * u2[k * 2 + c];
                Y[(i * 5 + j) * 3 + k] = s;
            }
            double rel = diff_norm_d(X, Y, 60) / norm_d(X, 60);
            CHECK(rel < 1e-12, "Tucker (method %d) relative error %g", method, rel);
            free_all(arrays, count);
        }
        int64_t ne = 0;
        CHECK_OK(tn_decomposition_errors(h, NULL, 0, &ne));
        CHECK(ne >= 1, "Tucker error history is empty");
        tn_decomposition_destroy(h);
    }
    tn_decomposition *h = NULL;
    int64_t zero[3] = {2, 0, 2}, big[3] = {5, 3, 2};
    CHECK_STATUS(TN_ERR_VALUE, tn_tucker(TN_FLOAT64, &x, zero, -1, 1, 20, 0.0, NULL, NULL, &h));
    tn_status s = tn_tucker(TN_FLOAT64, &x, big, -1, 1, 20, 0.0, NULL, NULL, &h);
    CHECK(s == TN_ERR_VALUE || s == TN_ERR_SHAPE, "Tucker rank above the mode size -> %d", (int)s);
    CHECK_STATUS(TN_ERR_VALUE, tn_tucker(TN_FLOAT64, &x, ranks, -1, 7, 20, 0.0, NULL, NULL, &h));
    CHECK_STATUS(TN_ERR_VALUE, tn_tucker(TN_FLOAT64, &x, ranks, NAN, 1, 20, 0.0, NULL, NULL, &h));
}

int main(void) {
    test_tt_svd_exact();
    test_tt_svd_eps_and_strides();
    test_tt_f32();
    test_tt_matrix();
    test_tt_round_inner_add();
    test_balanced_modes();
    test_tt_errors();
    test_handle_errors();
    test_cp();
    test_tucker();
    return tn_report("test_decompose");
}
