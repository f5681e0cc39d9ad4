/* Training kernels through the C ABI: activations against math.h and finite differences,
   losses against hand computations, optimizer steps against PyTorch's formulas, and errors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tn_check.h"
#include "tnswift.h"

static double act_ref(int a, double x) {
    switch (a) {
    case TN_ACT_RELU: return x > 0 ? x : 0;
    case TN_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case TN_ACT_TANH: return tanh(x);
    case TN_ACT_SIGMOID: return 1 / (1 + exp(-x));
    default: return x;
    }
}

static void test_activations(void) {
    double x[5] = {-2.5, -0.3, 0.2, 1.0, 3.0}, y[5], dy[5] = {1, -2, 0.5, 3, -1}, dx[5];
    for (int a = TN_ACT_IDENTITY; a <= TN_ACT_SIGMOID; a++) {
        CHECK_OK(tn_activation_forward(a, TN_FLOAT64, 5, x, y));
        CHECK_OK(tn_activation_backward(a, TN_FLOAT64, 5, x, dy, dx));
        for (int i = 0; i < 5; i++) {
            CHECK(fabs(y[i] - act_ref(a, x[i])) < 1e-12, "activation %d forward at %g", a, x[i]);
            double h = 1e-6, fd = (act_ref(a, x[i] + h) - act_ref(a, x[i] - h)) / (2 * h) * dy[i];
            CHECK(fabs(dx[i] - fd) < 1e-6, "activation %d backward at %g: %g vs %g", a, x[i], dx[i], fd);
        }
    }
    float xf[2] = {-1, 2}, yf[2];
    CHECK_OK(tn_activation_forward(TN_ACT_RELU, TN_FLOAT32, 2, xf, yf));
    CHECK(yf[0] == 0 && yf[1] == 2, "float relu");
    CHECK_OK(tn_activation_forward(TN_ACT_RELU, TN_FLOAT64, 0, NULL, NULL));
    CHECK_STATUS(TN_ERR_VALUE, tn_activation_forward(9, TN_FLOAT64, 5, x, y));
    CHECK_STATUS(TN_ERR_DTYPE, tn_activation_forward(TN_ACT_RELU, 5, 5, x, y));
    CHECK_STATUS(TN_ERR_VALUE, tn_activation_forward(TN_ACT_RELU, TN_FLOAT64, -1, x, y));
    CHECK_STATUS(TN_ERR_VALUE, tn_activation_backward(TN_ACT_RELU, TN_FLOAT64, 5, x, NULL, dx));
}

static void test_losses(void) {
    double logits[6] = {1, 2, 0.5, -1, 0, 3}, grad[6], loss = -1;
    int32_t labels[2] = {1, 2};
    CHECK_OK(tn_loss_cross_entropy(TN_FLOAT64, 2, 3, logits, labels, grad, &loss));
    double want = 0;
    for (int n = 0; n < 2; n++) {
        double m = -1e300, s = 0;
        for (int c = 0; c < 3; c++) m = fmax(m, logits[n * 3 + c]);
        for (int c = 0; c < 3; c++) s += exp(logits[n * 3 + c] - m);
        want += (log(s) + m - logits[n * 3 + labels[n]]) / 2;
        for (int c = 0; c < 3; c++) {
            double p = exp(logits[n * 3 + c] - m) / s;
            CHECK(fabs(grad[n * 3 + c] - (p - (c == labels[n])) / 2) < 1e-14, "cross-entropy gradient");
        }
    }
    CHECK(fabs(loss - want) < 1e-14, "cross-entropy %g vs %g", loss, want);
    int32_t bad[2] = {1, 3};
    CHECK_STATUS(TN_ERR_VALUE, tn_loss_cross_entropy(TN_FLOAT64, 2, 3, logits, bad, NULL, &loss));
    CHECK_STATUS(TN_ERR_VALUE, tn_loss_cross_entropy(TN_FLOAT64, 2, 3, logits, labels, NULL, NULL));
    CHECK_STATUS(TN_ERR_SHAPE, tn_loss_cross_entropy(TN_FLOAT64, 0, 3, logits, labels, NULL, &loss));
    double p[2] = {1, 3}, t[2] = {0, 1}, g[2];
    CHECK_OK(tn_loss_mse(TN_FLOAT64, 2, p, t, g, &loss));
    CHECK(loss == 2.5 && g[0] == 1 && g[1] == 2, "mse %g, grad %g %g", loss, g[0], g[1]);
    CHECK_STATUS(TN_ERR_VALUE, tn_loss_mse(TN_FLOAT64, 2, NULL, t, g, &loss));
}

static void test_optimizers(void) {
    int64_t sizes[2] = {2, 1};
    double p0[2] = {1, -2}, p1[1] = {0.5}, g0[2] = {0.5, 0.25}, g1[1] = {-1};
    void *params[2] = {p0, p1};
    const void *grads[2] = {g0, g1};
    tn_optimizer_config sgd = {TN_OPT_SGD, TN_FLOAT64, 0.1, 0.9, 0, 0, 0, 0, 0, 0};
    tn_optimizer *o = NULL;
    CHECK_OK(tn_optimizer_create(&sgd, 2, sizes, &o));
    CHECK_OK(tn_optimizer_step(o, 2, params, grads));
    CHECK_OK(tn_optimizer_step(o, 2, params, grads));
    /* momentum buffers g then 1.9 g: p - 0.1 * 2.9 g */
    CHECK(fabs(p0[0] - (1 - 0.29 * 0.5)) < 1e-14 && fabs(p1[0] - (0.5 + 0.29)) < 1e-14, "sgd %g %g", p0[0], p1[0]);
    CHECK_OK(tn_optimizer_set_learning_rate(o, 0.0));
    CHECK_STATUS(TN_ERR_VALUE, tn_optimizer_set_learning_rate(o, -1));
    double nan_grad[2] = {NAN, 0};
    const void *bad[2] = {nan_grad, g1};
    double before = p0[0];
    CHECK_STATUS(TN_ERR_VALUE, tn_optimizer_step(o, 2, params, bad));
    CHECK(p0[0] == before, "a rejected step changes nothing");
    CHECK_STATUS(TN_ERR_SHAPE, tn_optimizer_step(o, 1, params, grads));
    CHECK_OK(tn_optimizer_destroy(o));
    CHECK_STATUS(TN_ERR_HANDLE, tn_optimizer_step(o, 2, params, grads));

    /* Adam, first step: p - lr * g / (|g| + eps) */
    double q[1] = {1}, gq[1] = {0.3};
    void *qp[1] = {q};
    const void *qg[1] = {gq};
    int64_t one = 1;
    tn_optimizer_config adam = {TN_OPT_ADAM, TN_FLOAT64, 0.01, 0, 0, 0, 0.9, 0.999, 1e-8, 0};
    CHECK_OK(tn_optimizer_create(&adam, 1, &one, &o));
    CHECK_OK(tn_optimizer_step(o, 1, qp, qg));
    CHECK(fabs(q[0] - (1 - 0.01 * 0.3 / (0.3 + 1e-8))) < 1e-12, "adam %g", q[0]);
    tn_optimizer_destroy(o);
    tn_optimizer_config bad_cfg = {7, TN_FLOAT64, 0.1, 0, 0, 0, 0, 0, 0, 0};
    CHECK_STATUS(TN_ERR_VALUE, tn_optimizer_create(&bad_cfg, 1, &one, &o));
    CHECK(o == NULL, "a failed create leaves the handle NULL");
    tn_optimizer_config nesterov = {TN_OPT_SGD, TN_FLOAT64, 0.1, 0, 1, 0, 0, 0, 0, 0};
    CHECK_STATUS(TN_ERR_VALUE, tn_optimizer_create(&nesterov, 1, &one, &o));
    int64_t negative = -3;
    CHECK_STATUS(TN_ERR_VALUE, tn_optimizer_create(&sgd, 1, &negative, &o));
    CHECK_STATUS(TN_ERR_VALUE, tn_optimizer_create(NULL, 1, &one, &o));
}

int main(void) {
    test_activations();
    test_losses();
    test_optimizers();
    return tn_report("test_training");
}
