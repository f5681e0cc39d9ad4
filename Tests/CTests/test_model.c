/* Models through the C ABI: a safetensors model file written here byte by byte (the format
   Python and Swift write) loads and runs, and broken files, handles and arguments give a
   status and a message. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tn_check.h"
#include "tnswift.h"

/* Linear 3->2 (bias), ReLU, Linear 2->1 (bias), float64. */
static const double W0[6] = {1, -2, 0.5, 1, -1, 3}, B0[2] = {0.25, -0.5};
static const double W1[2] = {2, -1}, B1[1] = {0.125};

static size_t write_model(const char *path, size_t truncate_to) {
    const char *header =
        "{\"__metadata__\":{\"tnswift.model\":\"{\\\"format\\\":1,\\\"dtype\\\":\\\"float64\\\",\\\"stages\\\":["
        "{\\\"type\\\":\\\"Linear\\\",\\\"in_features\\\":3,\\\"out_features\\\":2,\\\"bias\\\":true},"
        "{\\\"type\\\":\\\"activation\\\",\\\"name\\\":\\\"relu\\\"},"
        "{\\\"type\\\":\\\"Linear\\\",\\\"in_features\\\":2,\\\"out_features\\\":1,\\\"bias\\\":true}]}\"},"
        "\"stages.0.weight\":{\"dtype\":\"F64\",\"shape\":[3,2],\"data_offsets\":[0,48]},"
        "\"stages.0.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[48,64]},"
        "\"stages.2.weight\":{\"dtype\":\"F64\",\"shape\":[2,1],\"data_offsets\":[64,80]},"
        "\"stages.2.bias\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[80,88]}}";
    uint64_t n = strlen(header);
    unsigned char buf[4096];
    size_t at = 0;
    for (int i = 0; i < 8; i++) buf[at++] = (unsigned char)(n >> (8 * i));
    memcpy(buf + at, header, n);
    at += n;
    memcpy(buf + at, W0, sizeof W0); at += sizeof W0;
    memcpy(buf + at, B0, sizeof B0); at += sizeof B0;
    memcpy(buf + at, W1, sizeof W1); at += sizeof W1;
    memcpy(buf + at, B1, sizeof B1); at += sizeof B1;
    if (truncate_to && truncate_to < at) at = truncate_to;
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(buf, 1, at, f);
    fclose(f);
    return at;
}

static double reference(const double *x) {
    double h[2];
    for (int j = 0; j < 2; j++) {
        h[j] = B0[j];
        for (int i = 0; i < 3; i++) h[j] += x[i] * W0[i * 2 + j];
        if (h[j] < 0) h[j] = 0;
    }
    return B1[0] + h[0] * W1[0] + h[1] * W1[1];
}

/* A float64 layer of the given kind (TT or Tucker ranks 2, CP rank 3) with a bias. */
static tn_layer *make_layer(int32_t kind, int32_t dtype, int64_t in0, int64_t in1, int64_t out0, int64_t out1) {
    int64_t ins[2] = {in0, in1}, outs[2] = {out0, out1}, ranks[1] = {kind == TN_LAYER_CP ? 3 : 2};
    tn_layer_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.dtype = dtype;
    c.n_in_modes = kind == TN_LAYER_LINEAR ? 1 : 2;
    c.n_out_modes = c.n_in_modes;
    int64_t in_flat[1] = {in0 * in1}, out_flat[1] = {out0 * out1};
    c.in_modes = kind == TN_LAYER_LINEAR ? in_flat : ins;
    c.out_modes = kind == TN_LAYER_LINEAR ? out_flat : outs;
    c.n_ranks = kind == TN_LAYER_LINEAR ? 0 : 1;
    c.ranks = ranks;
    c.bias = 1;
    c.seed = 11;
    tn_layer *l = NULL;
    CHECK_OK(tn_layer_create(&c, &l));
    return l;
}

/* Builds a model from layer handles, saves it, loads it back and takes it apart. */
static void check_create_save(const char *path) {
    tn_layer *tt = make_layer(TN_LAYER_TT, TN_FLOAT64, 2, 3, 2, 2);
    tn_layer *cp = make_layer(TN_LAYER_CP, TN_FLOAT64, 2, 2, 3, 1);
    tn_layer *lin = make_layer(TN_LAYER_LINEAR, TN_FLOAT64, 3, 1, 2, 1);
    if (!tt || !cp || !lin) return;
    tn_model_stage stages[6] = {
        {TN_STAGE_FLATTEN, 0, 0, NULL}, {TN_STAGE_LAYER, 0, 0, tt}, {TN_STAGE_ACTIVATION, TN_ACT_TANH, 0, NULL},
        {TN_STAGE_DROPOUT, 0, 0.25, NULL}, {TN_STAGE_LAYER, 0, 0, cp}, {TN_STAGE_LAYER, 0, 0, lin}};
    tn_model *m = NULL;
    CHECK_OK(tn_model_create(6, stages, &m));
    /* The model shares its layers: destroying the caller's handles leaves it working. */
    CHECK_OK(tn_layer_destroy(tt));
    double x[12] = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 1, 2, -3, 0.5, 0.25, -1}, y[4], y2[4];
    CHECK_OK(tn_model_forward(m, TN_FLOAT64, 2, x, y));
    /* Reference: the same chain by hand through the layer API (dropout is the identity). */
    double h[12], g[8];
    tn_layer *tt_again = NULL;
    tn_model_stage st;
    CHECK_OK(tn_model_stage_get(m, 1, &st));
    CHECK(st.kind == TN_STAGE_LAYER && st.layer != NULL, "stage 1 is a layer");
    tt_again = st.layer;
    tn_layer_info li;
    CHECK_OK(tn_layer_info_get(tt_again, &li));
    CHECK(li.kind == TN_LAYER_TT && li.in_features == 6 && li.out_features == 4, "stage 1 is the TT layer");
    int64_t xs[2] = {2, 6}, hs[2] = {2, 4}, gs[2] = {2, 3}, ys[2] = {2, 2};
    tn_tensor tx = {x, 2, xs, NULL}, th = {h, 2, hs, NULL}, tg = {g, 2, gs, NULL}, ty = {y2, 2, ys, NULL};
    CHECK_OK(tn_layer_forward(tt_again, TN_FLOAT64, &tx, &th));
    for (int i = 0; i < 8; i++) h[i] = tanh(h[i]);
    th.shape = hs;
    CHECK_OK(tn_layer_forward(cp, TN_FLOAT64, &th, &tg));
    CHECK_OK(tn_layer_forward(lin, TN_FLOAT64, &tg, &ty));
    int same = 1;
    for (int i = 0; i < 4; i++) same &= fabs(y[i] - y2[i]) <= 1e-13 * (1 + fabs(y2[i]));
    CHECK(same, "the built model differs from its layers run in turn");
    CHECK_OK(tn_model_stage_get(m, 2, &st));
    CHECK(st.kind == TN_STAGE_ACTIVATION && st.activation == TN_ACT_TANH && st.layer == NULL, "stage 2 is tanh");
    CHECK_OK(tn_model_stage_get(m, 3, &st));
    CHECK(st.kind == TN_STAGE_DROPOUT && st.dropout == 0.25, "stage 3 is dropout 0.25");
    CHECK_STATUS(TN_ERR_VALUE, tn_model_stage_get(m, 6, &st));
    CHECK_STATUS(TN_ERR_VALUE, tn_model_stage_get(m, -1, &st));
    CHECK_STATUS(TN_ERR_VALUE, tn_model_stage_get(m, 0, NULL));

    /* Save, load, same outputs; the loaded stages describe the same structure. */
    CHECK_OK(tn_model_save(m, path));
    tn_model *back = NULL;
    CHECK_OK(tn_model_load(path, &back));
    double yb[4];
    CHECK_OK(tn_model_forward(back, TN_FLOAT64, 2, x, yb));
    CHECK(memcmp(y, yb, sizeof y) == 0, "a saved and loaded model gives other outputs");
    tn_model_info info;
    CHECK_OK(tn_model_info_get(back, &info));
    CHECK(info.n_stages == 6 && info.in_features == 6 && info.out_features == 2, "loaded model info");
    CHECK_OK(tn_model_stage_get(back, 0, &st));
    CHECK(st.kind == TN_STAGE_FLATTEN, "stage 0 is flatten");
    CHECK_OK(tn_model_stage_get(back, 4, &st));
    CHECK_OK(tn_layer_info_get(st.layer, &li));
    CHECK(li.kind == TN_LAYER_CP, "stage 4 is the CP layer");
    /* Its handle shares the model's parameters: zeroing them changes the model's output. */
    tn_layer_param p;
    for (int64_t i = 0; i < li.n_params; i++) { /* n_params counts the bias */
        CHECK_OK(tn_layer_param_get(st.layer, i, &p));
        memset(p.data, 0, (size_t)p.size * sizeof(double));
    }
    CHECK_OK(tn_model_forward(back, TN_FLOAT64, 2, x, yb));
    CHECK_OK(tn_layer_param_get(lin, 1, &p)); /* lin: weight, bias */
    double *lb = p.data;
    CHECK(fabs(yb[0] - lb[0]) < 1e-15 && fabs(yb[3] - lb[1]) < 1e-15, "zeroed CP layer: y is the last bias");
    CHECK_OK(tn_layer_destroy(st.layer));
    CHECK_OK(tn_layer_destroy(tt_again));
    CHECK_OK(tn_model_destroy(back));

    /* Bad models. */
    tn_model *bad = (tn_model *)1;
    CHECK_STATUS(TN_ERR_SHAPE, tn_model_create(0, stages, &bad));
    CHECK(bad == NULL, "a failed create leaves *model NULL");
    CHECK_STATUS(TN_ERR_VALUE, tn_model_create(1, NULL, &bad));
    CHECK_STATUS(TN_ERR_VALUE, tn_model_create(1, stages, NULL));
    tn_model_stage only_act[1] = {{TN_STAGE_ACTIVATION, TN_ACT_RELU, 0, NULL}};
    CHECK_STATUS(TN_ERR_SHAPE, tn_model_create(1, only_act, &bad));
    tn_model_stage bad_act[2] = {{TN_STAGE_LAYER, 0, 0, cp}, {TN_STAGE_ACTIVATION, 9, 0, NULL}};
    CHECK_STATUS(TN_ERR_VALUE, tn_model_create(2, bad_act, &bad));
    tn_model_stage bad_kind[2] = {{TN_STAGE_LAYER, 0, 0, cp}, {42, 0, 0, NULL}};
    CHECK_STATUS(TN_ERR_VALUE, tn_model_create(2, bad_kind, &bad));
    tn_model_stage bad_p[2] = {{TN_STAGE_LAYER, 0, 0, cp}, {TN_STAGE_DROPOUT, 0, 1.0, NULL}};
    CHECK_STATUS(TN_ERR_VALUE, tn_model_create(2, bad_p, &bad));
    tn_model_stage nan_p[2] = {{TN_STAGE_LAYER, 0, 0, cp}, {TN_STAGE_DROPOUT, 0, NAN, NULL}};
    CHECK_STATUS(TN_ERR_VALUE, tn_model_create(2, nan_p, &bad));
    tn_model_stage widths[2] = {{TN_STAGE_LAYER, 0, 0, lin}, {TN_STAGE_LAYER, 0, 0, cp}};
    CHECK_STATUS(TN_ERR_SHAPE, tn_model_create(2, widths, &bad));
    tn_model_stage null_layer[1] = {{TN_STAGE_LAYER, 0, 0, NULL}};
    CHECK_STATUS(TN_ERR_HANDLE, tn_model_create(1, null_layer, &bad));
    tn_model_stage stale[1] = {{TN_STAGE_LAYER, 0, 0, tt}};  /* destroyed above */
    CHECK_STATUS(TN_ERR_HANDLE, tn_model_create(1, stale, &bad));
    tn_layer *f32 = make_layer(TN_LAYER_LINEAR, TN_FLOAT32, 2, 1, 6, 1);
    tn_model_stage mixed[2] = {{TN_STAGE_LAYER, 0, 0, f32}, {TN_STAGE_LAYER, 0, 0, tt_again}};
    mixed[1].layer = cp;
    CHECK_STATUS(TN_ERR_DTYPE, tn_model_create(2, mixed, &bad));
    CHECK(strlen(tn_last_error()) > 0, "a message");
    CHECK_STATUS(TN_ERR_VALUE, tn_model_save(m, NULL));
    CHECK_STATUS(TN_ERR_VALUE, tn_model_save(m, "/nonexistent-dir/model.safetensors"));
    CHECK_STATUS(TN_ERR_HANDLE, tn_model_save(NULL, path));
    tn_layer_destroy(f32);
    tn_layer_destroy(cp);
    tn_layer_destroy(lin);
    tn_model_destroy(m);
}

int main(void) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/tnswift-c-model-%d.safetensors", (int)getpid());
    size_t size = write_model(path, 0);
    CHECK(size > 0, "could not write %s", path);

    tn_model *m = NULL;
    CHECK_OK(tn_model_load(path, &m));
    tn_model_info info;
    CHECK_OK(tn_model_info_get(m, &info));
    CHECK(info.dtype == TN_FLOAT64 && info.in_features == 3 && info.out_features == 1 && info.n_stages == 3,
          "info %d %lld %lld %lld", info.dtype, (long long)info.in_features, (long long)info.out_features,
          (long long)info.n_stages);
    double x[6] = {1, 2, 3, -1, 0.5, -2}, y[2] = {NAN, NAN};
    CHECK_OK(tn_model_forward(m, TN_FLOAT64, 2, x, y));
    CHECK(fabs(y[0] - reference(x)) < 1e-14 && fabs(y[1] - reference(x + 3)) < 1e-14,
          "y = %g %g, want %g %g", y[0], y[1], reference(x), reference(x + 3));
    CHECK_OK(tn_model_forward(m, TN_FLOAT64, 0, NULL, NULL));

    /* Bad arguments. */
    float xf[3] = {0}, yf[1];
    CHECK_STATUS(TN_ERR_DTYPE, tn_model_forward(m, TN_FLOAT32, 1, xf, yf));
    CHECK_STATUS(TN_ERR_VALUE, tn_model_forward(m, TN_FLOAT64, -1, x, y));
    CHECK_STATUS(TN_ERR_VALUE, tn_model_forward(m, TN_FLOAT64, 1, NULL, y));
    CHECK_STATUS(TN_ERR_DTYPE, tn_model_forward(m, 7, 1, x, y));
    CHECK_STATUS(TN_ERR_VALUE, tn_model_info_get(m, NULL));
    CHECK_OK(tn_model_destroy(m));
    CHECK_STATUS(TN_ERR_HANDLE, tn_model_forward(m, TN_FLOAT64, 1, x, y));
    CHECK_STATUS(TN_ERR_HANDLE, tn_model_destroy(m));
    CHECK_STATUS(TN_ERR_HANDLE, tn_model_info_get(NULL, &info));

    /* Broken files: missing, every truncation, not a model. */
    tn_model *bad = (tn_model *)1;
    CHECK_STATUS(TN_ERR_VALUE, tn_model_load("/nonexistent/model.safetensors", &bad));
    CHECK(bad == NULL, "a failed load leaves *model NULL");
    CHECK_STATUS(TN_ERR_VALUE, tn_model_load(NULL, &bad));
    CHECK_STATUS(TN_ERR_VALUE, tn_model_load(path, NULL));
    int truncations_ok = 1;
    for (size_t n = 1; n < size; n += 7) {
        write_model(path, n);
        tn_model *t = NULL;
        if (tn_model_load(path, &t) == TN_OK) { truncations_ok = 0; tn_model_destroy(t); }
    }
    CHECK(truncations_ok, "a truncated model file loaded");
    FILE *f = fopen(path, "wb");
    if (f) { fputs("not a model at all", f); fclose(f); }
    CHECK_STATUS(TN_ERR_VALUE, tn_model_load(path, &bad));
    CHECK(strlen(tn_last_error()) > 0, "a message");
    check_create_save(path);
    unlink(path);
    return tn_report("test_model");
}
