/* Classifies the Fashion-MNIST test images with a model file saved by tnswift (the demo's
   demo-output/tt_mlp.safetensors, or any model taking 784 inputs and giving 10 scores).

     cc -I Sources/TNSwiftC/include examples/c/classify.c -L .build-static/release -ltnswift \
        -Wl,-rpath,.build-static/release -o classify
     ./classify [model.safetensors] [fashion-mnist dir] [predictions.txt]

   Prints the accuracy; with a third argument, writes one predicted class per line. The IDX
   files are read through `gzip -dc` (Debian ships them gzipped), pixels scaled to [0, 1] as
   tnswift.datasets does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tnswift.h"

/* Reads a (possibly gzipped) IDX file whole; *size receives its length. */
static unsigned char *read_idx(const char *dir, const char *name, size_t *size) {
    char command[1024];
    snprintf(command, sizeof command, "gzip -dc '%s/%s.gz' 2>/dev/null || cat '%s/%s'", dir, name, dir, name);
    FILE *p = popen(command, "r");
    if (!p) return NULL;
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, p)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap *= 2);
            if (!bigger) { free(buf); buf = NULL; }
            else buf = bigger;
        }
    }
    pclose(p);
    *size = n;
    return buf;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int main(int argc, char **argv) {
    const char *model_path = argc > 1 ? argv[1] : "demo-output/tt_mlp.safetensors";
    const char *dir = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
    const char *out_path = argc > 3 ? argv[3] : NULL;

    tn_model *model = NULL;
    if (tn_model_load(model_path, &model) != TN_OK) {
        fprintf(stderr, "cannot load %s: %s\n", model_path, tn_last_error());
        return 1;
    }
    tn_model_info info;
    tn_model_info_get(model, &info);
    size_t image_bytes = 0, label_bytes = 0;
    unsigned char *images = read_idx(dir, "t10k-images-idx3-ubyte", &image_bytes);
    unsigned char *labels = read_idx(dir, "t10k-labels-idx1-ubyte", &label_bytes);
    if (!images || !labels || image_bytes < 16 || label_bytes < 8 || be32(images) != 0x803 || be32(labels) != 0x801) {
        fprintf(stderr, "cannot read the Fashion-MNIST test files in %s\n", dir);
        return 1;
    }
    int64_t n = be32(images + 4), pixels = (int64_t)be32(images + 8) * be32(images + 12);
    if ((int64_t)be32(labels + 4) != n || image_bytes < 16 + (size_t)(n * pixels) || label_bytes < 8 + (size_t)n) {
        fprintf(stderr, "the test image and label files disagree\n");
        return 1;
    }
    if (pixels != info.in_features || info.out_features < 1) {
        fprintf(stderr, "the model takes %lld inputs; the images have %lld pixels\n", (long long)info.in_features,
                (long long)pixels);
        return 1;
    }

    /* One batch of all images, in the model's precision. */
    int f32 = info.dtype == TN_FLOAT32;
    size_t item = f32 ? sizeof(float) : sizeof(double);
    void *x = malloc((size_t)(n * pixels) * item), *y = malloc((size_t)(n * info.out_features) * item);
    if (!x || !y) return 1;
    for (int64_t i = 0; i < n * pixels; i++) {
        double v = images[16 + i] / 255.0;
        if (f32) ((float *)x)[i] = (float)v;
        else ((double *)x)[i] = v;
    }
    if (tn_model_forward(model, info.dtype, n, x, y) != TN_OK) {
        fprintf(stderr, "forward: %s\n", tn_last_error());
        return 1;
    }
    FILE *out = out_path ? fopen(out_path, "w") : NULL;
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t best = 0;
        for (int64_t k = 1; k < info.out_features; k++) {
            double a = f32 ? ((float *)y)[i * info.out_features + k] : ((double *)y)[i * info.out_features + k];
            double b = f32 ? ((float *)y)[i * info.out_features + best] : ((double *)y)[i * info.out_features + best];
            if (a > b) best = k;
        }
        correct += best == labels[8 + i];
        if (out) fprintf(out, "%lld\n", (long long)best);
    }
    if (out) fclose(out);
    printf("%s: %lld of %lld test images right (accuracy %.4f)\n", model_path, (long long)correct, (long long)n,
           (double)correct / (double)n);
    free(x);
    free(y);
    free(images);
    free(labels);
    tn_model_destroy(model);
    return 0;
}
