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
    unlink(path);
    return tn_report("test_model");
}
