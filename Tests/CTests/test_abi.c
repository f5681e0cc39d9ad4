/* C ABI happy paths: plans, execution against plain loops, backward, path/report/info
   getters, tn_einsum, ncon plans. Prints "test_abi: N passed, M failed". */
#include <stdint.h>

#include "tn_check.h"

/* ------------------------------------------------------------------ helpers */

/* C[i,k] = sum_j A[i,j] B[j,k] for element-strided views; mag gets sum |A||B|. */
static void matmul_ref(const double *A, int64_t a0, int64_t a1, const double *B, int64_t b0,
                       int64_t b1, int64_t m, int64_t k, int64_t n, double *C, double *mag) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t q = 0; q < n; q++) {
            double s = 0.0, t = 0.0;
            for (int64_t j = 0; j < k; j++) {
                double x = A[i * a0 + j * a1], y = B[j * b0 + q * b1];
                s += x * y;
                t += fabs(x * y);
            }
            C[i * n + q] = s;
            mag[i * n + q] = t;
        }
}

static void test_version(void) {
    CHECK(tn_abi_version() == TN_ABI_VERSION, "abi %u != %d", tn_abi_version(), TN_ABI_VERSION);
    const char *version = NULL, *blas = NULL;
    CHECK_OK(tn_version(&version, &blas));
    CHECK(version != NULL && version[0] != '\0', "empty version string");
    CHECK(blas != NULL, "NULL blas config string");
    CHECK(tn_last_error() != NULL, "tn_last_error() returned NULL");
}

static void test_matmul_f64(void) {
    enum { M = 5, K = 7, N = 3 };
    double A[M * K], B[K * N], C[M * N], R[M * N], MAG[M * N];
    fill_d(A, M * K);
    fill_d(B, K * N);
    int64_t sa[2] = {M, K}, sb[2] = {K, N};
    const int64_t *shapes[2] = {sa, sb};
    int64_t ndims[2] = {2, 2};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create("ij,jk->ik", 2, ndims, shapes, TN_FLOAT64, NULL, &plan));
    CHECK(plan != NULL, "plan is NULL");
    if (!plan) return;

    tn_tensor ops[2] = {{A, 2, sa, NULL}, {B, 2, sb, NULL}};
    int64_t so[2] = {M, N};
    for (int i = 0; i < M * N; i++) C[i] = NAN;
    tn_tensor out = {C, 2, so, NULL};
    CHECK_OK(tn_plan_execute(plan, ops, &out));
    matmul_ref(A, K, 1, B, N, 1, M, K, N, R, MAG);
    double e = rel_err_d(C, R, MAG, M * N);
    CHECK(e <= 1e-12, "matmul f64 rel err %g", e);

    tn_plan_info info;
    memset(&info, 0, sizeof info);
    CHECK_OK(tn_plan_info_get(plan, &info));
    CHECK(info.n_operands == 2, "n_operands %lld", (long long)info.n_operands);
    CHECK(info.out_ndim == 2, "out_ndim %lld", (long long)info.out_ndim);
    CHECK(info.n_steps == 1, "n_steps %lld", (long long)info.n_steps);
    CHECK(info.opt_flops == 2.0 * M * K * N, "opt_flops %g != %g", info.opt_flops, 2.0 * M * K * N);
    CHECK(info.naive_flops == 2.0 * M * K * N, "naive_flops %g", info.naive_flops);
    CHECK(info.largest_intermediate == M * N, "largest_intermediate %lld",
          (long long)info.largest_intermediate);

    int64_t oshape[4] = {-1, -1, -1, -1};
    CHECK_OK(tn_plan_output_shape(plan, oshape, 4));
    CHECK(oshape[0] == M && oshape[1] == N, "output shape (%lld, %lld)", (long long)oshape[0],
          (long long)oshape[1]);

    int64_t pairs[2] = {-1, -1};
    CHECK_OK(tn_plan_path(plan, pairs, 2));
    CHECK(pairs[0] == 0 && pairs[1] == 1, "path (%lld, %lld)", (long long)pairs[0],
          (long long)pairs[1]);

    uintptr_t addr = 0;
    CHECK_OK(tn_plan_last_operand_address(plan, 0, &addr));
    CHECK(addr == (uintptr_t)(void *)A, "operand 0 address %p != %p", (void *)addr, (void *)A);
    CHECK_OK(tn_plan_last_operand_address(plan, 1, &addr));
    CHECK(addr == (uintptr_t)(void *)B, "operand 1 address %p != %p", (void *)addr, (void *)B);

    CHECK_OK(tn_plan_destroy(plan));
}

/* float32 with a transposed A (strides), a reversed-row B (negative stride), a
   column-major out, and a zero-stride operand. */
static void test_matmul_f32_strided(void) {
    enum { M = 33, K = 47, N = 29 };
    float *At = malloc(sizeof(float) * K * M); /* stored K x M: A[i,j] = At[j*M + i] */
    float *Bs = malloc(sizeof(float) * K * N); /* stored K x N, viewed with rows reversed */
    float *C = malloc(sizeof(float) * M * N);
    double *A64 = malloc(sizeof(double) * M * K), *B64 = malloc(sizeof(double) * K * N);
    double *R = malloc(sizeof(double) * M * N), *MAG = malloc(sizeof(double) * M * N);
    double *C64 = malloc(sizeof(double) * M * N);
    fill_f(At, K * M);
    fill_f(Bs, K * N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < K; j++) A64[i * K + j] = At[j * M + i];
    for (int j = 0; j < K; j++)
        for (int q = 0; q < N; q++) B64[j * N + q] = Bs[(K - 1 - j) * N + q];
    matmul_ref(A64, K, 1, B64, N, 1, M, K, N, R, MAG);

    int64_t sa[2] = {M, K}, sb[2] = {K, N}, so[2] = {M, N};
    const int64_t *shapes[2] = {sa, sb};
    int64_t ndims[2] = {2, 2};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create("ij,jk->ik", 2, ndims, shapes, TN_FLOAT32, NULL, &plan));
    if (!plan) goto done;
    int64_t stA[2] = {1, M}, stB[2] = {-N, 1}, stC[2] = {1, M};
    tn_tensor ops[2] = {{At, 2, sa, stA}, {Bs + (K - 1) * N, 2, sb, stB}};
    tn_tensor out = {C, 2, so, stC};
    for (int i = 0; i < M * N; i++) C[i] = NAN;
    CHECK_OK(tn_plan_execute(plan, ops, &out));
    for (int i = 0; i < M; i++)
        for (int q = 0; q < N; q++) C64[i * N + q] = C[q * M + i];
    double e = rel_err_d(C64, R, MAG, M * N);
    CHECK(e <= 1e-5, "strided matmul f32 rel err %g", e);
    uintptr_t addr = 0;
    CHECK_OK(tn_plan_last_operand_address(plan, 0, &addr));
    CHECK(addr == (uintptr_t)(void *)At, "transposed operand was copied (%p != %p)", (void *)addr,
          (void *)At);

    /* zero stride: every row of B equals Bs row 0 */
    int64_t stZ[2] = {0, 1};
    tn_tensor ops2[2] = {{At, 2, sa, stA}, {Bs, 2, sb, stZ}};
    tn_tensor out2 = {C, 2, so, NULL};
    CHECK_OK(tn_plan_execute(plan, ops2, &out2));
    for (int j = 0; j < K; j++)
        for (int q = 0; q < N; q++) B64[j * N + q] = Bs[q];
    matmul_ref(A64, K, 1, B64, N, 1, M, K, N, R, MAG);
    for (int i = 0; i < M * N; i++) C64[i] = C[i];
    e = rel_err_d(C64, R, MAG, M * N);
    CHECK(e <= 1e-5, "zero-stride matmul f32 rel err %g", e);
    CHECK_OK(tn_plan_destroy(plan));
done:
    free(At); free(Bs); free(C); free(A64); free(B64); free(R); free(MAG); free(C64);
}

/* ------------------------------------------------------------------ TT layer (W1) */

#define TT_EQ "aei,bfij,cgjk,dhk,nabcd->nefgh"

/* Reference: W[a,b,c,d,e,f,g,h] from the cores, then y[n,efgh] = sum_abcd x[n,abcd] W. */
static void tt_reference(const double *g1, const double *g2, const double *g3, const double *g4,
                         const double *x, int64_t nb, double *y, double *mag) {
    /* T1[a,e,b,f,j] = sum_i g1[a,e,i] g2[b,f,i,j]; T2[c,g,d,h,j] = sum_k g3[c,g,j,k] g4[d,h,k] */
    static double T1[8 * 2 * 8 * 2 * 8], T2[8 * 2 * 8 * 2 * 8], A1[8 * 2 * 8 * 2 * 8],
        A2[8 * 2 * 8 * 2 * 8];
    static double W[65536], AW[65536];
    for (int a = 0; a < 8; a++) for (int e = 0; e < 2; e++) for (int b = 0; b < 8; b++)
    for (int f = 0; f < 2; f++) for (int j = 0; j < 8; j++) {
        double s = 0, t = 0;
        for (int i = 0; i < 8; i++) {
            double p = g1[(a * 2 + e) * 8 + i] * g2[((b * 2 + f) * 8 + i) * 8 + j];
            s += p; t += fabs(p);
        }
        int idx = (((a * 2 + e) * 8 + b) * 2 + f) * 8 + j;
        T1[idx] = s; A1[idx] = t;
    }
    for (int c = 0; c < 8; c++) for (int g = 0; g < 2; g++) for (int d = 0; d < 8; d++)
    for (int h = 0; h < 2; h++) for (int j = 0; j < 8; j++) {
        double s = 0, t = 0;
        for (int k = 0; k < 8; k++) {
            double p = g3[((c * 2 + g) * 8 + j) * 8 + k] * g4[(d * 2 + h) * 8 + k];
            s += p; t += fabs(p);
        }
        int idx = (((c * 2 + g) * 8 + d) * 2 + h) * 8 + j;
        T2[idx] = s; A2[idx] = t;
    }
    /* W index: ((((((a*8+b)*8+c)*8+d)*2+e)*2+f)*2+g)*2+h */
    for (int a = 0; a < 8; a++) for (int b = 0; b < 8; b++) for (int c = 0; c < 8; c++)
    for (int d = 0; d < 8; d++) for (int e = 0; e < 2; e++) for (int f = 0; f < 2; f++)
    for (int g = 0; g < 2; g++) for (int h = 0; h < 2; h++) {
        double s = 0, t = 0;
        for (int j = 0; j < 8; j++) {
            int i1 = (((a * 2 + e) * 8 + b) * 2 + f) * 8 + j;
            int i2 = (((c * 2 + g) * 8 + d) * 2 + h) * 8 + j;
            s += T1[i1] * T2[i2];
            t += A1[i1] * A2[i2];
        }
        int w = (((((((a * 8 + b) * 8 + c) * 8 + d) * 2 + e) * 2 + f) * 2 + g) * 2 + h);
        W[w] = s; AW[w] = t;
    }
    for (int64_t n = 0; n < nb; n++)
        for (int o = 0; o < 16; o++) {
            double s = 0, t = 0;
            for (int r = 0; r < 4096; r++) {
                double xv = x[n * 4096 + r];
                s += xv * W[r * 16 + o];
                t += fabs(xv) * AW[r * 16 + o];
            }
            y[n * 16 + o] = s;
            mag[n * 16 + o] = t;
        }
}

static void test_tt_layer(tn_dtype dtype) {
    enum { NB = 4 };
    const int64_t s1[3] = {8, 2, 8}, s2[4] = {8, 2, 8, 8}, s3[4] = {8, 2, 8, 8}, s4[3] = {8, 2, 8};
    const int64_t sx[5] = {NB, 8, 8, 8, 8}, sy[5] = {NB, 2, 2, 2, 2};
    const int64_t n1 = 128, n2 = 1024, n3 = 1024, n4 = 128, nx = NB * 4096, ny = NB * 16;
    const int64_t *shapes[5] = {s1, s2, s3, s4, sx};
    int64_t ndims[5] = {3, 4, 4, 3, 5};
    int64_t sizes[5] = {n1, n2, n3, n4, nx};
    double *d[5], *y = malloc(sizeof(double) * ny), *ref = malloc(sizeof(double) * ny),
                  *mag = malloc(sizeof(double) * ny);
    void *buf[5], *ybuf;
    size_t es = dtype == TN_FLOAT32 ? sizeof(float) : sizeof(double);
    for (int t = 0; t < 5; t++) {
        d[t] = malloc(sizeof(double) * sizes[t]);
        buf[t] = malloc(es * sizes[t]);
        for (int64_t i = 0; i < sizes[t]; i++) {
            double v = tn_rand();
            if (dtype == TN_FLOAT32) {
                ((float *)buf[t])[i] = (float)v;
                d[t][i] = (double)(float)v;
            } else {
                ((double *)buf[t])[i] = v;
                d[t][i] = v;
            }
        }
    }
    ybuf = malloc(es * ny);
    tt_reference(d[0], d[1], d[2], d[3], d[4], NB, ref, mag);

    tn_plan_options opt = {TN_OPTIMIZE_OPTIMAL, 0};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create(TT_EQ, 5, ndims, shapes, dtype, &opt, &plan));
    if (plan) {
        tn_tensor ops[5];
        for (int t = 0; t < 5; t++) {
            ops[t].data = buf[t];
            ops[t].ndim = ndims[t];
            ops[t].shape = shapes[t];
            ops[t].strides = NULL;
        }
        tn_tensor out = {ybuf, 5, sy, NULL};
        CHECK_OK(tn_plan_execute(plan, ops, &out));
        for (int64_t i = 0; i < ny; i++)
            y[i] = dtype == TN_FLOAT32 ? (double)((float *)ybuf)[i] : ((double *)ybuf)[i];
        double e = rel_err_d(y, ref, mag, ny);
        CHECK(e <= (dtype == TN_FLOAT32 ? 1e-4 : 1e-10), "TT layer (%s) rel err %g",
              dtype == TN_FLOAT32 ? "f32" : "f64", e);
        /* run again into the same buffers: same answer */
        CHECK_OK(tn_plan_execute(plan, ops, &out));
        for (int64_t i = 0; i < ny; i++)
            y[i] = dtype == TN_FLOAT32 ? (double)((float *)ybuf)[i] : ((double *)ybuf)[i];
        e = rel_err_d(y, ref, mag, ny);
        CHECK(e <= (dtype == TN_FLOAT32 ? 1e-4 : 1e-10), "TT layer rerun rel err %g", e);
        CHECK_OK(tn_plan_destroy(plan));
    }
    /* one-shot tn_einsum gives the same */
    tn_tensor ops[5];
    for (int t = 0; t < 5; t++) {
        ops[t].data = buf[t];
        ops[t].ndim = ndims[t];
        ops[t].shape = shapes[t];
        ops[t].strides = NULL;
    }
    tn_tensor out = {ybuf, 5, sy, NULL};
    CHECK_OK(tn_einsum(TT_EQ, 5, ops, dtype, NULL, &out));
    for (int64_t i = 0; i < ny; i++)
        y[i] = dtype == TN_FLOAT32 ? (double)((float *)ybuf)[i] : ((double *)ybuf)[i];
    double e = rel_err_d(y, ref, mag, ny);
    CHECK(e <= (dtype == TN_FLOAT32 ? 1e-4 : 1e-10), "tn_einsum TT rel err %g", e);

    for (int t = 0; t < 5; t++) { free(d[t]); free(buf[t]); }
    free(y); free(ref); free(mag); free(ybuf);
}

/* The W1 plan at batch 256: cost report without running it. */
static void test_tt_info(void) {
    const int64_t s1[3] = {8, 2, 8}, s2[4] = {8, 2, 8, 8}, s3[4] = {8, 2, 8, 8}, s4[3] = {8, 2, 8};
    const int64_t sx[5] = {256, 8, 8, 8, 8};
    const int64_t *shapes[5] = {s1, s2, s3, s4, sx};
    int64_t ndims[5] = {3, 4, 4, 3, 5};
    tn_plan_options opt = {TN_OPTIMIZE_OPTIMAL, 0};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create(TT_EQ, 5, ndims, shapes, TN_FLOAT32, &opt, &plan));
    if (!plan) return;
    tn_plan_info info;
    CHECK_OK(tn_plan_info_get(plan, &info));
    CHECK(fabs(info.opt_flops - 3.5e7) <= 0.1 * 3.5e7, "W1 opt_flops %g", info.opt_flops);
    CHECK(info.opt_flops == 34668544.0, "W1 opt_flops %.0f != opt_einsum's 34668544", info.opt_flops);
    CHECK(info.naive_flops == 42949672960.0, "W1 naive_flops %.0f", info.naive_flops);
    CHECK(info.n_steps == 4, "n_steps %lld", (long long)info.n_steps);
    CHECK(info.n_operands == 5 && info.out_ndim == 5, "n_operands %lld out_ndim %lld",
          (long long)info.n_operands, (long long)info.out_ndim);
    CHECK(info.largest_intermediate > 0 && info.largest_intermediate <= 256 * 4096,
          "largest_intermediate %lld", (long long)info.largest_intermediate);

    int64_t pairs[8];
    CHECK_OK(tn_plan_path(plan, pairs, 8));
    for (int s = 0; s < 4; s++) {
        int64_t remaining = 5 - s;
        CHECK(0 <= pairs[2 * s] && pairs[2 * s] < pairs[2 * s + 1] && pairs[2 * s + 1] < remaining,
              "step %d: (%lld, %lld) with %lld operands", s, (long long)pairs[2 * s],
              (long long)pairs[2 * s + 1], (long long)remaining);
    }
    int64_t oshape[5];
    CHECK_OK(tn_plan_output_shape(plan, oshape, 5));
    CHECK(oshape[0] == 256 && oshape[1] == 2 && oshape[4] == 2, "output shape");

    size_t needed = 0;
    CHECK_OK(tn_plan_report(plan, NULL, 0, &needed));
    CHECK(needed > 1, "report length %zu", needed);
    char *buf = malloc(needed + 8);
    memset(buf, 'X', needed + 8);
    size_t needed2 = 0;
    CHECK_OK(tn_plan_report(plan, buf, needed, &needed2));
    CHECK(needed2 == needed, "needed changed %zu -> %zu", needed, needed2);
    CHECK(strlen(buf) == needed - 1, "report strlen %zu, needed %zu", strlen(buf), needed);
    CHECK(buf[needed] == 'X', "report wrote past cap");
    CHECK(strstr(buf, "nefgh") != NULL, "report does not show the equation:\n%s", buf);
    char small[10];
    memset(small, 'X', sizeof small);
    CHECK_OK(tn_plan_report(plan, small, sizeof small, &needed2));
    CHECK(small[9] == '\0' && strlen(small) == 9, "truncated report not NUL-terminated at cap");
    CHECK(strncmp(small, buf, 9) == 0, "truncated report differs from the full one");
    free(buf);
    CHECK_OK(tn_plan_destroy(plan));
}

/* ------------------------------------------------------------------ backward */

static void test_backward_matmul(void) {
    enum { M = 6, K = 4, N = 5 };
    double A[M * K], B[K * N], DY[M * N], GA[M * K], GB[K * N], Y[M * N];
    double RA[M * K], RB[K * N], MA[M * K], MB[K * N];
    fill_d(A, M * K);
    fill_d(B, K * N);
    fill_d(DY, M * N);
    /* dA = dy B^T, dB = A^T dy */
    matmul_ref(DY, N, 1, B, 1, N, M, N, K, RA, MA);
    matmul_ref(A, 1, K, DY, N, 1, K, M, N, RB, MB);
    int64_t sa[2] = {M, K}, sb[2] = {K, N}, sy[2] = {M, N};
    const int64_t *shapes[2] = {sa, sb};
    int64_t ndims[2] = {2, 2};
    tn_tensor ops[2] = {{A, 2, sa, NULL}, {B, 2, sb, NULL}};
    tn_tensor dy = {DY, 2, sy, NULL};

    for (int with_forward = 0; with_forward < 2; with_forward++) {
        tn_plan *plan = NULL;
        CHECK_OK(tn_plan_create("ij,jk->ik", 2, ndims, shapes, TN_FLOAT64, NULL, &plan));
        if (!plan) return;
        if (with_forward) {
            tn_tensor out = {Y, 2, sy, NULL};
            CHECK_OK(tn_plan_execute(plan, ops, &out));
        }
        for (int i = 0; i < M * K; i++) GA[i] = NAN;
        for (int i = 0; i < K * N; i++) GB[i] = NAN;
        tn_tensor grads[2] = {{GA, 2, sa, NULL}, {GB, 2, sb, NULL}};
        CHECK_OK(tn_plan_backward(plan, &dy, ops, grads));
        double ea = rel_err_d(GA, RA, MA, M * K), eb = rel_err_d(GB, RB, MB, K * N);
        CHECK(ea <= 1e-12 && eb <= 1e-12, "matmul backward (forward=%d) errors %g %g", with_forward,
              ea, eb);
        /* only dA requested */
        for (int i = 0; i < M * K; i++) GA[i] = NAN;
        for (int i = 0; i < K * N; i++) GB[i] = 12345.0;
        tn_tensor only_a[2] = {{GA, 2, sa, NULL}, {NULL, 2, sb, NULL}};
        CHECK_OK(tn_plan_backward(plan, &dy, ops, only_a));
        ea = rel_err_d(GA, RA, MA, M * K);
        CHECK(ea <= 1e-12, "dA only: error %g", ea);
        int untouched = 1;
        for (int i = 0; i < K * N; i++) untouched &= GB[i] == 12345.0;
        CHECK(untouched, "a gradient that was not requested was written");
        CHECK_OK(tn_plan_destroy(plan));
    }
}

/* y[a,d] = sum_bc A[a,b] B[b,c] C[c,d]: gradients of all three by loops. */
typedef struct {
    int *polls;
    int *stop_after;
} interrupt_context;

/* Counts polls; asks to stop once it has been polled stop_after times before. */
static int stop_when_polled(void *context) {
    interrupt_context *c = context;
    return (*c->polls)++ >= *c->stop_after;
}

static void test_backward_chain(void) {
    enum { P = 3, Q = 4, R = 5, S = 2 };
    double A[P * Q], B[Q * R], C[R * S], DY[P * S], Y[P * S];
    double GA[P * Q], GB[Q * R], GC[R * S], EA[P * Q], EB[Q * R], EC[R * S];
    double MA[P * Q], MB[Q * R], MC[R * S];
    fill_d(A, P * Q); fill_d(B, Q * R); fill_d(C, R * S); fill_d(DY, P * S);
    memset(EA, 0, sizeof EA); memset(EB, 0, sizeof EB); memset(EC, 0, sizeof EC);
    memset(MA, 0, sizeof MA); memset(MB, 0, sizeof MB); memset(MC, 0, sizeof MC);
    for (int a = 0; a < P; a++) for (int b = 0; b < Q; b++) for (int c = 0; c < R; c++)
    for (int d = 0; d < S; d++) {
        double dy = DY[a * S + d];
        EA[a * Q + b] += dy * B[b * R + c] * C[c * S + d];
        MA[a * Q + b] += fabs(dy * B[b * R + c] * C[c * S + d]);
        EB[b * R + c] += dy * A[a * Q + b] * C[c * S + d];
        MB[b * R + c] += fabs(dy * A[a * Q + b] * C[c * S + d]);
        EC[c * S + d] += dy * A[a * Q + b] * B[b * R + c];
        MC[c * S + d] += fabs(dy * A[a * Q + b] * B[b * R + c]);
    }
    int64_t sa[2] = {P, Q}, sb[2] = {Q, R}, sc[2] = {R, S}, sy[2] = {P, S};
    const int64_t *shapes[3] = {sa, sb, sc};
    int64_t ndims[3] = {2, 2, 2};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create("ab,bc,cd->ad", 3, ndims, shapes, TN_FLOAT64, NULL, &plan));
    if (!plan) return;
    tn_tensor ops[3] = {{A, 2, sa, NULL}, {B, 2, sb, NULL}, {C, 2, sc, NULL}};
    tn_tensor out = {Y, 2, sy, NULL}, dy = {DY, 2, sy, NULL};
    tn_tensor grads[3] = {{GA, 2, sa, NULL}, {GB, 2, sb, NULL}, {GC, 2, sc, NULL}};
    CHECK_OK(tn_plan_execute(plan, ops, &out));
    CHECK_OK(tn_plan_backward(plan, &dy, ops, grads));
    double ea = rel_err_d(GA, EA, MA, P * Q), eb = rel_err_d(GB, EB, MB, Q * R),
           ec = rel_err_d(GC, EC, MC, R * S);
    CHECK(ea <= 1e-12 && eb <= 1e-12 && ec <= 1e-12, "chain backward errors %g %g %g", ea, eb, ec);

    /* An interrupt check: stopping part-way gives TN_ERR_INTERRUPTED, and once it is removed
       the plan computes the same results again (the partial run's intermediates are not
       reused by backward). */
    double Y0[P * S];
    memcpy(Y0, Y, sizeof Y);
    int polls = 0, stop_after = 1;
    interrupt_context ic = {&polls, &stop_after};
    for (stop_after = 0; stop_after <= 1; stop_after++) {
        polls = 0;
        CHECK_OK(tn_interrupt_check_set(stop_when_polled, &ic));
        memset(Y, 0, sizeof Y);
        CHECK_STATUS(TN_ERR_INTERRUPTED, tn_plan_execute(plan, ops, &out));
        CHECK(polls == stop_after + 1, "the check ran %d times before stopping after %d", polls, stop_after);
        CHECK(strlen(tn_last_error()) > 0, "a message");
        CHECK_STATUS(TN_ERR_INTERRUPTED, tn_plan_backward(plan, &dy, ops, grads));
        CHECK_OK(tn_interrupt_check_set(NULL, NULL));
        CHECK_OK(tn_plan_backward(plan, &dy, ops, grads));
        CHECK(rel_err_d(GA, EA, MA, P * Q) <= 1e-12 && rel_err_d(GC, EC, MC, R * S) <= 1e-12,
              "backward after an interrupted forward (stop after %d)", stop_after);
        CHECK_OK(tn_plan_execute(plan, ops, &out));
        CHECK(memcmp(Y, Y0, sizeof Y) == 0, "forward after an interrupt differs");
    }
    CHECK_OK(tn_plan_destroy(plan));
}

/* ------------------------------------------------------------------ tn_einsum, ncon */

static void test_einsum_small(void) {
    double M[12], T[12];
    fill_d(M, 12);
    int64_t sm[2] = {3, 4}, st[2] = {4, 3};
    tn_tensor in = {M, 2, sm, NULL}, out = {T, 2, st, NULL};
    CHECK_OK(tn_einsum("ij->ji", 1, &in, TN_FLOAT64, NULL, &out));
    int ok = 1;
    for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) ok &= T[j * 3 + i] == M[i * 4 + j];
    CHECK(ok, "transpose via tn_einsum");

    /* trace into a 0-d output */
    double S[9], tr = 0.0, res = NAN;
    fill_d(S, 9);
    int64_t ss[2] = {3, 3}, dummy[1] = {0};
    tn_tensor sq = {S, 2, ss, NULL}, scalar = {&res, 0, dummy, NULL};
    CHECK_OK(tn_einsum("ii->", 1, &sq, TN_FLOAT64, NULL, &scalar));
    tr = S[0] + S[4] + S[8];
    CHECK(fabs(res - tr) <= 1e-14 * (fabs(S[0]) + fabs(S[4]) + fabs(S[8])), "trace %g != %g", res, tr);

    /* float32 dot product, implicit output */
    float u[7], v[7], dot = NAN;
    fill_f(u, 7); fill_f(v, 7);
    double want = 0.0, mag = 0.0;
    for (int i = 0; i < 7; i++) { want += (double)u[i] * v[i]; mag += fabs((double)u[i] * v[i]); }
    int64_t s7[1] = {7};
    tn_tensor uv[2] = {{u, 1, s7, NULL}, {v, 1, s7, NULL}};
    tn_tensor d0 = {&dot, 0, dummy, NULL};
    CHECK_OK(tn_einsum("i,i", 2, uv, TN_FLOAT32, NULL, &d0));
    CHECK(fabs((double)dot - want) <= 1e-5 * mag, "dot %g != %g", (double)dot, want);

    /* every optimize mode and a memory limit */
    enum { Q = 4 };
    double a[Q * Q], b[Q * Q], c[Q * Q], y[Q * Q], ab[Q * Q], r[Q * Q], m1[Q * Q], m2[Q * Q];
    fill_d(a, Q * Q); fill_d(b, Q * Q); fill_d(c, Q * Q);
    matmul_ref(a, Q, 1, b, Q, 1, Q, Q, Q, ab, m1);
    matmul_ref(ab, Q, 1, c, Q, 1, Q, Q, Q, r, m2);
    for (int i = 0; i < Q * Q; i++) m2[i] = 0.0;
    for (int i = 0; i < Q; i++) for (int j = 0; j < Q; j++) for (int k = 0; k < Q; k++)
        for (int l = 0; l < Q; l++) m2[i * Q + l] += fabs(a[i * Q + j] * b[j * Q + k] * c[k * Q + l]);
    int64_t sq4[2] = {Q, Q};
    tn_tensor abc[3] = {{a, 2, sq4, NULL}, {b, 2, sq4, NULL}, {c, 2, sq4, NULL}};
    tn_tensor yo = {y, 2, sq4, NULL};
    tn_optimize modes[4] = {TN_OPTIMIZE_AUTO, TN_OPTIMIZE_OPTIMAL, TN_OPTIMIZE_GREEDY,
                            TN_OPTIMIZE_NONE};
    int64_t limits[3] = {0, 16, 1};
    for (int mo = 0; mo < 4; mo++)
        for (int li = 0; li < 3; li++) {
            tn_plan_options opt = {modes[mo], limits[li]};
            for (int i = 0; i < Q * Q; i++) y[i] = NAN;
            CHECK_OK(tn_einsum("ij,jk,kl->il", 3, abc, TN_FLOAT64, &opt, &yo));
            double e = rel_err_d(y, r, m2, Q * Q);
            CHECK(e <= 1e-12, "chain optimize=%d memory_limit=%lld error %g", (int)modes[mo],
                  (long long)limits[li], e);
        }
}

static void test_ncon_plan(void) {
    enum { M = 3, K = 4, N = 5 };
    double A[M * K], B[K * N], C[N * M], R[M * N], MAG[M * N];
    fill_d(A, M * K); fill_d(B, K * N);
    matmul_ref(A, K, 1, B, N, 1, M, K, N, R, MAG);
    int64_t sa[2] = {M, K}, sb[2] = {K, N};
    int64_t la[2] = {-2, 1}, lb[2] = {1, -1}; /* output is (-1, -2) = (N, M) */
    const int64_t *shapes[2] = {sa, sb};
    const int64_t *labels[2] = {la, lb};
    int64_t ndims[2] = {2, 2};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create_ncon(2, ndims, shapes, labels, TN_FLOAT64, NULL, &plan));
    if (!plan) return;
    int64_t oshape[2] = {0, 0};
    CHECK_OK(tn_plan_output_shape(plan, oshape, 2));
    CHECK(oshape[0] == N && oshape[1] == M, "ncon output shape (%lld, %lld)", (long long)oshape[0],
          (long long)oshape[1]);
    int64_t so[2] = {N, M};
    tn_tensor ops[2] = {{A, 2, sa, NULL}, {B, 2, sb, NULL}};
    tn_tensor out = {C, 2, so, NULL};
    CHECK_OK(tn_plan_execute(plan, ops, &out));
    double worst = 0.0;
    for (int i = 0; i < M; i++)
        for (int q = 0; q < N; q++) {
            double e = fabs(C[q * M + i] - R[i * N + q]) / (MAG[i * N + q] + 1e-300);
            if (!(e <= worst)) worst = e;
        }
    CHECK(worst <= 1e-12, "ncon matmul error %g", worst);
    CHECK_OK(tn_plan_destroy(plan));
}

static void test_threads(void) {
    int64_t prev = -1, prev2 = -1, prev3 = -1;
    CHECK_OK(tn_set_num_threads(0, &prev));
    CHECK(prev >= 1, "current BLAS threads %lld", (long long)prev);
    CHECK_OK(tn_set_num_threads(1, &prev2));
    CHECK(prev2 == prev, "set(0) changed the thread count (%lld -> %lld)", (long long)prev,
          (long long)prev2);
    CHECK_OK(tn_set_num_threads(prev, &prev3));
    CHECK(prev3 == 1, "thread count after set(1) is %lld", (long long)prev3);
}

/* One plan called repeatedly while the layout changes between calls: the repeated-call fast
   path must notice every change (strides, NULL strides, an output aliasing an input). */
static void test_repeated_calls_with_changing_layouts(void) {
    int64_t sq[] = {3, 3}, nd[] = {2};
    const int64_t *shapes[] = {sq};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create("ij->ji", 1, nd, shapes, TN_FLOAT64, NULL, &plan));
    double a[9], b[9], out[9];
    for (int i = 0; i < 9; i++) { a[i] = i; b[i] = 10 + i; }
    int64_t row[] = {3, 1}, col[] = {1, 3};
    tn_tensor in_a = {a, 2, sq, NULL}, o = {out, 2, sq, NULL};
    CHECK_OK(tn_plan_execute(plan, &in_a, &o));
    CHECK(out[1] == a[3] && out[3] == a[1], "first call transposes");
    tn_tensor in_b = {b, 2, sq, row};   /* explicit strides equal to contiguous */
    CHECK_OK(tn_plan_execute(plan, &in_b, &o));
    CHECK(out[1] == b[3] && out[5] == b[7], "new data pointer is used");
    tn_tensor in_bt = {b, 2, sq, col};  /* same memory read transposed: result is b itself */
    CHECK_OK(tn_plan_execute(plan, &in_bt, &o));
    CHECK(out[1] == b[1] && out[5] == b[5], "changed strides are honoured");
    CHECK_OK(tn_plan_execute(plan, &in_a, &o));
    CHECK(out[1] == a[3], "back to contiguous");
    tn_tensor in_place = {a, 2, sq, NULL}, o_alias = {a, 2, sq, NULL};
    CHECK_OK(tn_plan_execute(plan, &in_place, &o_alias));
    CHECK(a[1] == 3 && a[3] == 1 && a[5] == 7 && a[7] == 5, "output aliasing the input");
    tn_plan_destroy(plan);
}

/* A gradient requested through a reversed view, then not requested at all: the two calls
   must not share a bound backward program. */
static void test_backward_requested_then_not(void) {
    int64_t n[] = {5}, nd[] = {1, 1}, one = 1, minus = -1;
    const int64_t *shapes[] = {n, n};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create("i,i->i", 2, nd, shapes, TN_FLOAT64, NULL, &plan));
    double x[5] = {1, 2, 3, 4, 5}, y[5] = {5, 4, 3, 2, 1}, dy[5] = {1, 1, 1, 1, 1}, gx[5], gy[5];
    tn_tensor ops[] = {{x, 1, n, &one}, {y, 1, n, &one}}, d = {dy, 1, n, NULL};
    tn_tensor grads[] = {{gx + 4, 1, n, &minus}, {gy, 1, n, NULL}};
    CHECK_OK(tn_plan_backward(plan, &d, ops, grads));
    CHECK(gx[4] == y[0] && gx[0] == y[4], "gradient written through a reversed view");
    tn_tensor some[] = {{NULL, 1, n, &minus}, {gy, 1, n, NULL}};
    for (int i = 0; i < 5; i++) { gy[i] = 0; gx[i] = -7; }
    CHECK_OK(tn_plan_backward(plan, &d, ops, some));
    CHECK(gy[0] == x[0] && gy[4] == x[4], "only the requested gradient");
    CHECK(gx[0] == -7 && gx[4] == -7, "the buffer of the earlier call is left alone");
    tn_plan_destroy(plan);
}

/* Gradients that alias each other or an input go through fresh memory: no corruption, and
   each buffer ends up holding one of the right answers. */
static void test_backward_aliasing_gradients(void) {
    int64_t sq[] = {4, 4}, nd[] = {2, 2};
    const int64_t *shapes[] = {sq, sq};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create("ij,jk->ik", 2, nd, shapes, TN_FLOAT64, NULL, &plan));
    double a[16], b[16], dy[16], g[16];
    fill_d(a, 16); fill_d(b, 16); fill_d(dy, 16);
    tn_tensor ops[] = {{a, 2, sq, NULL}, {b, 2, sq, NULL}}, d = {dy, 2, sq, NULL};
    tn_tensor both[] = {{g, 2, sq, NULL}, {g, 2, sq, NULL}};
    for (int rep = 0; rep < 200; rep++) CHECK_OK(tn_plan_backward(plan, &d, ops, both));
    /* dB = A^T dy was written last. */
    double want = 0;
    for (int i = 0; i < 4; i++) want += a[i * 4 + 1] * dy[i * 4 + 2];
    CHECK(fabs(g[1 * 4 + 2] - want) < 1e-12, "shared gradient buffer holds dB (%g vs %g)", g[6], want);
    /* dA written into A itself: A is read while its gradient is computed. */
    tn_tensor into_a[] = {{a, 2, sq, NULL}, {NULL, 2, sq, NULL}};
    CHECK_OK(tn_plan_backward(plan, &d, ops, into_a));
    want = 0;
    for (int k = 0; k < 4; k++) want += dy[0 * 4 + k] * b[1 * 4 + k];
    CHECK(fabs(a[0 * 4 + 1] - want) < 1e-12, "gradient into its own operand (%g vs %g)", a[1], want);
    tn_plan_destroy(plan);
}

int main(void) {
    test_version();
    test_backward_aliasing_gradients();
    test_backward_requested_then_not();
    test_repeated_calls_with_changing_layouts();
    test_matmul_f64();
    test_matmul_f32_strided();
    test_tt_layer(TN_FLOAT32);
    test_tt_layer(TN_FLOAT64);
    test_tt_info();
    test_backward_matmul();
    test_backward_chain();
    test_einsum_small();
    test_ncon_plan();
    test_threads();
    return tn_report("test_abi");
}
