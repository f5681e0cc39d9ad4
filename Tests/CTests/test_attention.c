/* C ABI feed-forward and attention: tn_ff forward (ReLU and GELU, contiguous and strided)
   against a plain C reference with W1 and W2 rebuilt here from the TT cores by the TT-matrix
   definition in tnswift.h; tn_attention forward (plain and softmax cores, cross- and
   self-attention) against the loop definition T[i,j,k] = sum_r gbar[r] Qh[i,r] Kh[j,r] Vh[k,r]
   followed by the output map; gradient entries of both against central differences of those
   references; and the error paths (bad configs, wrong shapes, wrong dtype, NaN in dy, NULL /
   destroyed handles, parameter indices out of range).
   Prints "test_attention: N passed, M failed". */
#include <stdint.h>

#include "tn_check.h"

#define D 3
#define DM 12   /* d_model = 2 * 3 * 2 */
#define DF 24   /* d_ff = 3 * 2 * 4 */
#define ROWS 6  /* x is (2, 3, d_model) */

/* ------------------------------------------------------------------ feed-forward */

typedef struct {
    int act; /* 1 ReLU, 2 GELU */
    int64_t mm[D], hm[D], ranks[D + 1];
    double *c1[D], *b1, *c2[D], *b2;    /* parameters */
    double *g1[D], *gb1, *g2[D], *gb2;  /* gradients */
} ffm;

/* W (prod in x prod out) from TT-matrix cores (r_{k-1}, in_k, out_k, r_k). */
static void tt_dense(double *const *cores, const int64_t *in, const int64_t *out, const int64_t *ranks, double *w) {
    int64_t rows = in[0] * in[1] * in[2], cols = out[0] * out[1] * out[2];
    for (int64_t row = 0; row < rows; row++)
        for (int64_t col = 0; col < cols; col++) {
            int64_t ri[D], ci[D], r = row, c = col;
            for (int k = D - 1; k >= 0; k--) {
                ri[k] = r % in[k];
                r /= in[k];
                ci[k] = c % out[k];
                c /= out[k];
            }
            double v[16] = {1}, next[16];
            for (int k = 0; k < D; k++) {
                for (int64_t b = 0; b < ranks[k + 1]; b++) {
                    next[b] = 0;
                    for (int64_t a = 0; a < ranks[k]; a++)
                        next[b] += v[a] * cores[k][((a * in[k] + ri[k]) * out[k] + ci[k]) * ranks[k + 1] + b];
                }
                memcpy(v, next, sizeof next);
            }
            w[row * cols + col] = v[0];
        }
}

static double act_f(int act, double v) { return act == 1 ? (v > 0 ? v : 0) : 0.5 * v * (1 + erf(v / sqrt(2.0))); }

/* y = act(x W1 + b1) W2 + b2 for ROWS rows; mag receives sum |terms| of the last product. */
static void ff_reference(const ffm *m, const double *x, double *y, double *mag) {
    static double w1[DM * DF], w2[DF * DM];
    tt_dense(m->c1, m->mm, m->hm, m->ranks, w1);
    tt_dense(m->c2, m->hm, m->mm, m->ranks, w2);
    for (int n = 0; n < ROWS; n++) {
        double h[DF];
        for (int f = 0; f < DF; f++) {
            double s = m->b1[f];
            for (int i = 0; i < DM; i++) s += x[n * DM + i] * w1[i * DF + f];
            h[f] = act_f(m->act, s);
        }
        for (int o = 0; o < DM; o++) {
            double s = m->b2[o], a = fabs(m->b2[o]);
            for (int f = 0; f < DF; f++) {
                s += h[f] * w2[f * DM + o];
                a += fabs(h[f] * w2[f * DM + o]);
            }
            y[n * DM + o] = s;
            if (mag) mag[n * DM + o] = a + 1e-12;
        }
    }
}

static double ff_loss(const ffm *m, const double *x, const double *dy) {
    double y[ROWS * DM], s = 0;
    ff_reference(m, x, y, NULL);
    for (int i = 0; i < ROWS * DM; i++) s += y[i] * dy[i];
    return s;
}

static void ff_probe(const char *what, double *v, double g, const ffm *m, const double *x, const double *dy) {
    double keep = *v, e = 1e-6;
    *v = keep + e;
    double up = ff_loss(m, x, dy);
    *v = keep - e;
    double down = ff_loss(m, x, dy);
    *v = keep;
    double fd = (up - down) / (2 * e);
    CHECK(fabs(fd - g) <= 1e-6 * fmax(1, fabs(fd)), "%s: gradient %.10g vs central difference %.10g", what, g, fd);
}

static tn_ff *ff_make(ffm *m, int act, int32_t dtype) {
    const int64_t mm[D] = {2, 3, 2}, hm[D] = {3, 2, 4}, bonds[D - 1] = {2, 3};
    tn_ff_config c = {.dtype = dtype, .activation = act, .n_modes = D, .model_modes = mm, .hidden_modes = hm,
                      .n_ranks = D - 1, .ranks = bonds, .bias = 1, .seed = 7};
    tn_ff *ff = NULL;
    CHECK_OK(tn_ff_create(&c, &ff));
    if (ff == NULL || m == NULL) return ff;
    m->act = act;
    memcpy(m->mm, mm, sizeof mm);
    memcpy(m->hm, hm, sizeof hm);
    m->ranks[0] = m->ranks[D] = 1;
    m->ranks[1] = 2;
    m->ranks[2] = 3;
    tn_ff_info info;
    CHECK_OK(tn_ff_info_get(ff, &info));
    CHECK(info.model_dim == DM && info.hidden_dim == DF && info.n_modes == D && info.n_params == 2 * D + 2
              && info.bias == 1 && info.activation == act && info.dtype == dtype,
          "ff info: d_model %lld d_ff %lld n_params %lld", (long long)info.model_dim, (long long)info.hidden_dim,
          (long long)info.n_params);
    int64_t count = 0;
    tn_layer_param p;
    for (int64_t i = 0; i < info.n_params; i++) {
        CHECK_OK(tn_ff_param_get(ff, i, &p));
        count += p.size;
    }
    CHECK(count == info.parameter_count, "parameter_count %lld, sizes sum to %lld", (long long)info.parameter_count,
          (long long)count);
    CHECK(fabs(info.compression - (2.0 * DM * DF + DM + DF) / (double)count) < 1e-12, "compression %g", info.compression);
    if (dtype != TN_FLOAT64) return ff;
    for (int k = 0; k < D; k++) {
        CHECK_OK(tn_ff_param_get(ff, k, &p));
        m->c1[k] = p.data;
        m->g1[k] = p.grad;
        char want[24];
        snprintf(want, sizeof want, "ff1.core_%d", k);
        CHECK(strcmp(p.name, want) == 0 && p.ndim == 4 && p.shape[1] == mm[k] && p.shape[2] == hm[k],
              "parameter %d: %s", k, p.name);
        CHECK_OK(tn_ff_param_get(ff, D + 1 + k, &p));
        m->c2[k] = p.data;
        m->g2[k] = p.grad;
        snprintf(want, sizeof want, "ff2.core_%d", k);
        CHECK(strcmp(p.name, want) == 0 && p.ndim == 4 && p.shape[1] == hm[k] && p.shape[2] == mm[k],
              "parameter %d: %s", D + 1 + k, p.name);
    }
    CHECK_OK(tn_ff_param_get(ff, D, &p));
    CHECK(strcmp(p.name, "ff1.bias") == 0 && p.ndim == 1 && p.shape[0] == DF, "ff1.bias: %s", p.name);
    m->b1 = p.data;
    m->gb1 = p.grad;
    CHECK_OK(tn_ff_param_get(ff, 2 * D + 1, &p));
    CHECK(strcmp(p.name, "ff2.bias") == 0 && p.ndim == 1 && p.shape[0] == DM, "ff2.bias: %s", p.name);
    m->b2 = p.data;
    m->gb2 = p.grad;
    /* non-zero biases, so that they are tested */
    fill_d(m->b1, DF);
    fill_d(m->b2, DM);
    return ff;
}

static void test_ff(void) {
    const int64_t shape[3] = {2, 3, DM};
    double x[ROWS * DM], y[ROWS * DM], want[ROWS * DM], mag[ROWS * DM];
    fill_d(x, ROWS * DM);
    tn_tensor tx = {x, 3, shape, NULL}, ty = {y, 3, shape, NULL};
    for (int act = 1; act <= 2; act++) {
        ffm m;
        tn_ff *ff = ff_make(&m, act, TN_FLOAT64);
        if (ff == NULL) return;
        CHECK_OK(tn_ff_forward(ff, TN_FLOAT64, &tx, &ty));
        ff_reference(&m, x, want, mag);
        double e = rel_err_d(y, want, mag, ROWS * DM);
        CHECK(e < 1e-12, "ff forward (activation %d): relative error %g", act, e);

        /* strided x and y: every other element of wider buffers, rows reversed */
        static double xs[ROWS * DM * 2], ys[ROWS * DM * 2];
        const int64_t s2[2] = {ROWS, DM}, st[2] = {-2 * DM, 2};
        for (int n = 0; n < ROWS; n++)
            for (int i = 0; i < DM; i++) xs[(ROWS - 1 - n) * 2 * DM + 2 * i] = x[n * DM + i];
        tn_tensor sx = {xs + (ROWS - 1) * 2 * DM, 2, s2, st}, sy = {ys + (ROWS - 1) * 2 * DM, 2, s2, st};
        CHECK_OK(tn_ff_forward(ff, TN_FLOAT64, &sx, &sy));
        double worst = 0;
        for (int n = 0; n < ROWS; n++)
            for (int i = 0; i < DM; i++) worst = fmax(worst, fabs(ys[(ROWS - 1 - n) * 2 * DM + 2 * i] - y[n * DM + i]));
        CHECK(worst < 1e-12, "ff strided forward differs by %g", worst);

        if (act == 2) {
            /* gradients (GELU: smooth) */
            double dy[ROWS * DM], dx[ROWS * DM];
            fill_d(dy, ROWS * DM);
            tn_tensor tdy = {dy, 3, shape, NULL}, tdx = {dx, 3, shape, NULL};
            CHECK_OK(tn_ff_backward(ff, TN_FLOAT64, &tdy, &tx, &tdx));
            ff_probe("ff1.core_1[5]", &m.c1[1][5], m.g1[1][5], &m, x, dy);
            ff_probe("ff1.bias[3]", &m.b1[3], m.gb1[3], &m, x, dy);
            ff_probe("ff2.core_2[7]", &m.c2[2][7], m.g2[2][7], &m, x, dy);
            ff_probe("ff2.bias[4]", &m.b2[4], m.gb2[4], &m, x, dy);
            ff_probe("dx[17]", &x[17], dx[17], &m, x, dy);
            ff_probe("dx[40]", &x[40], dx[40], &m, x, dy);
            /* dx NULL: the parameter gradients alone */
            double keep = m.g2[0][1];
            m.g2[0][1] = 1e300;
            CHECK_OK(tn_ff_backward(ff, TN_FLOAT64, &tdy, &tx, NULL));
            CHECK(fabs(m.g2[0][1] - keep) < 1e-12, "backward without dx: %g vs %g", m.g2[0][1], keep);

            /* errors */
            int64_t bad[3] = {2, 3, DM - 1}, other[3] = {2, 2, DM};
            tn_tensor tbad = {x, 3, bad, NULL}, tother = {y, 3, other, NULL};
            CHECK_STATUS(TN_ERR_SHAPE, tn_ff_forward(ff, TN_FLOAT64, &tbad, &tbad));
            CHECK_STATUS(TN_ERR_SHAPE, tn_ff_forward(ff, TN_FLOAT64, &tx, &tother));
            CHECK_STATUS(TN_ERR_SHAPE, tn_ff_backward(ff, TN_FLOAT64, &tother, &tx, NULL));
            CHECK_STATUS(TN_ERR_SHAPE, tn_ff_backward(ff, TN_FLOAT64, &tdy, &tx, &tother));
            CHECK_STATUS(TN_ERR_DTYPE, tn_ff_forward(ff, TN_FLOAT32, &tx, &ty));
            CHECK_STATUS(TN_ERR_DTYPE, tn_ff_forward(ff, 7, &tx, &ty));
            CHECK_STATUS(TN_ERR_VALUE, tn_ff_forward(ff, TN_FLOAT64, NULL, &ty));
            dy[3] = NAN;
            CHECK_STATUS(TN_ERR_VALUE, tn_ff_backward(ff, TN_FLOAT64, &tdy, &tx, &tdx));
            tn_layer_param p;
            CHECK_STATUS(TN_ERR_VALUE, tn_ff_param_get(ff, 2 * D + 2, &p));
            CHECK_STATUS(TN_ERR_VALUE, tn_ff_param_get(ff, -1, &p));
            CHECK_STATUS(TN_ERR_VALUE, tn_ff_info_get(ff, NULL));
        }
        CHECK_OK(tn_ff_destroy(ff));
        if (act == 2) {
            tn_ff_info info;
            CHECK_STATUS(TN_ERR_HANDLE, tn_ff_forward(ff, TN_FLOAT64, &tx, &ty));
            CHECK_STATUS(TN_ERR_HANDLE, tn_ff_info_get(ff, &info));
            CHECK_STATUS(TN_ERR_HANDLE, tn_ff_destroy(ff));
        }
    }

    /* float32 against the float64 reference of its own parameters */
    {
        tn_ff *ff = ff_make(NULL, 1, TN_FLOAT32);
        float xf[ROWS * DM], yf[ROWS * DM];
        for (int i = 0; i < ROWS * DM; i++) xf[i] = (float)x[i];
        tn_tensor fx = {xf, 3, shape, NULL}, fy = {yf, 3, shape, NULL};
        CHECK_OK(tn_ff_forward(ff, TN_FLOAT32, &fx, &fy));
        CHECK_STATUS(TN_ERR_DTYPE, tn_ff_forward(ff, TN_FLOAT64, &tx, &ty));
        ffm m = {.act = 1, .mm = {2, 3, 2}, .hm = {3, 2, 4}, .ranks = {1, 2, 3, 1}};
        static double store[4096];
        double *next = store;
        tn_layer_param p;
        for (int i = 0; i < 2 * D + 2; i++) {
            CHECK_OK(tn_ff_param_get(ff, i, &p));
            for (int64_t j = 0; j < p.size; j++) next[j] = ((const float *)p.data)[j];
            if (i < D) m.c1[i] = next;
            else if (i == D) m.b1 = next;
            else if (i < 2 * D + 1) m.c2[i - D - 1] = next;
            else m.b2 = next;
            next += p.size;
        }
        double xd[ROWS * DM], yd[ROWS * DM], magd[ROWS * DM];
        for (int i = 0; i < ROWS * DM; i++) xd[i] = xf[i];
        ff_reference(&m, xd, want, magd);
        for (int i = 0; i < ROWS * DM; i++) yd[i] = yf[i];
        double e = rel_err_d(yd, want, magd, ROWS * DM);
        CHECK(e < 1e-5, "float32 ff forward: relative error %g", e);
        CHECK_OK(tn_ff_destroy(ff));
    }

    /* bad configs */
    const int64_t mm[D] = {2, 3, 2}, hm[D] = {3, 2, 4}, bonds[D - 1] = {2, 3}, zero[D - 1] = {0, 2}, hm2[D] = {3, 0, 4};
    tn_ff_config c = {.dtype = TN_FLOAT64, .activation = TN_ACT_RELU, .n_modes = D, .model_modes = mm,
                      .hidden_modes = hm, .n_ranks = D - 1, .ranks = bonds, .bias = 0, .seed = 1};
    tn_ff *ff = (tn_ff *)&c;
    tn_ff_config b = c;
    b.n_ranks = 5;
    CHECK_STATUS(TN_ERR_SHAPE, tn_ff_create(&b, &ff));
    CHECK(ff == NULL, "a failed create sets *ff to NULL");
    b = c;
    b.ranks = zero;
    CHECK_STATUS(TN_ERR_VALUE, tn_ff_create(&b, &ff));
    b = c;
    b.activation = 9;
    CHECK_STATUS(TN_ERR_VALUE, tn_ff_create(&b, &ff));
    b = c;
    b.dtype = 5;
    CHECK_STATUS(TN_ERR_DTYPE, tn_ff_create(&b, &ff));
    b = c;
    b.n_modes = 0;
    CHECK_STATUS(TN_ERR_VALUE, tn_ff_create(&b, &ff));
    b = c;
    b.hidden_modes = hm2;
    CHECK(tn_ff_create(&b, &ff) != TN_OK && ff == NULL, "a zero hidden mode is refused");
    b = c;
    b.model_modes = NULL;
    CHECK_STATUS(TN_ERR_VALUE, tn_ff_create(&b, &ff));
    CHECK_STATUS(TN_ERR_VALUE, tn_ff_create(NULL, &ff));
    CHECK_STATUS(TN_ERR_VALUE, tn_ff_create(&c, NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_ff_destroy(NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_ff_forward(NULL, TN_FLOAT64, &tx, &ty));
    /* one rank for every bond, no bias */
    const int64_t one = 2;
    b = c;
    b.n_ranks = 1;
    b.ranks = &one;
    CHECK_OK(tn_ff_create(&b, &ff));
    tn_ff_info info;
    CHECK_OK(tn_ff_info_get(ff, &info));
    CHECK(info.n_params == 2 * D && info.bias == 0, "no-bias ff has %lld parameters", (long long)info.n_params);
    CHECK_OK(tn_ff_destroy(ff));
}

/* ------------------------------------------------------------------ attention */

#define AD 5  /* d_model */
#define AN 4  /* key length N */
#define AH 3  /* blocks */
#define AR 2  /* rank */
#define AB 2  /* batch */
#define AQ 3  /* query length n */

typedef struct {
    int softmax;
    double *w[4], *b[4], *cores;   /* query, key, value, output; b NULL without bias */
    double *gw[4], *gb[4], *gcores;
} attm;

/* y (AB, n, AD) for q (AB, n, AD), k, v (AB, AN, AD) by the loop definition. */
static void att_reference(const attm *m, int n, const double *q, const double *k, const double *v, double *y) {
    double g[AH * AR], gbar[AR] = {0};
    for (int h = 0; h < AH; h++) {
        double top = -1e300, sum = 0;
        for (int r = 0; r < AR; r++) top = fmax(top, m->cores[h * AR + r]);
        for (int r = 0; r < AR; r++) {
            g[h * AR + r] = m->softmax ? exp(m->cores[h * AR + r] - top) : m->cores[h * AR + r];
            sum += g[h * AR + r];
        }
        for (int r = 0; r < AR; r++) gbar[r] += (m->softmax ? g[h * AR + r] / sum : g[h * AR + r]) / AH;
    }
    for (int s = 0; s < AB; s++) {
        double qh[16][AR], kh[AN][AR], vh[AN][AR];
        const double *src[3] = {q + s * n * AD, k + s * AN * AD, v + s * AN * AD};
        double(*dst[3])[AR] = {qh, kh, vh};
        int len[3] = {n, AN, AN};
        for (int p = 0; p < 3; p++)
            for (int i = 0; i < len[p]; i++)
                for (int r = 0; r < AR; r++) {
                    double acc = m->b[p] ? m->b[p][r] : 0;
                    for (int j = 0; j < AD; j++) acc += src[p][i * AD + j] * m->w[p][j * AR + r];
                    dst[p][i][r] = acc;
                }
        for (int i = 0; i < n; i++) {
            double t[AN * AN];
            for (int j = 0; j < AN; j++)
                for (int kk = 0; kk < AN; kk++) {
                    double acc = 0;
                    for (int r = 0; r < AR; r++) acc += gbar[r] * qh[i][r] * kh[j][r] * vh[kk][r];
                    t[j * AN + kk] = acc;
                }
            for (int o = 0; o < AD; o++) {
                double acc = m->b[3] ? m->b[3][o] : 0;
                for (int jk = 0; jk < AN * AN; jk++) acc += t[jk] * m->w[3][jk * AD + o];
                y[(s * n + i) * AD + o] = acc;
            }
        }
    }
}

static double att_loss(const attm *m, const double *q, const double *k, const double *v, const double *dy) {
    double y[AB * AQ * AD], s = 0;
    att_reference(m, AQ, q, k, v, y);
    for (int i = 0; i < AB * AQ * AD; i++) s += y[i] * dy[i];
    return s;
}

static void att_probe(const char *what, double *p, double g, const attm *m, const double *q, const double *k,
                      const double *v, const double *dy) {
    double keep = *p, e = 1e-6;
    *p = keep + e;
    double up = att_loss(m, q, k, v, dy);
    *p = keep - e;
    double down = att_loss(m, q, k, v, dy);
    *p = keep;
    double fd = (up - down) / (2 * e);
    CHECK(fabs(fd - g) <= 1e-6 * fmax(1, fabs(fd)), "%s: gradient %.10g vs central difference %.10g", what, g, fd);
}

static tn_attention *att_make(attm *m, int softmax) {
    tn_attention_config c = {.dtype = TN_FLOAT64, .bias = 1, .softmax_cores = softmax, .model_dim = AD,
                             .key_length = AN, .blocks = AH, .rank = AR, .seed = 3};
    tn_attention *a = NULL;
    CHECK_OK(tn_attention_create(&c, &a));
    if (a == NULL) return NULL;
    tn_attention_info info;
    CHECK_OK(tn_attention_info_get(a, &info));
    CHECK(info.n_params == 9 && info.model_dim == AD && info.key_length == AN && info.blocks == AH && info.rank == AR
              && info.bias == 1 && info.softmax_cores == softmax && info.dtype == TN_FLOAT64,
          "attention info: %lld parameters", (long long)info.n_params);
    static const char *names[9] = {"query.weight", "query.bias", "key.weight", "key.bias", "value.weight",
                                   "value.bias", "cores", "output.weight", "output.bias"};
    static const int64_t sizes[9] = {AD * AR, AR, AD * AR, AR, AD * AR, AR, AH * AR, AN * AN * AD, AD};
    int64_t total = 0;
    tn_layer_param p[9];
    for (int i = 0; i < 9; i++) {
        CHECK_OK(tn_attention_param_get(a, i, &p[i]));
        CHECK(strcmp(p[i].name, names[i]) == 0 && p[i].size == sizes[i], "parameter %d: %s (%lld)", i, p[i].name,
              (long long)p[i].size);
        total += p[i].size;
    }
    CHECK(total == info.parameter_count, "parameter_count %lld vs %lld", (long long)info.parameter_count, (long long)total);
    CHECK(p[7].ndim == 2 && p[7].shape[0] == AN * AN && p[7].shape[1] == AD, "output.weight is (N^2, d_model)");
    m->softmax = softmax;
    for (int t = 0; t < 3; t++) {
        m->w[t] = p[2 * t].data;
        m->gw[t] = p[2 * t].grad;
        m->b[t] = p[2 * t + 1].data;
        m->gb[t] = p[2 * t + 1].grad;
        fill_d(m->b[t], AR);
    }
    m->cores = p[6].data;
    m->gcores = p[6].grad;
    m->w[3] = p[7].data;
    m->gw[3] = p[7].grad;
    m->b[3] = p[8].data;
    m->gb[3] = p[8].grad;
    fill_d(m->b[3], AD);
    return a;
}

static void test_attention(void) {
    const int64_t qs[3] = {AB, AQ, AD}, ks[3] = {AB, AN, AD};
    double q[AB * AQ * AD], k[AB * AN * AD], v[AB * AN * AD], y[AB * AQ * AD], want[AB * AQ * AD];
    fill_d(q, AB * AQ * AD);
    fill_d(k, AB * AN * AD);
    fill_d(v, AB * AN * AD);
    tn_tensor tq = {q, 3, qs, NULL}, tk = {k, 3, ks, NULL}, tv = {v, 3, ks, NULL}, ty = {y, 3, qs, NULL};
    for (int softmax = 0; softmax <= 1; softmax++) {
        attm m;
        tn_attention *a = att_make(&m, softmax);
        if (a == NULL) return;
        CHECK_OK(tn_attention_forward(a, TN_FLOAT64, &tq, &tk, &tv, &ty));
        att_reference(&m, AQ, q, k, v, want);
        double worst = 0, scale = 0;
        for (int i = 0; i < AB * AQ * AD; i++) {
            worst = fmax(worst, fabs(y[i] - want[i]));
            scale = fmax(scale, fabs(want[i]));
        }
        CHECK(worst <= 1e-12 * fmax(1, scale), "attention forward (softmax %d) differs by %g", softmax, worst);

        /* self-attention: one array as q, k and v (n = N) */
        double x[AB * AN * AD], ys[AB * AN * AD], wants[AB * AN * AD];
        fill_d(x, AB * AN * AD);
        tn_tensor tx = {x, 3, ks, NULL}, tys = {ys, 3, ks, NULL};
        CHECK_OK(tn_attention_forward(a, TN_FLOAT64, &tx, &tx, &tx, &tys));
        att_reference(&m, AN, x, x, x, wants);
        worst = 0;
        for (int i = 0; i < AB * AN * AD; i++) worst = fmax(worst, fabs(ys[i] - wants[i]));
        CHECK(worst < 1e-12, "self-attention forward differs by %g", worst);

        /* gradients */
        double dy[AB * AQ * AD], dq[AB * AQ * AD], dk[AB * AN * AD], dv[AB * AN * AD];
        fill_d(dy, AB * AQ * AD);
        tn_tensor tdy = {dy, 3, qs, NULL}, tdq = {dq, 3, qs, NULL}, tdk = {dk, 3, ks, NULL}, tdv = {dv, 3, ks, NULL};
        CHECK_OK(tn_attention_backward(a, TN_FLOAT64, &tdy, &tq, &tk, &tv, &tdq, &tdk, &tdv));
        att_probe("cores[4]", &m.cores[4], m.gcores[4], &m, q, k, v, dy);
        att_probe("cores[1]", &m.cores[1], m.gcores[1], &m, q, k, v, dy);
        att_probe("output.weight[37]", &m.w[3][37], m.gw[3][37], &m, q, k, v, dy);
        att_probe("output.bias[2]", &m.b[3][2], m.gb[3][2], &m, q, k, v, dy);
        att_probe("key.weight[3]", &m.w[1][3], m.gw[1][3], &m, q, k, v, dy);
        att_probe("value.bias[1]", &m.b[2][1], m.gb[2][1], &m, q, k, v, dy);
        att_probe("query.weight[6]", &m.w[0][6], m.gw[0][6], &m, q, k, v, dy);
        att_probe("dq[11]", &q[11], dq[11], &m, q, k, v, dy);
        att_probe("dk[23]", &k[23], dk[23], &m, q, k, v, dy);
        att_probe("dv[31]", &v[31], dv[31], &m, q, k, v, dy);
        /* NULL input gradients */
        CHECK_OK(tn_attention_backward(a, TN_FLOAT64, &tdy, &tq, &tk, &tv, NULL, &tdk, NULL));

        if (softmax == 0) {
            int64_t badk[3] = {AB, AN + 1, AD}, badq[3] = {AB, AQ, AD + 1}, badb[3] = {AB + 1, AN, AD};
            tn_tensor tbk = {k, 3, badk, NULL}, tbq = {q, 3, badq, NULL}, tbb = {k, 3, badb, NULL};
            CHECK_STATUS(TN_ERR_SHAPE, tn_attention_forward(a, TN_FLOAT64, &tq, &tbk, &tv, &ty));
            CHECK_STATUS(TN_ERR_SHAPE, tn_attention_forward(a, TN_FLOAT64, &tbq, &tk, &tv, &ty));
            CHECK_STATUS(TN_ERR_SHAPE, tn_attention_forward(a, TN_FLOAT64, &tq, &tk, &tbb, &ty));
            CHECK_STATUS(TN_ERR_SHAPE, tn_attention_forward(a, TN_FLOAT64, &tq, &tk, &tv, &tk));
            CHECK_STATUS(TN_ERR_SHAPE, tn_attention_backward(a, TN_FLOAT64, &tk, &tq, &tk, &tv, NULL, NULL, NULL));
            CHECK_STATUS(TN_ERR_SHAPE, tn_attention_backward(a, TN_FLOAT64, &tdy, &tq, &tk, &tv, &tdk, NULL, NULL));
            CHECK_STATUS(TN_ERR_DTYPE, tn_attention_forward(a, TN_FLOAT32, &tq, &tk, &tv, &ty));
            CHECK_STATUS(TN_ERR_VALUE, tn_attention_forward(a, TN_FLOAT64, &tq, NULL, &tv, &ty));
            dy[5] = INFINITY;
            CHECK_STATUS(TN_ERR_VALUE, tn_attention_backward(a, TN_FLOAT64, &tdy, &tq, &tk, &tv, NULL, NULL, NULL));
            dy[5] = NAN;
            CHECK_STATUS(TN_ERR_VALUE, tn_attention_backward(a, TN_FLOAT64, &tdy, &tq, &tk, &tv, &tdq, NULL, NULL));
            tn_layer_param p;
            CHECK_STATUS(TN_ERR_VALUE, tn_attention_param_get(a, 9, &p));
            CHECK_STATUS(TN_ERR_VALUE, tn_attention_param_get(a, 0, NULL));
        }
        CHECK_OK(tn_attention_destroy(a));
        if (softmax == 1) {
            tn_attention_info info;
            CHECK_STATUS(TN_ERR_HANDLE, tn_attention_forward(a, TN_FLOAT64, &tq, &tk, &tv, &ty));
            CHECK_STATUS(TN_ERR_HANDLE, tn_attention_backward(a, TN_FLOAT64, &ty, &tq, &tk, &tv, NULL, NULL, NULL));
            CHECK_STATUS(TN_ERR_HANDLE, tn_attention_info_get(a, &info));
            CHECK_STATUS(TN_ERR_HANDLE, tn_attention_destroy(a));
        }
    }
    /* float32 and no bias */
    tn_attention_config c = {.dtype = TN_FLOAT32, .bias = 0, .softmax_cores = 0, .model_dim = AD, .key_length = AN,
                             .blocks = AH, .rank = AR, .seed = 3};
    tn_attention *a = NULL;
    CHECK_OK(tn_attention_create(&c, &a));
    tn_attention_info info;
    CHECK_OK(tn_attention_info_get(a, &info));
    CHECK(info.n_params == 5 && info.bias == 0 && info.dtype == TN_FLOAT32, "no-bias float32 attention: %lld parameters",
          (long long)info.n_params);
    float qf[AB * AQ * AD], kf[AB * AN * AD], yf[AB * AQ * AD];
    for (int i = 0; i < AB * AQ * AD; i++) qf[i] = (float)q[i];
    for (int i = 0; i < AB * AN * AD; i++) kf[i] = (float)k[i];
    tn_tensor fq = {qf, 3, qs, NULL}, fk = {kf, 3, ks, NULL}, fy = {yf, 3, qs, NULL};
    CHECK_OK(tn_attention_forward(a, TN_FLOAT32, &fq, &fk, &fk, &fy));
    CHECK_STATUS(TN_ERR_DTYPE, tn_attention_forward(a, TN_FLOAT64, &tq, &tk, &tv, &ty));
    CHECK_OK(tn_attention_destroy(a));
    /* bad configs */
    tn_attention_config b = c;
    a = (tn_attention *)&b;
    b.blocks = 0;
    CHECK_STATUS(TN_ERR_VALUE, tn_attention_create(&b, &a));
    CHECK(a == NULL, "a failed create sets *attention to NULL");
    b = c;
    b.rank = -1;
    CHECK_STATUS(TN_ERR_VALUE, tn_attention_create(&b, &a));
    b = c;
    b.key_length = 0;
    CHECK_STATUS(TN_ERR_VALUE, tn_attention_create(&b, &a));
    b = c;
    b.dtype = 2;
    CHECK_STATUS(TN_ERR_DTYPE, tn_attention_create(&b, &a));
    b = c;
    b.key_length = 1 << 30;
    b.model_dim = 1 << 30;
    CHECK_STATUS(TN_ERR_MEMORY, tn_attention_create(&b, &a));
    CHECK_STATUS(TN_ERR_VALUE, tn_attention_create(NULL, &a));
    CHECK_STATUS(TN_ERR_VALUE, tn_attention_create(&c, NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_attention_destroy(NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_attention_forward(NULL, TN_FLOAT64, &tq, &tk, &tv, &ty));
    CHECK_STATUS(TN_ERR_HANDLE, tn_attention_info_get(NULL, &info));
}

int main(void) {
    test_ff();
    test_attention();
    return tn_report("test_attention");
}
