/* C ABI layers: TT, CP, TCL and TT_TENSOR layers (double) against a plain dense computation
   built here from their parameters (forward, dx, every parameter gradient, bias), the EINSUM
   kind, from_dense, plan reports, model files with the new kinds, and the error paths. Prints "test_layers: N passed, M failed". */
#include <stdint.h>

#include "tn_check.h"

#define MAXP 16

/* ------------------------------------------------------------------ helpers */

static int64_t prod(const int64_t *s, int64_t n) {
    int64_t p = 1;
    for (int64_t i = 0; i < n; i++) p *= s[i];
    return p;
}

/* max |got - want| / max |want|: the error relative to the result's scale. */
static double scaled_err(const double *got, const double *want, int64_t n) {
    double worst = 0.0, scale = 1e-300;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / scale;
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* The structure of a TT, CP, TCL or TT_TENSOR layer, enough to rebuild W from its parameter
   arrays. */
typedef struct {
    tn_layer_kind kind;
    int64_t d_in, d_out;
    int64_t in_modes[6], out_modes[6];
    int64_t ranks[14]; /* TT: d + 1 ranks (ends 1); CP: ranks[0]; TCL: none (the out modes);
                          TT_TENSOR: d_in + d_out + 1 ranks (ends 1) */
} layer_spec;

/* Mixed-radix digits of `index` over `modes` (C order). */
static void digits(int64_t index, const int64_t *modes, int64_t d, int64_t *out) {
    for (int64_t k = d - 1; k >= 0; k--) {
        out[k] = index % modes[k];
        index /= modes[k];
    }
}

/* W (in_features x out_features) from the parameter arrays p[] (TT cores, CP weights then
   factors, TCL factors or TT_TENSOR cores), by the definitions in tnswift.h, element by
   element. */
static void dense_weight(const layer_spec *s, double *const *p, double *w) {
    int64_t nin = prod(s->in_modes, s->d_in), nout = prod(s->out_modes, s->d_out);
    int64_t ii[6], oo[6];
    for (int64_t I = 0; I < nin; I++) {
        digits(I, s->in_modes, s->d_in, ii);
        for (int64_t O = 0; O < nout; O++) {
            digits(O, s->out_modes, s->d_out, oo);
            double value = 0.0;
            if (s->kind == TN_LAYER_TT) {
                /* row vector v (1 x r_k) times core_k[:, i_k, o_k, :] */
                double v[16] = {1.0}, next[16];
                for (int64_t k = 0; k < s->d_in; k++) {
                    int64_t ra = s->ranks[k], rb = s->ranks[k + 1];
                    for (int64_t b = 0; b < rb; b++) {
                        double acc = 0.0;
                        for (int64_t a = 0; a < ra; a++)
                            acc += v[a] * p[k][((a * s->in_modes[k] + ii[k]) * s->out_modes[k] + oo[k]) * rb + b];
                        next[b] = acc;
                    }
                    memcpy(v, next, (size_t)rb * sizeof(double));
                }
                value = v[0];
            } else if (s->kind == TN_LAYER_TCL) {
                /* prod_k factor_k[o_k, i_k], factor_k (out_k, in_k) */
                value = 1.0;
                for (int64_t k = 0; k < s->d_in; k++) value *= p[k][oo[k] * s->in_modes[k] + ii[k]];
            } else if (s->kind == TN_LAYER_TT_TENSOR) {
                /* row vector v times core_k[:, m_k, :] over the input modes, then the output modes */
                double v[16] = {1.0}, next[16];
                for (int64_t k = 0; k < s->d_in + s->d_out; k++) {
                    int64_t ra = s->ranks[k], rb = s->ranks[k + 1];
                    int64_t m = k < s->d_in ? s->in_modes[k] : s->out_modes[k - s->d_in];
                    int64_t at = k < s->d_in ? ii[k] : oo[k - s->d_in];
                    for (int64_t b = 0; b < rb; b++) {
                        double acc = 0.0;
                        for (int64_t a = 0; a < ra; a++) acc += v[a] * p[k][(a * m + at) * rb + b];
                        next[b] = acc;
                    }
                    memcpy(v, next, (size_t)rb * sizeof(double));
                }
                value = v[0];
            } else {
                int64_t r = s->ranks[0];
                for (int64_t c = 0; c < r; c++) {
                    double t = p[0][c];
                    for (int64_t k = 0; k < s->d_in; k++) t *= p[1 + k][ii[k] * r + c];
                    for (int64_t k = 0; k < s->d_out; k++) t *= p[1 + s->d_in + k][oo[k] * r + c];
                    value += t;
                }
            }
            w[I * nout + O] = value;
        }
    }
}

static tn_layer *create(const layer_spec *s, int bias) {
    tn_layer_config c;
    memset(&c, 0, sizeof c);
    c.kind = s->kind;
    c.dtype = TN_FLOAT64;
    c.n_in_modes = s->d_in;
    c.in_modes = s->in_modes;
    c.n_out_modes = s->d_out;
    c.out_modes = s->out_modes;
    if (s->kind == TN_LAYER_TT) {
        c.n_ranks = s->d_in - 1;
        c.ranks = s->ranks + 1;
    } else if (s->kind == TN_LAYER_TCL) {
        c.n_ranks = s->d_out; /* the output modes, also given as out_modes */
        c.ranks = s->out_modes;
    } else if (s->kind == TN_LAYER_TT_TENSOR) {
        c.n_ranks = s->d_in + s->d_out - 1;
        c.ranks = s->ranks + 1;
    } else {
        c.n_ranks = 1;
        c.ranks = s->ranks;
    }
    c.bias = bias;
    c.seed = 7;
    tn_layer *l = NULL;
    CHECK_OK(tn_layer_create(&c, &l));
    return l;
}

/* Forward, dx and every gradient of a layer against the dense computation. */
static void check_layer_against_dense(const layer_spec *s, const char *name) {
    tn_layer *l = create(s, 1);
    if (l == NULL) return;
    tn_layer_info info;
    CHECK_OK(tn_layer_info_get(l, &info));
    int64_t nin = prod(s->in_modes, s->d_in), nout = prod(s->out_modes, s->d_out);
    CHECK(info.in_features == nin && info.out_features == nout, "%s: features %lld x %lld", name,
          (long long)info.in_features, (long long)info.out_features);
    CHECK(info.has_bias == 1 && info.dtype == TN_FLOAT64 && info.kind == (int32_t)s->kind, "%s: info", name);
    int64_t nparams = info.n_params;
    CHECK(nparams >= 2 && nparams <= MAXP, "%s: n_params %lld", name, (long long)nparams);
    if (nparams < 2 || nparams > MAXP) { tn_layer_destroy(l); return; }

    /* Fresh random values written straight into the layer's storage. */
    tn_layer_param prm[MAXP];
    double *p[MAXP];
    int64_t total = 0;
    for (int64_t i = 0; i < nparams; i++) {
        CHECK_OK(tn_layer_param_get(l, i, &prm[i]));
        p[i] = prm[i].data;
        CHECK(prm[i].size == prod(prm[i].shape, prm[i].ndim), "%s: param %lld size", name, (long long)i);
        fill_d(p[i], (size_t)prm[i].size);
        total += prm[i].size;
    }
    CHECK(strcmp(prm[nparams - 1].name, "bias") == 0, "%s: last parameter is %s", name, prm[nparams - 1].name);
    CHECK(total == info.parameter_count, "%s: parameter_count %lld != %lld", name,
          (long long)info.parameter_count, (long long)total);
    const double *bias = p[nparams - 1];

    double w[4096], wt[4096];
    dense_weight(s, p, w);
    int64_t wshape[2] = {nin, nout};
    tn_tensor wt_t = {wt, 2, wshape, NULL};
    CHECK_OK(tn_layer_dense_weight(l, TN_FLOAT64, &wt_t));
    CHECK(scaled_err(wt, w, nin * nout) < 1e-13, "%s: dense weight err %g", name, scaled_err(wt, w, nin * nout));

    enum { B = 5 };
    double x[B * 64], y[B * 64], yref[B * 64], dy[B * 64], dx[B * 64], dxref[B * 64];
    fill_d(x, (size_t)(B * nin));
    fill_d(dy, (size_t)(B * nout));
    for (int64_t n = 0; n < B; n++)
        for (int64_t o = 0; o < nout; o++) {
            double acc = bias[o];
            for (int64_t i = 0; i < nin; i++) acc += x[n * nin + i] * w[i * nout + o];
            yref[n * nout + o] = acc;
        }
    int64_t xs[2] = {B, nin}, ys[2] = {B, nout};
    tn_tensor xt = {x, 2, xs, NULL}, yt = {y, 2, ys, NULL};
    CHECK_OK(tn_layer_forward(l, TN_FLOAT64, &xt, &yt));
    CHECK(scaled_err(y, yref, B * nout) < 1e-12, "%s: forward err %g", name, scaled_err(y, yref, B * nout));

    /* The same input as (batch, modes...) and stored transposed (strides {1, B}). */
    int64_t xm[7] = {B}, ym[7] = {B};
    memcpy(xm + 1, s->in_modes, (size_t)s->d_in * sizeof(int64_t));
    memcpy(ym + 1, s->out_modes, (size_t)s->d_out * sizeof(int64_t));
    tn_tensor xmt = {x, 1 + s->d_in, xm, NULL}, ymt = {y, 1 + s->d_out, ym, NULL};
    memset(y, 0, sizeof y);
    CHECK_OK(tn_layer_forward(l, TN_FLOAT64, &xmt, &ymt));
    CHECK(scaled_err(y, yref, B * nout) < 1e-12, "%s: forward (modes) err %g", name, scaled_err(y, yref, B * nout));
    double xT[B * 64];
    for (int64_t n = 0; n < B; n++)
        for (int64_t i = 0; i < nin; i++) xT[i * B + n] = x[n * nin + i];
    int64_t tstr[2] = {1, B};
    tn_tensor xTt = {xT, 2, xs, tstr};
    memset(y, 0, sizeof y);
    CHECK_OK(tn_layer_forward(l, TN_FLOAT64, &xTt, &yt));
    CHECK(scaled_err(y, yref, B * nout) < 1e-12, "%s: forward (strided) err %g", name, scaled_err(y, yref, B * nout));

    /* Backward: dx = dy W^T, dbias = sum_n dy, and for each parameter (W is linear in it)
       grad[e] = <x^T dy, W(parameter := unit vector e)>. */
    tn_tensor dyt = {dy, 2, ys, NULL}, dxt = {dx, 2, xs, NULL};
    CHECK_OK(tn_layer_backward(l, TN_FLOAT64, &dyt, &xt, &dxt));
    for (int64_t n = 0; n < B; n++)
        for (int64_t i = 0; i < nin; i++) {
            double acc = 0.0;
            for (int64_t o = 0; o < nout; o++) acc += dy[n * nout + o] * w[i * nout + o];
            dxref[n * nin + i] = acc;
        }
    CHECK(scaled_err(dx, dxref, B * nin) < 1e-12, "%s: dx err %g", name, scaled_err(dx, dxref, B * nin));
    double g[4096];
    for (int64_t i = 0; i < nin; i++)
        for (int64_t o = 0; o < nout; o++) {
            double acc = 0.0;
            for (int64_t n = 0; n < B; n++) acc += x[n * nin + i] * dy[n * nout + o];
            g[i * nout + o] = acc;
        }
    double dbias[64];
    for (int64_t o = 0; o < nout; o++) {
        dbias[o] = 0.0;
        for (int64_t n = 0; n < B; n++) dbias[o] += dy[n * nout + o];
    }
    CHECK(scaled_err(prm[nparams - 1].grad, dbias, nout) < 1e-13, "%s: bias grad", name);
    for (int64_t k = 0; k + 1 < nparams; k++) {
        int64_t size = prm[k].size;
        double *saved = malloc((size_t)size * sizeof(double)), *ref = malloc((size_t)size * sizeof(double));
        double *unit = calloc((size_t)size, sizeof(double));
        memcpy(saved, p[k], (size_t)size * sizeof(double));
        double *q[MAXP];
        memcpy(q, p, sizeof q);
        q[k] = unit;
        for (int64_t e = 0; e < size; e++) {
            unit[e] = 1.0;
            dense_weight(s, q, wt);
            unit[e] = 0.0;
            double acc = 0.0;
            for (int64_t j = 0; j < nin * nout; j++) acc += g[j] * wt[j];
            ref[e] = acc;
        }
        double err = scaled_err(prm[k].grad, ref, size);
        CHECK(err < 1e-12, "%s: gradient of %s err %g", name, prm[k].name, err);
        free(saved);
        free(ref);
        free(unit);
    }

    /* Writing a parameter in place changes the output. */
    p[0][0] += 1.0;
    double y2[B * 64];
    tn_tensor y2t = {y2, 2, ys, NULL};
    CHECK_OK(tn_layer_forward(l, TN_FLOAT64, &xt, &y2t));
    CHECK(scaled_err(y2, yref, B * nout) > 1e-6, "%s: writing a parameter did not change y", name);

    /* Batch 0 is a valid (empty) call. */
    int64_t x0s[2] = {0, nin}, y0s[2] = {0, nout};
    tn_tensor x0 = {NULL, 2, x0s, NULL}, y0 = {NULL, 2, y0s, NULL};
    CHECK_OK(tn_layer_forward(l, TN_FLOAT64, &x0, &y0));

    /* Plan report: size query, then the text and the numbers. */
    size_t needed = 0;
    tn_layer_report rep;
    CHECK_OK(tn_layer_plan_report(l, 32, &rep, NULL, 0, &needed));
    CHECK(needed > 10, "%s: report needs %zu", name, needed);
    char *text = malloc(needed);
    CHECK_OK(tn_layer_plan_report(l, 32, NULL, text, needed, NULL));
    CHECK(strlen(text) + 1 == needed && strstr(text, "batch 32") != NULL, "%s: report text", name);
    CHECK(rep.batch == 32 && rep.flops > 0 && rep.dense_flops == 2.0 * 32 * nin * nout
              && (rep.reconstructs_weight == 0 || rep.reconstructs_weight == 1) && rep.largest_intermediate > 0,
          "%s: report numbers", name);
    char small[8];
    CHECK_OK(tn_layer_plan_report(l, 32, NULL, small, sizeof small, &needed));
    CHECK(strlen(small) == 7, "%s: truncated report", name);
    free(text);
    CHECK_OK(tn_layer_destroy(l));
}

/* ------------------------------------------------------------------ from_dense */

static void test_from_dense(void) {
    /* An exactly rank-2 TT weight: a TT layer's own dense weight. */
    layer_spec s = {TN_LAYER_TT, 3, 3, {2, 3, 2}, {2, 2, 3}, {1, 2, 2, 1}};
    tn_layer *a = create(&s, 1);
    if (a == NULL) return;
    tn_layer_info info;
    CHECK_OK(tn_layer_info_get(a, &info));
    for (int64_t i = 0; i < info.n_params; i++) {
        tn_layer_param prm;
        CHECK_OK(tn_layer_param_get(a, i, &prm));
        fill_d(prm.data, (size_t)prm.size);
    }
    tn_layer_param bp;
    CHECK_OK(tn_layer_param_get(a, info.n_params - 1, &bp));
    double w[12 * 12];
    int64_t ws[2] = {12, 12}, bs[1] = {12};
    tn_tensor wt = {w, 2, ws, NULL}, bt = {bp.data, 1, bs, NULL};
    CHECK_OK(tn_layer_dense_weight(a, TN_FLOAT64, &wt));

    enum { B = 4 };
    double x[B * 12], ya[B * 12], yb[B * 12];
    fill_d(x, sizeof x / sizeof x[0]);
    int64_t xs[2] = {B, 12};
    tn_tensor xt = {x, 2, xs, NULL}, yat = {ya, 2, xs, NULL}, ybt = {yb, 2, xs, NULL};
    CHECK_OK(tn_layer_forward(a, TN_FLOAT64, &xt, &yat));

    tn_layer *b = NULL;
    CHECK_OK(tn_layer_from_dense(TN_LAYER_TT, TN_FLOAT64, &wt, &bt, 3, s.in_modes, 3, s.out_modes, 2, -1, -1, 0, -1, &b));
    if (b != NULL) {
        CHECK_OK(tn_layer_forward(b, TN_FLOAT64, &xt, &ybt));
        CHECK(scaled_err(yb, ya, B * 12) < 1e-10, "from_dense TT rank 2: err %g", scaled_err(yb, ya, B * 12));
        tn_layer_info bi;
        CHECK_OK(tn_layer_info_get(b, &bi));
        CHECK(bi.parameter_count == info.parameter_count, "from_dense TT params %lld vs %lld",
              (long long)bi.parameter_count, (long long)info.parameter_count);
        tn_layer_destroy(b);
    }
    /* Tucker with full ranks and LINEAR are exact too. */
    int64_t tin[2] = {3, 4}, tout[2] = {4, 3};
    CHECK_OK(tn_layer_from_dense(TN_LAYER_TUCKER, TN_FLOAT64, &wt, &bt, 2, tin, 2, tout, 4, -1, -1, 0, -1, &b));
    if (b != NULL) {
        CHECK_OK(tn_layer_forward(b, TN_FLOAT64, &xt, &ybt));
        CHECK(scaled_err(yb, ya, B * 12) < 1e-10, "from_dense Tucker full rank: err %g", scaled_err(yb, ya, B * 12));
        tn_layer_destroy(b);
    }
    CHECK_OK(tn_layer_from_dense(TN_LAYER_LINEAR, TN_FLOAT64, &wt, &bt, 0, NULL, 0, NULL, -1, -1, -1, 0, -1, &b));
    if (b != NULL) {
        CHECK_OK(tn_layer_forward(b, TN_FLOAT64, &xt, &ybt));
        CHECK(scaled_err(yb, ya, B * 12) < 1e-13, "from_dense LINEAR: err %g", scaled_err(yb, ya, B * 12));
        tn_layer_destroy(b);
    }
    /* A budget is respected (bias excluded); eps bounds the weight error. */
    double r[12 * 12];
    fill_d(r, sizeof r / sizeof r[0]);
    tn_tensor rt = {r, 2, ws, NULL};
    CHECK_OK(tn_layer_from_dense(TN_LAYER_TT, TN_FLOAT64, &rt, NULL, 3, s.in_modes, 3, s.out_modes, -1, -1, 60, 0, -1, &b));
    if (b != NULL) {
        tn_layer_info bi;
        CHECK_OK(tn_layer_info_get(b, &bi));
        CHECK(bi.parameter_count <= 60 && bi.has_bias == 0, "budget 60: %lld parameters", (long long)bi.parameter_count);
        tn_layer_destroy(b);
    }
    CHECK_OK(tn_layer_from_dense(TN_LAYER_TT, TN_FLOAT64, &rt, NULL, 3, s.in_modes, 3, s.out_modes, -1, 0.5, -1, 0, -1, &b));
    if (b != NULL) {
        double rb[12 * 12], num = 0.0, den = 0.0;
        tn_tensor rbt = {rb, 2, ws, NULL};
        CHECK_OK(tn_layer_dense_weight(b, TN_FLOAT64, &rbt));
        for (int i = 0; i < 144; i++) {
            num += (rb[i] - r[i]) * (rb[i] - r[i]);
            den += r[i] * r[i];
        }
        CHECK(sqrt(num / den) <= 0.5 + 1e-12, "eps 0.5: error %g", sqrt(num / den));
        tn_layer_destroy(b);
    }
    /* Targets: none, two, a rank of 0; a kind that cannot be fitted; modes that do not fit. */
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_from_dense(TN_LAYER_TT, TN_FLOAT64, &rt, NULL, 3, s.in_modes, 3, s.out_modes, -1, -1, -1, 0, -1, &b));
    CHECK(b == NULL, "failed from_dense leaves NULL");
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_from_dense(TN_LAYER_TT, TN_FLOAT64, &rt, NULL, 3, s.in_modes, 3, s.out_modes, 2, 0.1, -1, 0, -1, &b));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_from_dense(TN_LAYER_CP, TN_FLOAT64, &rt, NULL, 3, s.in_modes, 3, s.out_modes, 0, -1, -1, 0, -1, &b));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_from_dense(TN_LAYER_EINSUM, TN_FLOAT64, &rt, NULL, 0, NULL, 0, NULL, 1, -1, -1, 0, -1, &b));
    int64_t bad[3] = {2, 3, 3};
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_from_dense(TN_LAYER_TT, TN_FLOAT64, &rt, NULL, 3, bad, 3, s.out_modes, 2, -1, -1, 0, -1, &b));
    int64_t b5[1] = {5};
    tn_tensor b5t = {bp.data, 1, b5, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_from_dense(TN_LAYER_TT, TN_FLOAT64, &rt, &b5t, 3, s.in_modes, 3, s.out_modes, 2, -1, -1, 0, -1, &b));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_from_dense(TN_LAYER_TT, TN_FLOAT64, NULL, NULL, 3, s.in_modes, 3, s.out_modes, 2, -1, -1, 0, -1, &b));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_from_dense(TN_LAYER_TT, TN_FLOAT64, &rt, NULL, 3, s.in_modes, 3, s.out_modes, 2, -1, -1, 0, -1, NULL));
    CHECK_STATUS(TN_ERR_DTYPE, tn_layer_from_dense(TN_LAYER_TT, (tn_dtype)5, &rt, NULL, 3, s.in_modes, 3, s.out_modes, 2, -1, -1, 0, -1, &b));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_from_dense((tn_layer_kind)42, TN_FLOAT64, &rt, NULL, 3, s.in_modes, 3, s.out_modes, 2, -1, -1, 0, -1, &b));
    tn_layer_destroy(a);
}

/* ------------------------------------------------------------------ TCL and TT_TENSOR */

static void test_tcl_trl_kinds(void) {
    int64_t in[2] = {3, 4}, out[2] = {2, 5}, ranks[3] = {2, 3, 2};
    tn_layer_config c;
    memset(&c, 0, sizeof c);
    c.kind = TN_LAYER_TCL;
    c.dtype = TN_FLOAT32;
    c.n_in_modes = 2;
    c.in_modes = in;
    c.n_ranks = 2;
    c.ranks = out; /* TCL: the ranks are the output modes; out_modes may be left empty */
    c.bias = 1;
    tn_layer *tcl = NULL, *ttt = NULL;
    CHECK_OK(tn_layer_create(&c, &tcl));
    if (tcl == NULL) return;
    tn_layer_info info;
    CHECK_OK(tn_layer_info_get(tcl, &info));
    int64_t im[4] = {0}, om[4] = {0};
    CHECK_OK(tn_layer_modes(tcl, im, 4, om, 4));
    CHECK(info.kind == TN_LAYER_TCL && info.in_features == 12 && info.out_features == 10 && info.n_params == 3
              && om[0] == 2 && om[1] == 5, "TCL info");
    tn_layer_param prm;
    CHECK_OK(tn_layer_param_get(tcl, 1, &prm));
    CHECK(strcmp(prm.name, "factor_1") == 0 && prm.ndim == 2 && prm.shape[0] == 5 && prm.shape[1] == 4, "TCL factor_1 shape");
    char text[256];
    CHECK_OK(tn_layer_describe(tcl, text, sizeof text, NULL));
    CHECK(strstr(text, "\"TCL\"") != NULL, "TCL describe: %s", text);

    c.kind = TN_LAYER_TT_TENSOR;
    c.n_in_modes = 1;
    int64_t ten[1] = {10}, outs[2] = {2, 3}; /* the TCL's (2, 5) output as one mode of 10 -> (2, 3) */
    c.in_modes = ten;
    c.n_out_modes = 2;
    c.out_modes = outs;
    c.n_ranks = 1;
    c.ranks = ranks;
    CHECK_OK(tn_layer_create(&c, &ttt));
    if (ttt == NULL) { tn_layer_destroy(tcl); return; }
    CHECK_OK(tn_layer_info_get(ttt, &info));
    CHECK(info.kind == TN_LAYER_TT_TENSOR && info.in_features == 10 && info.out_features == 6 && info.n_params == 4,
          "TT_TENSOR info");
    CHECK_OK(tn_layer_describe(ttt, text, sizeof text, NULL));
    CHECK(strstr(text, "\"TTTensorLinear\"") != NULL, "TT_TENSOR describe: %s", text);

    /* A model of both, saved and loaded: same outputs, same kinds. */
    tn_model_stage st[2];
    memset(st, 0, sizeof st);
    st[0].kind = TN_STAGE_LAYER;
    st[0].layer = tcl;
    st[1].kind = TN_STAGE_LAYER;
    st[1].layer = ttt;
    tn_model *m = NULL, *back = NULL;
    CHECK_OK(tn_model_create(2, st, &m));
    float x[4 * 12], y[4 * 6], y2[4 * 6];
    fill_f(x, 48);
    CHECK_OK(tn_model_forward(m, TN_FLOAT32, 4, x, y));
    const char *path = "/tmp/tn_test_layers_tcl_trl.safetensors";
    CHECK_OK(tn_model_save(m, path));
    CHECK_OK(tn_model_load(path, &back));
    if (back != NULL) {
        CHECK_OK(tn_model_forward(back, TN_FLOAT32, 4, x, y2));
        CHECK(memcmp(y, y2, sizeof y) == 0, "TCL/TT_TENSOR model round trip");
        tn_model_stage got;
        CHECK_OK(tn_model_stage_get(back, 0, &got));
        CHECK_OK(tn_layer_info_get(got.layer, &info));
        CHECK(info.kind == TN_LAYER_TCL, "loaded kind %d", info.kind);
        tn_layer_destroy(got.layer);
        CHECK_OK(tn_model_stage_get(back, 1, &got));
        CHECK_OK(tn_layer_info_get(got.layer, &info));
        CHECK(info.kind == TN_LAYER_TT_TENSOR, "loaded kind %d", info.kind);
        tn_layer_destroy(got.layer);
        tn_model_destroy(back);
    }
    remove(path);
    tn_model_destroy(m);

    /* from_dense: TT_TENSOR by TT-SVD (exact at eps 0 for this small weight); TCL refused. */
    double w[10 * 6];
    fill_d(w, 60);
    int64_t ws[2] = {10, 6};
    tn_tensor wt = {w, 2, ws, NULL};
    int64_t i2[2] = {2, 5};
    tn_layer *fd = NULL;
    CHECK_OK(tn_layer_from_dense(TN_LAYER_TT_TENSOR, TN_FLOAT64, &wt, NULL, 2, i2, 2, outs, -1, 0.0, -1, 0, -1, &fd));
    if (fd != NULL) {
        double w2[60];
        tn_tensor w2t = {w2, 2, ws, NULL};
        CHECK_OK(tn_layer_dense_weight(fd, TN_FLOAT64, &w2t));
        CHECK(scaled_err(w2, w, 60) < 1e-12, "TT_TENSOR from_dense err %g", scaled_err(w2, w, 60));
        tn_layer_destroy(fd);
    }
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_from_dense(TN_LAYER_TCL, TN_FLOAT64, &wt, NULL, 2, i2, 2, outs, 1, -1, -1, 0, -1, &fd));

    /* Bad configurations. */
    c.kind = TN_LAYER_TCL;
    c.n_in_modes = 2;
    c.in_modes = in;
    c.n_out_modes = 2;
    c.out_modes = outs; /* (2, 3) but ranks (2, 5) */
    c.n_ranks = 2;
    c.ranks = out;
    tn_layer *bad = NULL;
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &bad));
    c.n_out_modes = 0;
    c.n_ranks = 3; /* three ranks for two modes */
    c.ranks = ranks;
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &bad));
    c.n_ranks = 0; /* no ranks and no out_modes */
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &bad));
    int64_t zero[2] = {2, 0};
    c.n_ranks = 2;
    c.ranks = zero;
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_create(&c, &bad));
    c.kind = TN_LAYER_TT_TENSOR;
    c.n_out_modes = 2;
    c.out_modes = outs;
    c.ranks = ranks; /* 2 ranks for 4 modes (3 bonds) */
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &bad));
    c.n_out_modes = 0;
    c.n_ranks = 1;
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &bad));
    CHECK(bad == NULL, "no handle on failure");
    tn_layer_destroy(tcl);
    tn_layer_destroy(ttt);
}

/* ------------------------------------------------------------------ EINSUM kind */

static void test_einsum_kind(void) {
    /* The TensorNetwork layer of the seed, shrunk: 16 -> 16 through two (4, 4, 2) cores. */
    int64_t s0[3] = {4, 4, 2}, s1[3] = {4, 4, 2}, nd[2] = {3, 3};
    const int64_t *shapes[2] = {s0, s1};
    tn_layer_config c;
    memset(&c, 0, sizeof c);
    c.kind = TN_LAYER_EINSUM;
    c.dtype = TN_FLOAT32;
    c.equation = "nij,aik,bjk->nab";
    c.n_params = 2;
    c.param_ndims = nd;
    c.param_shapes = shapes;
    c.bias = 0;
    tn_layer *l = NULL;
    CHECK_OK(tn_layer_create(&c, &l));
    if (l == NULL) return;
    tn_layer_info info;
    CHECK_OK(tn_layer_info_get(l, &info));
    CHECK(info.in_features == 16 && info.out_features == 16 && info.n_params == 2 && info.has_bias == 0,
          "einsum layer info");
    int64_t im[4] = {0}, om[4] = {0};
    CHECK_OK(tn_layer_modes(l, im, 4, om, 4));
    CHECK(info.n_in_modes == 2 && im[0] == 4 && im[1] == 4 && om[0] == 4 && om[1] == 4, "einsum modes");
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_modes(l, im, 1, om, 4));
    tn_layer_param prm;
    CHECK_OK(tn_layer_param_get(l, 1, &prm));
    CHECK(strcmp(prm.name, "p1") == 0 && prm.ndim == 3 && prm.shape[2] == 2, "einsum param names");
    float w[256], x[3 * 16], y[3 * 16];
    int64_t ws[2] = {16, 16}, xs[2] = {3, 16};
    tn_tensor wt = {w, 2, ws, NULL}, xt = {x, 2, xs, NULL}, yt = {y, 2, xs, NULL};
    CHECK_OK(tn_layer_dense_weight(l, TN_FLOAT32, &wt));
    fill_f(x, 48);
    CHECK_OK(tn_layer_forward(l, TN_FLOAT32, &xt, &yt));
    double worst = 0.0, scale = 0.0;
    for (int n = 0; n < 3; n++)
        for (int o = 0; o < 16; o++) {
            double acc = 0.0;
            for (int i = 0; i < 16; i++) acc += (double)x[n * 16 + i] * w[i * 16 + o];
            worst = fmax(worst, fabs(acc - y[n * 16 + o]));
            scale = fmax(scale, fabs(acc));
        }
    CHECK(worst <= 1e-5 * scale, "einsum layer forward err %g (scale %g)", worst, scale);
    /* float64 arrays for a float32 layer */
    CHECK_STATUS(TN_ERR_DTYPE, tn_layer_forward(l, TN_FLOAT64, &xt, &yt));
    CHECK_STATUS(TN_ERR_DTYPE, tn_layer_dense_weight(l, TN_FLOAT64, &wt));
    tn_layer_destroy(l);

    c.equation = "nij,aik,bjk->";
    CHECK_STATUS(TN_ERR_SUBSCRIPT, tn_layer_create(&c, &l));
    c.equation = "nij,aik,bjk->nab";
    int64_t s2[3] = {4, 4, 3}; /* bond k is 2 in the first core */
    shapes[1] = s2;
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &l));
    c.equation = NULL;
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_create(&c, &l));
    c.equation = "nij,aik,bjk->nab";
    c.n_params = 0;
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &l));
}

/* ------------------------------------------------------------------ errors */

static void test_errors(void) {
    int64_t in[2] = {2, 3}, out[2] = {3, 2}, ranks[1] = {2};
    tn_layer_config c;
    memset(&c, 0, sizeof c);
    c.kind = TN_LAYER_TT;
    c.dtype = TN_FLOAT64;
    c.n_in_modes = 2;
    c.in_modes = in;
    c.n_out_modes = 2;
    c.out_modes = out;
    c.n_ranks = 1;
    c.ranks = ranks;
    c.bias = 1;
    tn_layer *l = NULL;

    CHECK_STATUS(TN_ERR_VALUE, tn_layer_create(NULL, &l));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_create(&c, NULL));
    c.kind = 17;
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_create(&c, &l));
    c.kind = -1;
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_create(&c, &l));
    c.kind = TN_LAYER_TT;
    c.dtype = 2;
    CHECK_STATUS(TN_ERR_DTYPE, tn_layer_create(&c, &l));
    c.dtype = TN_FLOAT64;
    ranks[0] = 0;
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_create(&c, &l));
    ranks[0] = -3;
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_create(&c, &l));
    ranks[0] = 2;
    in[1] = -3;
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &l));
    in[1] = 3;
    c.n_in_modes = -1;
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &l));
    c.n_in_modes = 1; /* TT needs as many input as output modes */
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &l));
    c.n_in_modes = 2;
    c.in_modes = NULL;
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_create(&c, &l));
    c.in_modes = in;
    int64_t three[3] = {2, 2, 2};
    c.n_ranks = 3;
    c.ranks = three;
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &l));
    c.kind = TN_LAYER_CP; /* CP takes exactly one rank */
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &l));
    c.kind = TN_LAYER_TUCKER; /* Tucker: one or one per mode */
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &l));
    c.n_ranks = 1;
    c.ranks = ranks;
    /* Sizes whose product overflows: TN_ERR_MEMORY, not a trap. */
    int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    c.kind = TN_LAYER_LINEAR;
    c.n_in_modes = 1;
    c.in_modes = huge;
    c.n_out_modes = 1;
    c.out_modes = huge + 1;
    c.n_ranks = 0;
    CHECK_STATUS(TN_ERR_MEMORY, tn_layer_create(&c, &l));
    c.n_in_modes = 2; /* LINEAR takes one mode each */
    c.in_modes = in;
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_create(&c, &l));

    /* A valid layer, then every call with wrong arguments. */
    c.kind = TN_LAYER_CP;
    c.n_in_modes = 2;
    c.in_modes = in;
    c.n_out_modes = 2;
    c.out_modes = out;
    c.n_ranks = 1;
    c.ranks = ranks;
    CHECK_OK(tn_layer_create(&c, &l));
    if (l == NULL) return;
    double x[4 * 6], y[4 * 6], dy[4 * 6];
    fill_d(x, 24);
    fill_d(dy, 24);
    int64_t xs[2] = {4, 6}, wide[2] = {4, 7}, b3[2] = {3, 6}, modes_bad[3] = {4, 3, 2};
    tn_tensor xt = {x, 2, xs, NULL}, yt = {y, 2, xs, NULL}, dyt = {dy, 2, xs, NULL};
    tn_tensor wrong = {x, 2, wide, NULL}, batch3 = {dy, 2, b3, NULL}, badmodes = {x, 3, modes_bad, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_forward(l, TN_FLOAT64, &wrong, &yt));
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_forward(l, TN_FLOAT64, &xt, &wrong));
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_forward(l, TN_FLOAT64, &badmodes, &yt));
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_forward(l, TN_FLOAT64, &xt, &batch3));
    CHECK_STATUS(TN_ERR_DTYPE, tn_layer_forward(l, TN_FLOAT32, &xt, &yt));
    CHECK_STATUS(TN_ERR_DTYPE, tn_layer_forward(l, (tn_dtype)9, &xt, &yt));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_forward(l, TN_FLOAT64, NULL, &yt));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_forward(l, TN_FLOAT64, &xt, NULL));
    int64_t neg[2] = {4, -6};
    tn_tensor negt = {x, 2, neg, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_forward(l, TN_FLOAT64, &negt, &yt));
    CHECK_OK(tn_layer_forward(l, TN_FLOAT64, &xt, &yt));
    CHECK_OK(tn_layer_backward(l, TN_FLOAT64, &dyt, &xt, NULL));
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_backward(l, TN_FLOAT64, &batch3, &xt, NULL));
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_backward(l, TN_FLOAT64, &dyt, &xt, &wrong));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_backward(l, TN_FLOAT64, NULL, &xt, NULL));
    CHECK_STATUS(TN_ERR_DTYPE, tn_layer_backward(l, TN_FLOAT32, &dyt, &xt, NULL));
    dy[5] = NAN;
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_backward(l, TN_FLOAT64, &dyt, &xt, NULL));
    dy[5] = INFINITY;
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_backward(l, TN_FLOAT64, &dyt, &xt, NULL));
    tn_layer_param prm;
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_param_get(l, 6, &prm)); /* weights, 4 factors, bias */
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_param_get(l, -1, &prm));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_param_get(l, 0, NULL));
    CHECK_OK(tn_layer_param_get(l, 5, &prm));
    CHECK(strcmp(prm.name, "bias") == 0 && prm.size == 6, "CP bias entry");
    CHECK_OK(tn_layer_param_get(l, 0, &prm));
    CHECK(strcmp(prm.name, "weights") == 0 && prm.size == 2 && ((double *)prm.data)[0] == 1.0, "CP weights start at 1");
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_info_get(l, NULL));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_plan_report(l, -1, NULL, NULL, 0, NULL));
    char buf[4];
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_plan_report(l, 1, NULL, NULL, sizeof buf, NULL));
    double w[36];
    int64_t ws_bad[2] = {6, 5};
    tn_tensor wbad = {w, 2, ws_bad, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_layer_dense_weight(l, TN_FLOAT64, &wbad));
    CHECK_STATUS(TN_ERR_VALUE, tn_layer_dense_weight(l, TN_FLOAT64, NULL));
    int64_t wm[4] = {2, 3, 3, 2};
    tn_tensor wmt = {w, 4, wm, NULL};
    CHECK_OK(tn_layer_dense_weight(l, TN_FLOAT64, &wmt));

    /* Handles: NULL, foreign, destroyed. */
    tn_layer_info info;
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_info_get(NULL, &info));
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_forward(NULL, TN_FLOAT64, &xt, &yt));
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_info_get((const tn_layer *)&info, &info));
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_destroy(NULL));
    CHECK_OK(tn_layer_destroy(l));
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_forward(l, TN_FLOAT64, &xt, &yt));
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_backward(l, TN_FLOAT64, &dyt, &xt, NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_param_get(l, 0, &prm));
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_plan_report(l, 1, NULL, NULL, 0, NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_dense_weight(l, TN_FLOAT64, &wmt));
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_destroy(l));
    /* A plan handle is not a layer handle. */
    int64_t ms[2] = {2, 2};
    const int64_t *pshapes[2] = {ms, ms};
    int64_t pnd[2] = {2, 2};
    tn_plan *plan = NULL;
    CHECK_OK(tn_plan_create("ij,jk->ik", 2, pnd, pshapes, TN_FLOAT64, NULL, &plan));
    CHECK_STATUS(TN_ERR_HANDLE, tn_layer_info_get((const tn_layer *)plan, &info));
    tn_plan_destroy(plan);
}

int main(void) {
    CHECK(tn_abi_version() == TN_ABI_VERSION, "abi %u", tn_abi_version());
    layer_spec tt = {TN_LAYER_TT, 3, 3, {2, 3, 2}, {3, 1, 2}, {1, 2, 3, 1}};
    check_layer_against_dense(&tt, "TT (2,3,2)->(3,1,2) ranks 2,3");
    layer_spec tt2 = {TN_LAYER_TT, 2, 2, {5, 1}, {2, 7}, {1, 3, 1}};
    check_layer_against_dense(&tt2, "TT (5,1)->(2,7) rank 3");
    layer_spec cp = {TN_LAYER_CP, 2, 3, {3, 2}, {2, 1, 3}, {4}};
    check_layer_against_dense(&cp, "CP (3,2)->(2,1,3) rank 4");
    layer_spec cp1 = {TN_LAYER_CP, 1, 1, {7}, {5}, {3}};
    check_layer_against_dense(&cp1, "CP (7)->(5) rank 3");
    layer_spec tcl = {TN_LAYER_TCL, 3, 3, {3, 1, 5}, {2, 4, 1}, {0}};
    check_layer_against_dense(&tcl, "TCL (3,1,5)->(2,4,1)");
    layer_spec tcl1 = {TN_LAYER_TCL, 1, 1, {7}, {3}, {0}};
    check_layer_against_dense(&tcl1, "TCL (7)->(3)");
    layer_spec ttt = {TN_LAYER_TT_TENSOR, 2, 1, {3, 2}, {5}, {1, 2, 3, 1}};
    check_layer_against_dense(&ttt, "TT_TENSOR (3,2)->(5) ranks 2,3");
    layer_spec ttt2 = {TN_LAYER_TT_TENSOR, 1, 3, {7}, {1, 2, 3}, {1, 3, 3, 2, 1}};
    check_layer_against_dense(&ttt2, "TT_TENSOR (7)->(1,2,3) ranks 3,3,2");
    test_from_dense();
    test_tcl_trl_kinds();
    test_einsum_kind();
    test_errors();
    return tn_report("test_layers");
}
