/* C ABI TT embeddings: lookups against each row rebuilt here from the cores by the definition
   in tnswift.h (chained core slices), the gradient of one core entry against a central
   difference of that definition, bags (sum/mean with padding), strided output, the dense
   table, from_dense, float32, and the error paths (bad configs, indices, offsets, dtypes,
   NaN in dout, NULL / destroyed / foreign handles). Prints "test_embedding: N passed, M failed". */
#include <stdint.h>

#include "tn_check.h"

#define D 3
static const int64_t ROWS[D] = {2, 3, 5}, COLS[D] = {2, 1, 3}, RANKS[D + 1] = {1, 3, 2, 1};

/* E[row, col] by chaining the core slices G_k[:, i_k, j_k, :] (cores row-major). */
static double entry(double *const cores[D], int64_t row, int64_t col) {
    int64_t ri[D], ci[D];
    for (int k = D - 1; k >= 0; k--) {
        ri[k] = row % ROWS[k];
        row /= ROWS[k];
        ci[k] = col % COLS[k];
        col /= COLS[k];
    }
    double v[4] = {1, 0, 0, 0}, next[4];
    for (int k = 0; k < D; k++) {
        for (int64_t b = 0; b < RANKS[k + 1]; b++) {
            next[b] = 0;
            for (int64_t a = 0; a < RANKS[k]; a++)
                next[b] += v[a] * cores[k][((a * ROWS[k] + ri[k]) * COLS[k] + ci[k]) * RANKS[k + 1] + b];
        }
        memcpy(v, next, sizeof next);
    }
    return v[0];
}

static tn_embedding_config config(int32_t dtype) {
    tn_embedding_config c;
    memset(&c, 0, sizeof c);
    c.dtype = dtype;
    c.num_embeddings = 29;
    c.embedding_dim = 6;
    c.n_modes = D;
    c.row_modes = ROWS;
    c.col_modes = COLS;
    c.n_ranks = 2;
    c.ranks = RANKS + 1;
    c.padding_idx = -1;
    c.std = NAN;
    c.seed = 3;
    return c;
}

static void test_lookups_and_gradients(void) {
    tn_embedding_config c = config(TN_FLOAT64);
    tn_embedding *e = NULL;
    CHECK_OK(tn_embedding_create(&c, &e));
    tn_embedding_info info;
    CHECK_OK(tn_embedding_info_get(e, &info));
    CHECK(info.n_params == D && info.num_embeddings == 29 && info.embedding_dim == 6 && info.padding_idx == -1,
          "info %lld %lld", (long long)info.n_params, (long long)info.embedding_dim);
    int64_t r[4], cm[4], k[4];
    CHECK_OK(tn_embedding_modes(e, r, cm, k, 4));
    CHECK(r[2] == 5 && cm[2] == 3 && k[1] == 3 && k[3] == 1, "modes");
    double *cores[D], *grads[D];
    for (int i = 0; i < D; i++) {
        tn_layer_param p;
        CHECK_OK(tn_embedding_param_get(e, i, &p));
        cores[i] = p.data;
        grads[i] = p.grad;
        CHECK(p.ndim == 4 && p.shape[1] == ROWS[i], "core %d shape", i);
    }
    int64_t idx[7] = {28, 0, 7, 7, 13, 28, 1};
    double out[7 * 6];
    int64_t shape[2] = {7, 6};
    tn_tensor ot = {out, 2, shape, NULL};
    CHECK_OK(tn_embedding_forward(e, TN_FLOAT64, idx, 7, NULL, 0, TN_EMBEDDING_ROWS, &ot));
    double worst = 0;
    for (int j = 0; j < 7; j++)
        for (int col = 0; col < 6; col++) worst = fmax(worst, fabs(out[j * 6 + col] - entry(cores, idx[j], col)));
    CHECK(worst < 1e-13, "rows differ by %g", worst);
    /* Strided output: every other row of a wider buffer. */
    double wide[14 * 6];
    int64_t strides[2] = {12, 1};
    tn_tensor wt = {wide, 2, shape, strides};
    CHECK_OK(tn_embedding_forward(e, TN_FLOAT64, idx, 7, NULL, 0, TN_EMBEDDING_ROWS, &wt));
    CHECK(wide[12 * 3 + 4] == out[3 * 6 + 4], "strided output");
    /* Gradient of L = sum(out * w) with respect to a few core entries, by central differences. */
    double w[7 * 6];
    for (int i = 0; i < 42; i++) w[i] = sin(0.7 * i + 0.3);
    tn_tensor dt = {w, 2, shape, NULL};
    CHECK_OK(tn_embedding_backward(e, TN_FLOAT64, idx, 7, NULL, 0, TN_EMBEDDING_ROWS, &dt));
    const int probes[3][2] = {{0, 5}, {1, 11}, {2, 17}};
    for (int t = 0; t < 3; t++) {
        double *x = &cores[probes[t][0]][probes[t][1]], keep = *x, h = 1e-6, up = 0, down = 0;
        *x = keep + h;
        for (int j = 0; j < 7; j++)
            for (int col = 0; col < 6; col++) up += w[j * 6 + col] * entry(cores, idx[j], col);
        *x = keep - h;
        for (int j = 0; j < 7; j++)
            for (int col = 0; col < 6; col++) down += w[j * 6 + col] * entry(cores, idx[j], col);
        *x = keep;
        double fd = (up - down) / (2 * h), g = grads[probes[t][0]][probes[t][1]];
        CHECK(fabs(fd - g) <= 1e-7 * fmax(1, fabs(g)), "core %d entry %d: grad %g vs %g", probes[t][0], probes[t][1], g, fd);
    }
    /* The dense table agrees with the lookups. */
    double table[29 * 6];
    int64_t tshape[2] = {29, 6};
    tn_tensor tt = {table, 2, tshape, NULL};
    CHECK_OK(tn_embedding_dense_table(e, TN_FLOAT64, &tt));
    CHECK(fabs(table[13 * 6 + 2] - out[4 * 6 + 2]) < 1e-14, "table row 13");
    /* from_dense with eps 1e-9 reproduces it (29 of the 30 rows the modes cover: the padded
       table need not keep ranks (3, 2), so the bound is eps, not the rank). */
    tn_embedding *f = NULL;
    CHECK_OK(tn_embedding_from_dense(&c, &tt, -1, 1e-9, &f));
    double again[29 * 6];
    tn_tensor at = {again, 2, tshape, NULL};
    CHECK_OK(tn_embedding_dense_table(f, TN_FLOAT64, &at));
    worst = 0;
    for (int i = 0; i < 29 * 6; i++) worst = fmax(worst, fabs(again[i] - table[i]));
    CHECK(worst < 1e-8, "from_dense differs by %g", worst);
    CHECK_OK(tn_embedding_destroy(f));
    CHECK_STATUS(TN_ERR_VALUE, tn_embedding_from_dense(&c, &tt, 2, 0.1, &f));
    CHECK(f == NULL, "no handle on failure");
    CHECK_OK(tn_embedding_destroy(e));
}

static void test_bags_padding_float32(void) {
    tn_embedding_config c = config(TN_FLOAT32);
    c.padding_idx = 4;
    tn_embedding *e = NULL;
    CHECK_OK(tn_embedding_create(&c, &e));
    int64_t idx[6] = {4, 2, 9, 4, 0, 2}, offsets[3] = {0, 3, 3};
    float rows[6 * 6], bags[3 * 6];
    int64_t rshape[2] = {6, 6}, bshape[2] = {3, 6};
    tn_tensor rt = {rows, 2, rshape, NULL}, bt = {bags, 2, bshape, NULL};
    CHECK_OK(tn_embedding_forward(e, TN_FLOAT32, idx, 6, NULL, 0, TN_EMBEDDING_ROWS, &rt));
    CHECK(rows[0] == 0 && rows[3 * 6 + 5] == 0, "padding rows are zero");
    CHECK_OK(tn_embedding_forward(e, TN_FLOAT32, idx, 6, offsets, 3, TN_EMBEDDING_MEAN, &bt));
    float worst = 0;
    for (int col = 0; col < 6; col++) {
        worst = fmaxf(worst, fabsf(bags[col] - (rows[6 + col] + rows[12 + col]) / 2));      /* {4, 2, 9}: 2 counted */
        worst = fmaxf(worst, fabsf(bags[6 + col]));                                          /* empty */
        worst = fmaxf(worst, fabsf(bags[12 + col] - (rows[24 + col] + rows[30 + col]) / 2)); /* {4, 0, 2} */
    }
    CHECK(worst < 1e-6f, "mean bags differ by %g", worst);
    CHECK_OK(tn_embedding_backward(e, TN_FLOAT32, idx, 6, offsets, 3, TN_EMBEDDING_SUM, &bt));
    /* Errors. */
    int64_t bad[2] = {1, 29}, neg[1] = {-1}, two[2] = {2, 6}, one[2] = {1, 6};
    tn_tensor t2 = {rows, 2, two, NULL}, t1 = {rows, 2, one, NULL};
    CHECK_STATUS(TN_ERR_VALUE, tn_embedding_forward(e, TN_FLOAT32, bad, 2, NULL, 0, TN_EMBEDDING_ROWS, &t2));
    CHECK(strstr(tn_last_error(), "29") != NULL, "message names the index: %s", tn_last_error());
    CHECK_STATUS(TN_ERR_VALUE, tn_embedding_forward(e, TN_FLOAT32, neg, 1, NULL, 0, TN_EMBEDDING_ROWS, &t1));
    CHECK_STATUS(TN_ERR_SHAPE, tn_embedding_forward(e, TN_FLOAT32, idx, 5, NULL, 0, TN_EMBEDDING_ROWS, &rt));
    int64_t late[3] = {1, 0, 0};
    CHECK_STATUS(TN_ERR_VALUE, tn_embedding_forward(e, TN_FLOAT32, idx, 6, late, 3, TN_EMBEDDING_SUM, &bt));
    CHECK_STATUS(TN_ERR_VALUE, tn_embedding_forward(e, TN_FLOAT32, idx, 6, offsets, 3, 7, &bt));
    CHECK_STATUS(TN_ERR_DTYPE, tn_embedding_forward(e, TN_FLOAT64, idx, 6, NULL, 0, TN_EMBEDDING_ROWS, &rt));
    rows[7] = NAN;
    CHECK_STATUS(TN_ERR_VALUE, tn_embedding_backward(e, TN_FLOAT32, idx, 6, NULL, 0, TN_EMBEDDING_ROWS, &rt));
    CHECK_OK(tn_embedding_destroy(e));
    CHECK_STATUS(TN_ERR_HANDLE, tn_embedding_forward(e, TN_FLOAT32, idx, 6, NULL, 0, TN_EMBEDDING_ROWS, &rt));
    tn_embedding_info info;
    CHECK_STATUS(TN_ERR_HANDLE, tn_embedding_info_get(NULL, &info));
    double junk[8];
    CHECK_STATUS(TN_ERR_HANDLE, tn_embedding_info_get((const tn_embedding *)junk, &info));
    /* Bad configurations. */
    tn_embedding_config b = config(TN_FLOAT32);
    tn_embedding *none = NULL;
    b.num_embeddings = 31; /* more rows than 2 * 3 * 5 */
    CHECK_STATUS(TN_ERR_SHAPE, tn_embedding_create(&b, &none));
    b = config(TN_FLOAT32);
    b.embedding_dim = 7;
    CHECK_STATUS(TN_ERR_SHAPE, tn_embedding_create(&b, &none));
    b = config(TN_FLOAT32);
    int64_t zero = 0;
    b.n_ranks = 1;
    b.ranks = &zero;
    CHECK_STATUS(TN_ERR_VALUE, tn_embedding_create(&b, &none));
    b = config(TN_FLOAT32);
    b.padding_idx = 29;
    CHECK_STATUS(TN_ERR_VALUE, tn_embedding_create(&b, &none));
    b = config(TN_FLOAT32);
    b.n_modes = 13;
    CHECK_STATUS(TN_ERR_VALUE, tn_embedding_create(&b, &none));
    CHECK(none == NULL, "no handle on failure");
    CHECK(tn_embedding_create(NULL, &none) != TN_OK && none == NULL, "a NULL config is refused");
}

int main(void) {
    test_lookups_and_gradients();
    test_bags_padding_float32();
    return tn_report("test_embedding");
}
