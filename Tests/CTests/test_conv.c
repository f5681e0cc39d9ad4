/* C ABI convolutions: a CP and a dense convolution (double) against a plain direct-loop
   convolution written here with the kernel rebuilt from the parameters by the definitions in
   tnswift.h (output, dx, every parameter gradient, bias), Tucker and TT kernels, from_dense,
   float32, and the error paths (bad configs, shapes, dtypes, NaN in dy, NULL / destroyed /
   foreign handles, overflowing sizes). Prints "test_conv: N passed, M failed". */
#include <stdint.h>

#include "tn_check.h"

/* max |got - want| / max |want|. */
static double scaled_err(const double *got, const double *want, int64_t n) {
    double worst = 0.0, scale = 1e-300;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / scale;
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* A convolution's geometry as the reference applies it. */
typedef struct {
    int64_t n, c, h, w, o, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow;
} geometry;

#define XI(g, b, ic, hh, ww) ((((b) * (g)->c + (ic)) * (g)->h + (hh)) * (g)->w + (ww))
#define YI(g, b, oc, y, x) ((((b) * (g)->o + (oc)) * (g)->oh + (y)) * (g)->ow + (x))
#define KI(g, oc, ic, i, j) ((((oc) * (g)->c + (ic)) * (g)->kh + (i)) * (g)->kw + (j))

/* y = conv(x, k) + bias, dx = conv^T(dy), dk = x (*) dy, by loops over every valid tap. */
static void reference(const geometry *g, const double *x, const double *k, const double *bias, const double *dy,
                      double *y, double *dx, double *dk) {
    memset(y, 0, (size_t)(g->n * g->o * g->oh * g->ow) * sizeof(double));
    memset(dx, 0, (size_t)(g->n * g->c * g->h * g->w) * sizeof(double));
    memset(dk, 0, (size_t)(g->o * g->c * g->kh * g->kw) * sizeof(double));
    for (int64_t b = 0; b < g->n; b++)
        for (int64_t oc = 0; oc < g->o; oc++)
            for (int64_t yy = 0; yy < g->oh; yy++)
                for (int64_t xx = 0; xx < g->ow; xx++) {
                    double acc = bias ? bias[oc] : 0.0;
                    for (int64_t ic = 0; ic < g->c; ic++)
                        for (int64_t i = 0; i < g->kh; i++)
                            for (int64_t j = 0; j < g->kw; j++) {
                                int64_t hh = yy * g->sh - g->pt + i * g->dh, ww = xx * g->sw - g->pl + j * g->dw;
                                if (hh < 0 || hh >= g->h || ww < 0 || ww >= g->w) continue;
                                acc += k[KI(g, oc, ic, i, j)] * x[XI(g, b, ic, hh, ww)];
                                dx[XI(g, b, ic, hh, ww)] += k[KI(g, oc, ic, i, j)] * dy[YI(g, b, oc, yy, xx)];
                                dk[KI(g, oc, ic, i, j)] += x[XI(g, b, ic, hh, ww)] * dy[YI(g, b, oc, yy, xx)];
                            }
                    y[YI(g, b, oc, yy, xx)] = acc;
                }
}

static tn_conv_config base_config(tn_conv_kind kind, int64_t c, int64_t o, int64_t kh, int64_t kw) {
    tn_conv_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = kind;
    cfg.dtype = TN_FLOAT64;
    cfg.in_channels = c;
    cfg.out_channels = o;
    cfg.kernel_size[0] = kh;
    cfg.kernel_size[1] = kw;
    cfg.stride[0] = cfg.stride[1] = 1;
    cfg.dilation[0] = cfg.dilation[1] = 1;
    cfg.padding_mode = TN_CONV_PAD_EXPLICIT;
    cfg.bias = 1;
    cfg.seed = 3;
    return cfg;
}

/* The CP kernel of tnswift.h from weights and factors (out modes, in modes, kh, kw). */
static void cp_kernel(const geometry *g, int64_t rank, const int64_t *om, const int64_t *im, double *const *p, double *k) {
    for (int64_t oc = 0; oc < g->o; oc++)
        for (int64_t ic = 0; ic < g->c; ic++)
            for (int64_t i = 0; i < g->kh; i++)
                for (int64_t j = 0; j < g->kw; j++) {
                    int64_t o1 = oc / om[1], o2 = oc % om[1], c1 = ic / im[1], c2 = ic % im[1];
                    double v = 0;
                    for (int64_t r = 0; r < rank; r++)
                        v += p[0][r] * p[1][o1 * rank + r] * p[2][o2 * rank + r] * p[3][c1 * rank + r] * p[4][c2 * rank + r]
                             * p[5][i * rank + r] * p[6][j * rank + r];
                    k[KI(g, oc, ic, i, j)] = v;
                }
}

/* d(parameter) = <dK, dK/d(parameter)> for the CP kernel (each factor enters linearly). */
static void cp_gradients(const geometry *g, int64_t rank, const int64_t *om, const int64_t *im, double *const *p,
                         const double *dk, double **grad, const int64_t *sizes) {
    for (int q = 0; q < 7; q++) memset(grad[q], 0, (size_t)sizes[q] * sizeof(double));
    for (int64_t oc = 0; oc < g->o; oc++)
        for (int64_t ic = 0; ic < g->c; ic++)
            for (int64_t i = 0; i < g->kh; i++)
                for (int64_t j = 0; j < g->kw; j++) {
                    int64_t idx[7] = {0, oc / om[1], oc % om[1], ic / im[1], ic % im[1], i, j};
                    double d = dk[KI(g, oc, ic, i, j)];
                    for (int64_t r = 0; r < rank; r++)
                        for (int q = 0; q < 7; q++) {
                            double t = d;
                            for (int s = 0; s < 7; s++)
                                if (s != q) t *= p[s][(s == 0 ? 0 : idx[s] * rank) + r];
                            grad[q][(q == 0 ? 0 : idx[q] * rank) + r] += t;
                        }
                }
}

static void test_cp_against_reference(void) {
    int64_t om[2] = {2, 2}, im[2] = {2, 3}, rank = 3;
    tn_conv_config cfg = base_config(TN_CONV_CP, 6, 4, 3, 3);
    cfg.padding_mode = TN_CONV_PAD_SAME;
    cfg.dilation[1] = 2;
    cfg.n_in_modes = 2;
    cfg.in_modes = im;
    cfg.n_out_modes = 2;
    cfg.out_modes = om;
    cfg.n_ranks = 1;
    cfg.ranks = &rank;
    tn_conv *conv = NULL;
    CHECK_OK(tn_conv_create(&cfg, &conv));
    if (conv == NULL) return;
    tn_conv_info info;
    CHECK_OK(tn_conv_info_get(conv, &info));
    CHECK(info.n_params == 8 && info.has_bias == 1 && info.kind == TN_CONV_CP && info.in_channels == 6
              && info.out_channels == 4, "cp info");
    CHECK(info.padding[0] == 1 && info.padding[1] == 1 && info.padding[2] == 2 && info.padding[3] == 2,
          "same padding applied as (%lld, %lld, %lld, %lld)", (long long)info.padding[0], (long long)info.padding[1],
          (long long)info.padding[2], (long long)info.padding[3]);
    tn_layer_param prm[8];
    double *p[8];
    int64_t sizes[8], total = 0;
    const char *names[8] = {"weights", "factor_0", "factor_1", "factor_2", "factor_3", "factor_4", "factor_5", "bias"};
    for (int i = 0; i < 8; i++) {
        CHECK_OK(tn_conv_param_get(conv, i, &prm[i]));
        p[i] = prm[i].data;
        sizes[i] = prm[i].size;
        total += sizes[i];
        CHECK(strcmp(prm[i].name, names[i]) == 0, "param %d is %s", i, prm[i].name);
        fill_d(p[i], (size_t)sizes[i]);
    }
    CHECK(total == info.parameter_count, "parameter_count");
    CHECK(prm[5].ndim == 2 && prm[5].shape[0] == 3 && prm[5].shape[1] == 3, "kh factor shape");

    geometry g = {2, 6, 7, 5, 4, 3, 3, 1, 1, 1, 2, 1, 2, 0, 0};
    int64_t in_shape[4] = {2, 6, 7, 5}, out_shape[4];
    CHECK_OK(tn_conv_output_shape(conv, in_shape, out_shape));
    g.oh = out_shape[2];
    g.ow = out_shape[3];
    CHECK(out_shape[0] == 2 && out_shape[1] == 4 && g.oh == 7 && g.ow == 5, "output shape %lld %lld", (long long)g.oh,
          (long long)g.ow);
    enum { NX = 2 * 6 * 7 * 5, NY = 2 * 4 * 7 * 5, NK = 4 * 6 * 9 };
    double x[NX], dy[NY], y[NY], dx[NX], yr[NY], dxr[NX], k[NK], dkr[NK], kout[NK];
    fill_d(x, NX);
    fill_d(dy, NY);
    cp_kernel(&g, rank, om, im, p, k);
    reference(&g, x, k, p[7], dy, yr, dxr, dkr);

    int64_t kshape[4] = {4, 6, 3, 3};
    tn_tensor kt = {kout, 4, kshape, NULL};
    CHECK_OK(tn_conv_dense_kernel(conv, TN_FLOAT64, &kt));
    CHECK(scaled_err(kout, k, NK) < 1e-13, "dense kernel err %g", scaled_err(kout, k, NK));

    tn_tensor xt = {x, 4, in_shape, NULL}, yt = {y, 4, out_shape, NULL}, dyt = {dy, 4, out_shape, NULL},
              dxt = {dx, 4, in_shape, NULL};
    CHECK_OK(tn_conv_forward(conv, TN_FLOAT64, &xt, &yt));
    CHECK(scaled_err(y, yr, NY) < 1e-12, "cp y err %g", scaled_err(y, yr, NY));
    CHECK_OK(tn_conv_backward(conv, TN_FLOAT64, &dyt, &xt, &dxt));
    CHECK(scaled_err(dx, dxr, NX) < 1e-12, "cp dx err %g", scaled_err(dx, dxr, NX));
    double g0[3], g1[6], g2[6], g3[6], g4[9], g5[9], g6[9];
    double *grad[7] = {g0, g1, g2, g3, g4, g5, g6};
    cp_gradients(&g, rank, om, im, p, dkr, grad, sizes);
    for (int q = 0; q < 7; q++) {
        double e = scaled_err(prm[q].grad, grad[q], sizes[q]);
        CHECK(e < 1e-12, "cp d%s err %g", names[q], e);
    }
    double db[4] = {0, 0, 0, 0};
    for (int64_t b = 0; b < 2; b++)
        for (int64_t oc = 0; oc < 4; oc++)
            for (int64_t s = 0; s < 35; s++) db[oc] += dy[(b * 4 + oc) * 35 + s];
    CHECK(scaled_err(prm[7].grad, db, 4) < 1e-13, "cp dbias");

    /* A strided x (every other element of a larger buffer) gives the same y. */
    static double wide[2 * NX], y2[NY];
    for (int64_t i = 0; i < NX; i++) wide[2 * i] = x[i];
    int64_t xs[4] = {2 * 6 * 35, 2 * 35, 2 * 5, 2};
    tn_tensor xw = {wide, 4, in_shape, xs}, y2t = {y2, 4, out_shape, NULL};
    CHECK_OK(tn_conv_forward(conv, TN_FLOAT64, &xw, &y2t));
    CHECK(scaled_err(y2, y, NY) == 0.0, "strided x");

    /* Errors on a live handle. */
    int64_t bad_shape[4] = {2, 5, 7, 5};
    tn_tensor xbad = {x, 4, bad_shape, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_conv_forward(conv, TN_FLOAT64, &xbad, &yt));
    CHECK(strstr(tn_last_error(), "channels") != NULL, "channel message: %s", tn_last_error());
    int64_t tiny[4] = {1, 6, 1, 1}, tiny_out[4];
    CHECK_OK(tn_conv_output_shape(conv, tiny, tiny_out)); /* "same" pads enough */
    CHECK_STATUS(TN_ERR_DTYPE, tn_conv_forward(conv, TN_FLOAT32, &xt, &yt));
    CHECK_STATUS(TN_ERR_SHAPE, tn_conv_forward(conv, TN_FLOAT64, &xt, &xt));
    dy[5] = NAN;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_backward(conv, TN_FLOAT64, &dyt, &xt, NULL));
    dy[5] = 0;
    tn_layer_param extra;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_param_get(conv, 8, &extra));
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_param_get(conv, -1, &extra));
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_forward(conv, TN_FLOAT64, NULL, &yt));
    CHECK_STATUS(TN_ERR_SHAPE, tn_conv_dense_kernel(conv, TN_FLOAT64, &xt));

    /* from_dense of this exact CP kernel at its rank recovers it. */
    tn_conv_config fc = cfg;
    fc.in_channels = fc.out_channels = 0;
    fc.kernel_size[0] = fc.kernel_size[1] = 0;
    tn_tensor src = {k, 4, kshape, NULL};
    int64_t bshape[1] = {4};
    tn_tensor bt = {p[7], 1, bshape, NULL};
    tn_conv *fit = NULL;
    CHECK_OK(tn_conv_from_dense(&fc, &src, &bt, -1.0, 0, &fit));
    if (fit) {
        CHECK_OK(tn_conv_dense_kernel(fit, TN_FLOAT64, &kt));
        CHECK(scaled_err(kout, k, NK) < 1e-7, "from_dense CP err %g", scaled_err(kout, k, NK));
        tn_conv_info fi;
        CHECK_OK(tn_conv_info_get(fit, &fi));
        CHECK(fi.has_bias == 1 && fi.padding_mode == TN_CONV_PAD_SAME && fi.dilation[1] == 2, "from_dense keeps the window");
        CHECK_OK(tn_conv_destroy(fit));
    }
    /* No target, and two targets. */
    fc.n_ranks = 0;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_from_dense(&fc, &src, NULL, -1.0, 0, &fit));
    fc.n_ranks = 1;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_from_dense(&fc, &src, NULL, 0.1, 0, &fit));
    int64_t k3[3] = {4, 6, 9};
    tn_tensor src3 = {k, 3, k3, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_conv_from_dense(&fc, &src3, NULL, -1.0, 0, &fit));
    fc.in_channels = 5;
    CHECK_STATUS(TN_ERR_SHAPE, tn_conv_from_dense(&fc, &src, NULL, -1.0, 0, &fit));
    CHECK(fit == NULL, "failed from_dense leaves *conv NULL");

    CHECK_OK(tn_conv_destroy(conv));
    /* Destroyed handle. */
    CHECK_STATUS(TN_ERR_HANDLE, tn_conv_forward(conv, TN_FLOAT64, &xt, &yt));
    CHECK_STATUS(TN_ERR_HANDLE, tn_conv_info_get(conv, &info));
    CHECK_STATUS(TN_ERR_HANDLE, tn_conv_param_get(conv, 0, &extra));
    CHECK_STATUS(TN_ERR_HANDLE, tn_conv_destroy(conv));
}

static void test_dense_and_float32(void) {
    tn_conv_config cfg = base_config(TN_CONV_DENSE, 3, 2, 2, 3);
    cfg.stride[0] = 2;
    cfg.padding[0] = 1;
    cfg.padding[1] = 0;
    cfg.dilation[0] = 2;
    tn_conv *conv = NULL;
    CHECK_OK(tn_conv_create(&cfg, &conv));
    if (!conv) return;
    tn_layer_param w, b;
    CHECK_OK(tn_conv_param_get(conv, 0, &w));
    CHECK_OK(tn_conv_param_get(conv, 1, &b));
    CHECK(strcmp(w.name, "weight") == 0 && w.ndim == 4 && w.shape[3] == 3 && strcmp(b.name, "bias") == 0, "dense params");
    fill_d(w.data, 36);
    fill_d(b.data, 2);
    geometry g = {3, 3, 6, 8, 2, 2, 3, 2, 1, 2, 1, 1, 0, 0, 0};
    int64_t in_shape[4] = {3, 3, 6, 8}, out_shape[4];
    CHECK_OK(tn_conv_output_shape(conv, in_shape, out_shape));
    g.oh = out_shape[2];
    g.ow = out_shape[3];
    CHECK(g.oh == 3 && g.ow == 6, "dense output %lld x %lld", (long long)g.oh, (long long)g.ow);
    enum { NX = 3 * 3 * 6 * 8, NY = 3 * 2 * 3 * 6, NK = 36 };
    double x[NX], dy[NY], y[NY], dx[NX], yr[NY], dxr[NX], dkr[NK];
    fill_d(x, NX);
    fill_d(dy, NY);
    reference(&g, x, w.data, b.data, dy, yr, dxr, dkr);
    tn_tensor xt = {x, 4, in_shape, NULL}, yt = {y, 4, out_shape, NULL}, dyt = {dy, 4, out_shape, NULL},
              dxt = {dx, 4, in_shape, NULL};
    CHECK_OK(tn_conv_forward(conv, TN_FLOAT64, &xt, &yt));
    CHECK(scaled_err(y, yr, NY) < 1e-13, "dense y");
    CHECK_OK(tn_conv_backward(conv, TN_FLOAT64, &dyt, &xt, &dxt));
    CHECK(scaled_err(dx, dxr, NX) < 1e-13, "dense dx");
    CHECK(scaled_err(w.grad, dkr, NK) < 1e-13, "dense dweight");
    /* The same kernel in float32. */
    tn_conv_config c32 = cfg;
    c32.dtype = TN_FLOAT32;
    int64_t kshape[4] = {2, 3, 2, 3};
    float k32[NK], x32[NX], y32[NY], b32[2];
    for (int i = 0; i < NK; i++) k32[i] = (float)((double *)w.data)[i];
    for (int i = 0; i < NX; i++) x32[i] = (float)x[i];
    for (int i = 0; i < 2; i++) b32[i] = (float)((double *)b.data)[i];
    int64_t bshape[1] = {2};
    tn_tensor kt = {k32, 4, kshape, NULL}, bt = {b32, 1, bshape, NULL};
    tn_conv *f = NULL;
    c32.in_channels = c32.out_channels = 0;
    CHECK_OK(tn_conv_from_dense(&c32, &kt, &bt, -1.0, 0, &f));
    if (f) {
        tn_tensor x32t = {x32, 4, in_shape, NULL}, y32t = {y32, 4, out_shape, NULL};
        CHECK_OK(tn_conv_forward(f, TN_FLOAT32, &x32t, &y32t));
        double worst = 0;
        for (int i = 0; i < NY; i++) worst = fmax(worst, fabs(y32[i] - yr[i]));
        CHECK(worst < 1e-5, "float32 forward err %g", worst);
        CHECK_STATUS(TN_ERR_DTYPE, tn_conv_forward(f, TN_FLOAT64, &xt, &yt));
        CHECK_OK(tn_conv_destroy(f));
    }
    CHECK_OK(tn_conv_destroy(conv));
}

static void test_tucker_tt(void) {
    /* Tucker: the kernel of tnswift.h's formula. */
    int64_t tr[2] = {2, 3};
    tn_conv_config cfg = base_config(TN_CONV_TUCKER, 4, 3, 3, 2);
    cfg.n_ranks = 2;
    cfg.ranks = tr;
    cfg.bias = 0;
    tn_conv *t = NULL;
    CHECK_OK(tn_conv_create(&cfg, &t));
    if (t) {
        tn_layer_param core, u_out, u_in;
        CHECK_OK(tn_conv_param_get(t, 0, &core));
        CHECK_OK(tn_conv_param_get(t, 1, &u_out));
        CHECK_OK(tn_conv_param_get(t, 2, &u_in));
        CHECK(core.ndim == 4 && core.shape[0] == 2 && core.shape[1] == 3 && u_out.shape[0] == 3 && u_in.shape[0] == 4,
              "tucker shapes");
        double k[72], want[72];
        const double *G = core.data, *A = u_out.data, *B = u_in.data;
        for (int o = 0; o < 3; o++)
            for (int c = 0; c < 4; c++)
                for (int s = 0; s < 6; s++) {
                    double v = 0;
                    for (int a = 0; a < 2; a++)
                        for (int bb = 0; bb < 3; bb++) v += A[o * 2 + a] * G[(a * 3 + bb) * 6 + s] * B[c * 3 + bb];
                    want[(o * 4 + c) * 6 + s] = v;
                }
        int64_t ks[4] = {3, 4, 3, 2};
        tn_tensor kt = {k, 4, ks, NULL};
        CHECK_OK(tn_conv_dense_kernel(t, TN_FLOAT64, &kt));
        CHECK(scaled_err(k, want, 72) < 1e-13, "tucker kernel");
        CHECK_OK(tn_conv_destroy(t));
    }
    /* TT with channel modes (2, 2) -> (3, 1), ranks (2, 2). */
    int64_t im[2] = {2, 2}, om[2] = {3, 1}, rr[2] = {2, 2};
    cfg = base_config(TN_CONV_TT, 4, 3, 2, 2);
    cfg.n_in_modes = 2;
    cfg.in_modes = im;
    cfg.n_out_modes = 2;
    cfg.out_modes = om;
    cfg.n_ranks = 2;
    cfg.ranks = rr;
    CHECK_OK(tn_conv_create(&cfg, &t));
    if (t) {
        tn_layer_param s0, g1, g2;
        CHECK_OK(tn_conv_param_get(t, 0, &s0));
        CHECK_OK(tn_conv_param_get(t, 1, &g1));
        CHECK_OK(tn_conv_param_get(t, 2, &g2));
        CHECK(strcmp(s0.name, "core_0") == 0 && s0.shape[2] == 2 && g1.ndim == 4 && g1.shape[2] == 3 && g2.shape[3] == 1,
              "tt shapes");
        const double *S = s0.data, *G1 = g1.data, *G2 = g2.data;
        double k[48], want[48];
        for (int o1 = 0; o1 < 3; o1++)
            for (int c1 = 0; c1 < 2; c1++)
                for (int c2 = 0; c2 < 2; c2++)
                    for (int s = 0; s < 4; s++) {
                        double v = 0;
                        for (int a = 0; a < 2; a++)
                            for (int bb = 0; bb < 2; bb++)
                                v += S[s * 2 + a] * G1[((a * 2 + c1) * 3 + o1) * 2 + bb] * G2[(bb * 2 + c2) * 1 + 0];
                        want[(o1 * 4 + c1 * 2 + c2) * 4 + s] = v;
                    }
        int64_t ks[4] = {3, 4, 2, 2};
        tn_tensor kt = {k, 4, ks, NULL};
        CHECK_OK(tn_conv_dense_kernel(t, TN_FLOAT64, &kt));
        CHECK(scaled_err(k, want, 48) < 1e-13, "tt kernel");
        /* TT from_dense with a generous cap is exact. */
        tn_conv_config fc = cfg;
        int64_t cap = 64;
        fc.ranks = &cap;
        fc.n_ranks = 1;
        tn_conv *f = NULL;
        CHECK_OK(tn_conv_from_dense(&fc, &kt, NULL, -1.0, 0, &f));
        if (f) {
            double k2[48];
            tn_tensor k2t = {k2, 4, ks, NULL};
            CHECK_OK(tn_conv_dense_kernel(f, TN_FLOAT64, &k2t));
            CHECK(scaled_err(k2, want, 48) < 1e-12, "tt from_dense");
            CHECK_OK(tn_conv_destroy(f));
        }
        /* A foreign pointer (a tn_conv passed as a tn_layer and back). */
        tn_layer_info li;
        CHECK_STATUS(TN_ERR_HANDLE, tn_layer_info_get((const tn_layer *)t, &li));
        CHECK_OK(tn_conv_destroy(t));
    }
}

static void test_bad_configs(void) {
    tn_conv *c = NULL;
    int64_t rank = 2, zero = 0;
    tn_conv_config cfg = base_config(TN_CONV_CP, 3, 4, 3, 3);
    cfg.n_ranks = 1;
    cfg.ranks = &rank;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(NULL, &c));
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(&cfg, NULL));
    tn_conv_config bad = cfg;
    bad.kind = 9;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(&bad, &c));
    bad = cfg;
    bad.dtype = 7;
    CHECK_STATUS(TN_ERR_DTYPE, tn_conv_create(&bad, &c));
    bad = cfg;
    bad.stride[1] = 0;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(&bad, &c));
    bad = cfg;
    bad.dilation[0] = -1;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(&bad, &c));
    bad = cfg;
    bad.padding[0] = -2;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(&bad, &c));
    bad = cfg;
    bad.padding_mode = TN_CONV_PAD_SAME;
    bad.stride[0] = 2;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(&bad, &c));
    bad = cfg;
    bad.padding_mode = 5;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(&bad, &c));
    bad = cfg;
    bad.ranks = &zero;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(&bad, &c));
    bad = cfg;
    bad.ranks = NULL;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(&bad, &c));
    bad = cfg;
    bad.kernel_size[0] = 0;
    CHECK_STATUS(TN_ERR_VALUE, tn_conv_create(&bad, &c));
    bad = cfg;
    bad.in_channels = 0;
    CHECK_STATUS(TN_ERR_SHAPE, tn_conv_create(&bad, &c));
    bad = base_config(TN_CONV_DENSE, (int64_t)1 << 40, (int64_t)1 << 40, 3, 3);
    CHECK_STATUS(TN_ERR_MEMORY, tn_conv_create(&bad, &c));
    int64_t big[2] = {(int64_t)1 << 32, (int64_t)1 << 32};
    bad = cfg;
    bad.in_channels = INT64_MAX;
    bad.n_in_modes = 2;
    bad.in_modes = big;
    CHECK_STATUS(TN_ERR_SHAPE, tn_conv_create(&bad, &c));
    CHECK(c == NULL, "failed create leaves *conv NULL");

    /* A kernel larger than the padded input. */
    tn_conv_config v = base_config(TN_CONV_DENSE, 2, 2, 5, 5);
    v.padding_mode = TN_CONV_PAD_VALID;
    CHECK_OK(tn_conv_create(&v, &c));
    if (c) {
        int64_t in_shape[4] = {1, 2, 4, 9}, out_shape[4];
        CHECK_STATUS(TN_ERR_SHAPE, tn_conv_output_shape(c, in_shape, out_shape));
        CHECK(strstr(tn_last_error(), "padded input") != NULL, "message: %s", tn_last_error());
        double x[72], y[10];
        int64_t ys[4] = {1, 2, 1, 5};
        tn_tensor xt = {x, 4, in_shape, NULL}, yt = {y, 4, ys, NULL};
        CHECK_STATUS(TN_ERR_SHAPE, tn_conv_forward(c, TN_FLOAT64, &xt, &yt));
        CHECK_STATUS(TN_ERR_VALUE, tn_conv_output_shape(c, NULL, out_shape));
        CHECK_OK(tn_conv_destroy(c));
    }
    /* NULL handles. */
    tn_conv_info info;
    CHECK_STATUS(TN_ERR_HANDLE, tn_conv_info_get(NULL, &info));
    CHECK_STATUS(TN_ERR_HANDLE, tn_conv_destroy(NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_conv_forward(NULL, TN_FLOAT64, NULL, NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_conv_backward(NULL, TN_FLOAT64, NULL, NULL, NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_conv_dense_kernel(NULL, TN_FLOAT64, NULL));
    double junk[8];
    CHECK_STATUS(TN_ERR_HANDLE, tn_conv_info_get((const tn_conv *)junk, &info));
}

int main(void) {
    test_cp_against_reference();
    test_dense_and_float32();
    test_tucker_tt();
    test_bad_configs();
    return tn_report("test_conv");
}
