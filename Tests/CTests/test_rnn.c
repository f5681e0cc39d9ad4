/* C ABI TT recurrent layers: TT-LSTM and TT-GRU forward against a plain C reference of
   PyTorch's equations with W_ih rebuilt here from the TT cores by the TT-matrix definition in
   tnswift.h, gradients of one core entry, one W_hh entry, one bias entry, dx and dh0 against
   central differences of that reference, strided and (1, batch, hidden) states, float32, and
   the error paths (bad configs, wrong shapes, wrong dtype, NaN in d_out, backward before
   forward, cell arrays for a GRU, NULL / destroyed / foreign handles).
   Prints "test_rnn: N passed, M failed". */
#include <stdint.h>

#include "tn_check.h"

#define MAXD 4
#define MAXN 4096

/* One layer's sizes and its parameters (pointers into the layer). */
typedef struct {
    int gates, d, batch, steps, input, hidden;
    int64_t in_modes[MAXD], out_modes[MAXD], ranks[MAXD + 1];
    double *cores[MAXD], *bih, *whh, *bhh;
    double *gcores[MAXD], *gbih, *gwhh, *gbhh;
} model;

static double sigmoid(double v) { return 1 / (1 + exp(-v)); }

/* W_ih (input x G*hidden) from the cores: chained slices core_k[:, i_k, j_k, :]. */
static void rebuild_wih(const model *m, double *w) {
    int width = m->gates * m->hidden;
    for (int row = 0; row < m->input; row++)
        for (int col = 0; col < width; col++) {
            int64_t ri[MAXD], ci[MAXD], r = row, c = col;
            for (int k = m->d - 1; k >= 0; k--) {
                ri[k] = r % m->in_modes[k];
                r /= m->in_modes[k];
                ci[k] = c % m->out_modes[k];
                c /= m->out_modes[k];
            }
            double v[16] = {1}, next[16];
            for (int k = 0; k < m->d; k++) {
                for (int64_t b = 0; b < m->ranks[k + 1]; b++) {
                    next[b] = 0;
                    for (int64_t a = 0; a < m->ranks[k]; a++)
                        next[b] += v[a] * m->cores[k][((a * m->in_modes[k] + ri[k]) * m->out_modes[k] + ci[k]) * m->ranks[k + 1] + b];
                }
                memcpy(v, next, sizeof next);
            }
            w[row * width + col] = v[0];
        }
}

/* PyTorch's equations: x (batch, steps, input) contiguous, h0 / c0 (batch, hidden) or NULL.
   Writes out (batch, steps, hidden), hn, cn (LSTM). */
static void reference(const model *m, const double *x, const double *h0, const double *c0, double *out, double *hn,
                      double *cn) {
    static double wih[MAXN];
    rebuild_wih(m, wih);
    int H = m->hidden, W = m->gates * H;
    double h[64], c[64], gx[256], gh[256];
    for (int b = 0; b < m->batch; b++) {
        for (int j = 0; j < H; j++) {
            h[j] = h0 ? h0[b * H + j] : 0;
            c[j] = c0 ? c0[b * H + j] : 0;
        }
        for (int t = 0; t < m->steps; t++) {
            const double *xt = x + (b * m->steps + t) * m->input;
            for (int k = 0; k < W; k++) {
                gx[k] = m->bih[k];
                gh[k] = m->bhh[k];
                for (int i = 0; i < m->input; i++) gx[k] += xt[i] * wih[i * W + k];
                for (int i = 0; i < H; i++) gh[k] += h[i] * m->whh[i * W + k];
            }
            for (int j = 0; j < H; j++) {
                if (m->gates == 4) {
                    double ig = sigmoid(gx[j] + gh[j]), fg = sigmoid(gx[H + j] + gh[H + j]);
                    double gg = tanh(gx[2 * H + j] + gh[2 * H + j]), og = sigmoid(gx[3 * H + j] + gh[3 * H + j]);
                    c[j] = fg * c[j] + ig * gg;
                    h[j] = og * tanh(c[j]);
                } else {
                    double r = sigmoid(gx[j] + gh[j]), z = sigmoid(gx[H + j] + gh[H + j]);
                    double n = tanh(gx[2 * H + j] + r * gh[2 * H + j]);
                    h[j] = (1 - z) * n + z * h[j];
                }
                out[(b * m->steps + t) * H + j] = h[j];
            }
        }
        for (int j = 0; j < H; j++) {
            hn[b * H + j] = h[j];
            if (cn) cn[b * H + j] = c[j];
        }
    }
}

/* L = sum(out * wo) + sum(hn * wh) + sum(cn * wc) by the reference. */
static double loss(const model *m, const double *x, const double *h0, const double *c0, const double *wo, const double *wh,
                   const double *wc) {
    static double out[MAXN], hn[256], cn[256];
    reference(m, x, h0, c0, out, hn, m->gates == 4 ? cn : NULL);
    double s = 0;
    for (int i = 0; i < m->batch * m->steps * m->hidden; i++) s += out[i] * wo[i];
    for (int i = 0; i < m->batch * m->hidden; i++) s += hn[i] * wh[i] + (m->gates == 4 ? cn[i] * wc[i] : 0);
    return s;
}

static void bind(model *m, tn_rnn *r) {
    tn_layer_param p;
    for (int k = 0; k < m->d; k++) {
        CHECK_OK(tn_rnn_param_get(r, k, &p));
        m->cores[k] = p.data;
        m->gcores[k] = p.grad;
        CHECK(p.ndim == 4 && p.shape[1] == m->in_modes[k] && p.shape[2] == m->out_modes[k] && p.shape[3] == m->ranks[k + 1],
              "core %d shape", k);
        char want[24];
        snprintf(want, sizeof want, "core_%d", k);
        CHECK(strcmp(p.name, want) == 0, "core %d name %s", k, p.name);
    }
    const char *names[3] = {"bias_ih", "weight_hh", "bias_hh"};
    double **data[3] = {&m->bih, &m->whh, &m->bhh}, **grad[3] = {&m->gbih, &m->gwhh, &m->gbhh};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(tn_rnn_param_get(r, m->d + i, &p));
        *data[i] = p.data;
        *grad[i] = p.grad;
        CHECK(strcmp(p.name, names[i]) == 0, "parameter %d is %s", m->d + i, p.name);
    }
    CHECK(p.ndim == 1 && p.shape[0] == m->gates * m->hidden, "bias_hh shape");
    CHECK_OK(tn_rnn_param_get(r, m->d + 1, &p));
    CHECK(p.ndim == 2 && p.shape[0] == m->hidden && p.shape[1] == m->gates * m->hidden, "weight_hh is (hidden, G*hidden)");
}

/* Central difference of the reference loss in *v against the analytic gradient g. */
static void probe(const char *what, double *v, double g, const model *m, const double *x, const double *h0, const double *c0,
                  const double *wo, const double *wh, const double *wc) {
    double keep = *v, e = 1e-6;
    *v = keep + e;
    double up = loss(m, x, h0, c0, wo, wh, wc);
    *v = keep - e;
    double down = loss(m, x, h0, c0, wo, wh, wc);
    *v = keep;
    double fd = (up - down) / (2 * e);
    CHECK(fabs(fd - g) <= 1e-6 * fmax(1, fabs(fd)), "%s: gradient %.10g vs central difference %.10g", what, g, fd);
}

static void run_float64(model *m, tn_rnn_config *c) {
    tn_rnn *r = NULL;
    CHECK_OK(tn_rnn_create(c, &r));
    tn_rnn_info info;
    CHECK_OK(tn_rnn_info_get(r, &info));
    CHECK(info.kind == c->kind && info.dtype == TN_FLOAT64 && info.input_size == m->input && info.hidden_size == m->hidden
              && info.n_modes == m->d && info.n_params == m->d + 3,
          "info kind %d input %lld params %lld", info.kind, (long long)info.input_size, (long long)info.n_params);
    bind(m, r);
    int64_t count = 0;
    for (int k = 0; k < m->d; k++) count += m->ranks[k] * m->in_modes[k] * m->out_modes[k] * m->ranks[k + 1];
    int W = m->gates * m->hidden;
    count += 2 * W + m->hidden * W;
    CHECK(info.parameter_count == count, "parameter_count %lld, expected %lld", (long long)info.parameter_count, (long long)count);
    double dense = (double)W * (m->input + m->hidden + 2);
    CHECK(fabs(info.compression - dense / (double)count) < 1e-12, "compression %g", info.compression);

    int B = m->batch, S = m->steps, I = m->input, H = m->hidden;
    static double x[MAXN], xs[MAXN], h0[256], c0[256], out[MAXN], hn[256], cn[256];
    static double rout[MAXN], rhn[256], rcn[256];
    fill_d(x, (size_t)(B * S * I));
    fill_d(h0, (size_t)(B * H));
    fill_d(c0, (size_t)(B * H));
    /* x given seq-major in memory: xs[t][b][i], seen as (batch, seq, input) by its strides. */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < S; t++)
            for (int i = 0; i < I; i++) xs[(t * B + b) * I + i] = x[(b * S + t) * I + i];
    int64_t xshape[3] = {B, S, I}, xstrides[3] = {I, (int64_t)B * I, 1};
    int64_t oshape[3] = {B, S, H}, sshape[3] = {1, B, H}, s2[2] = {B, H};
    tn_tensor xt = {xs, 3, xshape, xstrides}, ot = {out, 3, oshape, NULL};
    tn_tensor h0t = {h0, 3, sshape, NULL}, c0t = {c0, 2, s2, NULL}, hnt = {hn, 2, s2, NULL}, cnt = {cn, 3, sshape, NULL};
    int lstm = m->gates == 4;
    CHECK_OK(tn_rnn_forward(r, TN_FLOAT64, &xt, &h0t, lstm ? &c0t : NULL, &ot, &hnt, lstm ? &cnt : NULL));
    reference(m, x, h0, lstm ? c0 : NULL, rout, rhn, lstm ? rcn : NULL);
    double worst = 0;
    for (int i = 0; i < B * S * H; i++) worst = fmax(worst, fabs(out[i] - rout[i]));
    for (int i = 0; i < B * H; i++) worst = fmax(worst, fmax(fabs(hn[i] - rhn[i]), lstm ? fabs(cn[i] - rcn[i]) : 0));
    CHECK(worst < 1e-12, "%s forward differs from the reference by %g", lstm ? "LSTM" : "GRU", worst);
    /* Zero initial states by NULL. */
    CHECK_OK(tn_rnn_forward(r, TN_FLOAT64, &xt, NULL, NULL, &ot, NULL, NULL));
    reference(m, x, NULL, NULL, rout, rhn, lstm ? rcn : NULL);
    worst = 0;
    for (int i = 0; i < B * S * H; i++) worst = fmax(worst, fabs(out[i] - rout[i]));
    CHECK(worst < 1e-12, "zero states: forward differs by %g", worst);

    /* Gradients at (x, h0, c0) of L = sum(out wo) + sum(h_n wh) + sum(c_n wc). */
    CHECK_OK(tn_rnn_forward(r, TN_FLOAT64, &xt, &h0t, lstm ? &c0t : NULL, &ot, &hnt, lstm ? &cnt : NULL));
    static double wo[MAXN], wh[256], wc[256], dx[MAXN], dh0[256], dc0[256];
    for (int i = 0; i < B * S * H; i++) wo[i] = sin(0.37 * i + 0.1);
    for (int i = 0; i < B * H; i++) {
        wh[i] = cos(0.53 * i);
        wc[i] = lstm ? sin(1.1 * i + 0.4) : 0;
    }
    tn_tensor wot = {wo, 3, oshape, NULL}, wht = {wh, 2, s2, NULL}, wct = {wc, 2, s2, NULL};
    tn_tensor dxt = {dx, 3, xshape, NULL}, dh0t = {dh0, 2, s2, NULL}, dc0t = {dc0, 2, s2, NULL};
    CHECK_OK(tn_rnn_backward(r, TN_FLOAT64, &wot, &wht, lstm ? &wct : NULL, &dxt, &dh0t, lstm ? &dc0t : NULL));
    const double *c0r = lstm ? c0 : NULL;
    int last = m->d - 1;
    probe("core_0[3]", &m->cores[0][3], m->gcores[0][3], m, x, h0, c0r, wo, wh, wc);
    probe("last core entry", &m->cores[last][7], m->gcores[last][7], m, x, h0, c0r, wo, wh, wc);
    probe("weight_hh[5]", &m->whh[5], m->gwhh[5], m, x, h0, c0r, wo, wh, wc);
    probe("bias_ih[W-1]", &m->bih[W - 1], m->gbih[W - 1], m, x, h0, c0r, wo, wh, wc);
    probe("bias_hh[1]", &m->bhh[1], m->gbhh[1], m, x, h0, c0r, wo, wh, wc);
    probe("x[b=1, t=2, i=1]", &x[(1 * S + 2) * I + 1], dx[(1 * S + 2) * I + 1], m, x, h0, c0r, wo, wh, wc);
    probe("h0[3]", &h0[3], dh0[3], m, x, h0, c0r, wo, wh, wc);
    if (lstm) probe("c0[2]", &c0[2], dc0[2], m, x, h0, c0, wo, wh, wc);
    /* Errors on a live layer. */
    int64_t bad[3] = {B, S, I + 1};
    tn_tensor badx = {xs, 3, bad, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_rnn_forward(r, TN_FLOAT64, &badx, NULL, NULL, &ot, NULL, NULL));
    CHECK_STATUS(TN_ERR_SHAPE, tn_rnn_forward(r, TN_FLOAT64, &xt, NULL, NULL, &xt, NULL, NULL));
    int64_t wrongstate[2] = {B + 1, H};
    tn_tensor badh = {h0, 2, wrongstate, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_rnn_forward(r, TN_FLOAT64, &xt, &badh, NULL, &ot, NULL, NULL));
    CHECK_STATUS(TN_ERR_DTYPE, tn_rnn_forward(r, TN_FLOAT32, &xt, NULL, NULL, &ot, NULL, NULL));
    CHECK_STATUS(TN_ERR_DTYPE, tn_rnn_forward(r, 9, &xt, NULL, NULL, &ot, NULL, NULL));
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_forward(r, TN_FLOAT64, NULL, NULL, NULL, &ot, NULL, NULL));
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_forward(r, TN_FLOAT64, &xt, NULL, NULL, NULL, NULL, NULL));
    CHECK_OK(tn_rnn_forward(r, TN_FLOAT64, &xt, NULL, NULL, &ot, NULL, NULL));
    CHECK_STATUS(TN_ERR_SHAPE, tn_rnn_backward(r, TN_FLOAT64, &wht, NULL, NULL, NULL, NULL, NULL));
    CHECK_STATUS(TN_ERR_SHAPE, tn_rnn_backward(r, TN_FLOAT64, &wot, NULL, NULL, &ot, NULL, NULL));
    wo[4] = NAN;
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_backward(r, TN_FLOAT64, &wot, NULL, NULL, NULL, NULL, NULL));
    CHECK(strstr(tn_last_error(), "NaN") != NULL, "the message names the NaN: %s", tn_last_error());
    wo[4] = 0;
    CHECK_OK(tn_rnn_backward(r, TN_FLOAT64, NULL, &wht, NULL, NULL, NULL, NULL));
    if (!lstm) {
        CHECK_STATUS(TN_ERR_VALUE, tn_rnn_forward(r, TN_FLOAT64, &xt, NULL, &c0t, &ot, NULL, NULL));
        CHECK_STATUS(TN_ERR_VALUE, tn_rnn_backward(r, TN_FLOAT64, &wot, NULL, &wct, NULL, NULL, NULL));
    }
    tn_layer_param p;
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_param_get(r, m->d + 3, &p));
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_param_get(r, -1, &p));
    CHECK_OK(tn_rnn_destroy(r));
    CHECK_STATUS(TN_ERR_HANDLE, tn_rnn_forward(r, TN_FLOAT64, &xt, NULL, NULL, &ot, NULL, NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_rnn_backward(r, TN_FLOAT64, &wot, NULL, NULL, NULL, NULL, NULL));
    CHECK_STATUS(TN_ERR_HANDLE, tn_rnn_destroy(r));
}

static void test_lstm(void) {
    /* input 6 = 2 x 3, hidden 5: W_ih 6 x 20, output modes by default the balanced (5, 4). */
    model m = {.gates = 4, .d = 2, .batch = 3, .steps = 4, .input = 6, .hidden = 5,
               .in_modes = {2, 3}, .out_modes = {5, 4}, .ranks = {1, 3, 1}};
    int64_t rank = 3;
    tn_rnn_config c = {.kind = TN_RNN_LSTM, .dtype = TN_FLOAT64, .hidden_size = 5, .n_modes = 2,
                       .input_modes = m.in_modes, .output_modes = NULL, .n_ranks = 1, .ranks = &rank, .seed = 11};
    run_float64(&m, &c);
}

static void test_gru(void) {
    /* input 8 = 2 x 2 x 2, hidden 4: W_ih 8 x 12 with output modes (3, 2, 2), ranks (2, 3). */
    model m = {.gates = 3, .d = 3, .batch = 2, .steps = 5, .input = 8, .hidden = 4,
               .in_modes = {2, 2, 2}, .out_modes = {3, 2, 2}, .ranks = {1, 2, 3, 1}};
    tn_rnn_config c = {.kind = TN_RNN_GRU, .dtype = TN_FLOAT64, .hidden_size = 4, .n_modes = 3,
                       .input_modes = m.in_modes, .output_modes = m.out_modes, .n_ranks = 2, .ranks = m.ranks + 1,
                       .seed = 4};
    run_float64(&m, &c);
}

static void test_float32_and_configs(void) {
    int64_t ins[2] = {2, 3}, outs[2] = {4, 3}, rank = 2;
    tn_rnn_config c = {.kind = TN_RNN_GRU, .dtype = TN_FLOAT32, .hidden_size = 4, .n_modes = 2,
                       .input_modes = ins, .output_modes = outs, .n_ranks = 1, .ranks = &rank, .seed = 2};
    tn_rnn *r = NULL;
    CHECK_OK(tn_rnn_create(&c, &r));
    /* The float32 layer against the float64 reference on its own parameters. */
    model m = {.gates = 3, .d = 2, .batch = 2, .steps = 3, .input = 6, .hidden = 4,
               .in_modes = {2, 3}, .out_modes = {4, 3}, .ranks = {1, 2, 1}};
    static double params[5][256]; /* core_0, core_1, bias_ih, weight_hh, bias_hh in float64 */
    tn_layer_param p;
    for (int i = 0; i < 5; i++) {
        CHECK_OK(tn_rnn_param_get(r, i, &p));
        CHECK(p.size <= 256, "parameter %d has %lld entries", i, (long long)p.size);
        for (int64_t k = 0; k < p.size && k < 256; k++) params[i][k] = ((float *)p.data)[k];
    }
    m.cores[0] = params[0];
    m.cores[1] = params[1];
    m.bih = params[2];
    m.whh = params[3];
    m.bhh = params[4];
    float x[36], out[24], hn[8];
    double xd[36], rout[24], rhn[8];
    fill_f(x, 36);
    for (int i = 0; i < 36; i++) xd[i] = x[i];
    int64_t xshape[3] = {2, 3, 6}, oshape[3] = {2, 3, 4}, sshape[2] = {2, 4};
    tn_tensor xt = {x, 3, xshape, NULL}, ot = {out, 3, oshape, NULL}, hnt = {hn, 2, sshape, NULL};
    CHECK_OK(tn_rnn_forward(r, TN_FLOAT32, &xt, NULL, NULL, &ot, &hnt, NULL));
    reference(&m, xd, NULL, NULL, rout, rhn, NULL);
    double worst = 0;
    for (int i = 0; i < 24; i++) worst = fmax(worst, fabs(out[i] - rout[i]));
    CHECK(worst < 1e-5, "float32 forward differs by %g", worst);
    CHECK_STATUS(TN_ERR_DTYPE, tn_rnn_forward(r, TN_FLOAT64, &xt, NULL, NULL, &ot, &hnt, NULL));
    CHECK_OK(tn_rnn_destroy(r));

    /* Bad configurations: each refused with no handle. */
    tn_rnn *none = NULL;
    tn_rnn_config b = c;
    b.kind = 7;
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_create(&b, &none));
    b = c;
    b.dtype = 5;
    CHECK_STATUS(TN_ERR_DTYPE, tn_rnn_create(&b, &none));
    b = c;
    b.hidden_size = 0;
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_create(&b, &none));
    b = c;
    b.hidden_size = 5; /* output modes (4, 3) multiply to 12, not 3 * 5 */
    CHECK_STATUS(TN_ERR_SHAPE, tn_rnn_create(&b, &none));
    b = c;
    b.n_ranks = 3;
    CHECK_STATUS(TN_ERR_SHAPE, tn_rnn_create(&b, &none));
    b = c;
    int64_t zero = 0;
    b.ranks = &zero;
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_create(&b, &none));
    b = c;
    b.n_modes = 0;
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_create(&b, &none));
    b = c;
    b.input_modes = NULL;
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_create(&b, &none));
    b = c;
    int64_t badins[2] = {2, 0};
    b.input_modes = badins;
    CHECK_STATUS(TN_ERR_SHAPE, tn_rnn_create(&b, &none));
    CHECK(none == NULL, "no handle on failure");
    CHECK(tn_rnn_create(NULL, &none) != TN_OK && none == NULL, "a NULL config is refused");
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_create(&c, NULL));
    /* One mode: n_ranks 0 or 1 both mean no bond. */
    int64_t one[1] = {6};
    tn_rnn_config d1 = {.kind = TN_RNN_LSTM, .dtype = TN_FLOAT64, .hidden_size = 3, .n_modes = 1, .input_modes = one,
                        .n_ranks = 0, .seed = 1};
    CHECK_OK(tn_rnn_create(&d1, &none));
    tn_rnn_info info;
    CHECK_OK(tn_rnn_info_get(none, &info));
    CHECK(info.n_params == 4 && info.parameter_count == 6 * 12 + 2 * 12 + 3 * 12, "one mode: %lld scalars",
          (long long)info.parameter_count);
    CHECK_OK(tn_rnn_destroy(none));
    /* A fresh layer has no forward to differentiate. */
    CHECK_OK(tn_rnn_create(&c, &none));
    CHECK_STATUS(TN_ERR_VALUE, tn_rnn_backward(none, TN_FLOAT32, &ot, NULL, NULL, NULL, NULL, NULL));
    CHECK_OK(tn_rnn_destroy(none));
    /* Handles. */
    CHECK_STATUS(TN_ERR_HANDLE, tn_rnn_info_get(NULL, &info));
    double junk[8];
    CHECK_STATUS(TN_ERR_HANDLE, tn_rnn_info_get((const tn_rnn *)junk, &info));
    CHECK_STATUS(TN_ERR_HANDLE, tn_rnn_destroy(NULL));
}

int main(void) {
    test_lstm();
    test_gru();
    test_float32_and_configs();
    return tn_report("test_rnn");
}
