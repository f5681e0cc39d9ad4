/* C ABI error paths: every bad call returns the documented tn_status with a message,
   and nothing crashes. Prints "test_errors: N passed, M failed". */
#include <stdint.h>

#include "tn_check.h"

static double A[12], B[20], C[15];
static int64_t sa[2] = {3, 4}, sb[2] = {4, 5}, sc[2] = {3, 5};
static int64_t ndims2[2] = {2, 2};

static tn_plan *make_plan(void) {
    const int64_t *shapes[2] = {sa, sb};
    tn_plan *plan = NULL;
    tn_status s = tn_plan_create("ij,jk->ik", 2, ndims2, shapes, TN_FLOAT64, NULL, &plan);
    CHECK(s == TN_OK && plan != NULL, "make_plan: %d (%s)", (int)s, tn_last_error());
    return plan;
}

static tn_status create(const char *eq, int64_t n, const int64_t *ndims,
                        const int64_t *const *shapes) {
    tn_plan *plan = NULL;
    tn_status s = tn_plan_create(eq, n, ndims, shapes, TN_FLOAT64, NULL, &plan);
    if (s == TN_OK) {
        tn_plan_destroy(plan);
    } else if (plan != NULL) {
        fprintf(stderr, "note: failed tn_plan_create left *plan = %p\n", (void *)plan);
    }
    return s;
}

static void test_subscripts(void) {
    const int64_t *shapes[2] = {sa, sb};
    int64_t sq[2] = {3, 3};
    const int64_t *sqs[1] = {sq};
    int64_t one[1] = {2};
    CHECK_STATUS(TN_ERR_SUBSCRIPT, create("ij,jk->i$", 2, ndims2, shapes));
    CHECK_STATUS(TN_ERR_SUBSCRIPT, create("ij,j2->ik", 2, ndims2, shapes));
    CHECK_STATUS(TN_ERR_SUBSCRIPT, create("ij,jk->ik->i", 2, ndims2, shapes));
    CHECK_STATUS(TN_ERR_SUBSCRIPT, create("ij,jk->iz", 2, ndims2, shapes));
    CHECK_STATUS(TN_ERR_SUBSCRIPT, create("ij,jk->ii", 2, ndims2, shapes));
    CHECK_STATUS(TN_ERR_SUBSCRIPT, create("..ij,jk->ik", 2, ndims2, shapes));
    CHECK_STATUS(TN_ERR_SUBSCRIPT, create("i.j,jk->ik", 2, ndims2, shapes));
    CHECK_STATUS(TN_ERR_SUBSCRIPT, create("ii->.i", 1, ndims2, sqs));
    CHECK_STATUS(TN_ERR_SUBSCRIPT, create("\xc3\xa9j,jk->ik", 2, ndims2, shapes));
    int64_t nd1[1] = {1};
    const int64_t *ones[1] = {one};
    CHECK_STATUS(TN_ERR_SUBSCRIPT, create("i->->i", 1, nd1, ones));
    /* the message says something */
    create("ij,jk->i$", 2, ndims2, shapes);
    CHECK(strlen(tn_last_error()) > 5, "message too short: '%s'", tn_last_error());
}

static void test_shapes(void) {
    int64_t bad[2] = {5, 5};
    const int64_t *mismatch[2] = {sa, bad};
    CHECK_STATUS(TN_ERR_SHAPE, create("ij,jk->ik", 2, ndims2, mismatch));
    /* the message names the label and both sizes */
    int64_t s7[2] = {3, 7}, s11[2] = {11, 2};
    const int64_t *named[2] = {s7, s11};
    create("ij,jk->ik", 2, ndims2, named);
    const char *m = tn_last_error();
    CHECK(strchr(m, 'j') && strstr(m, "7") && strstr(m, "11"),
          "dimension mismatch message should name j, 7 and 11: '%s'", m);

    int64_t nd32[2] = {3, 2};
    int64_t s3[3] = {3, 4, 2};
    const int64_t *rank[2] = {s3, sb};
    CHECK_STATUS(TN_ERR_SHAPE, create("ij,jk->ik", 2, nd32, rank));
    const int64_t *shapes[2] = {sa, sb};
    CHECK_STATUS(TN_ERR_SHAPE, create("ij,jk,kl->il", 2, ndims2, shapes));
    CHECK_STATUS(TN_ERR_SHAPE, create("ij->i", 2, ndims2, shapes));
    int64_t neg[2] = {3, -4};
    const int64_t *negs[2] = {neg, sb};
    CHECK_STATUS(TN_ERR_SHAPE, create("ij,jk->ik", 2, ndims2, negs));
    int64_t diag[2] = {3, 4};
    const int64_t *diags[1] = {diag};
    CHECK_STATUS(TN_ERR_SHAPE, create("ii->i", 1, ndims2, diags));
    /* ellipsis dims that do not broadcast */
    int64_t e1[2] = {2, 3}, e2[2] = {4, 3};
    const int64_t *ell[2] = {e1, e2};
    CHECK_STATUS(TN_ERR_SHAPE, create("...i,...i->...", 2, ndims2, ell));
    /* a negative operand count does not fit any equation */
    tn_plan *plan = NULL;
    tn_status s = tn_plan_create("ij,jk->ik", -1, ndims2, shapes, TN_FLOAT64, NULL, &plan);
    CHECK(s == TN_ERR_SHAPE || s == TN_ERR_VALUE, "n_operands=-1 -> %d", (int)s);
}

static void test_sizes_and_options(void) {
    const int64_t *shapes[2] = {sa, sb};
    tn_plan *plan = NULL;
    /* a size whose product overflows int64 */
    int64_t h1[2] = {INT64_C(1) << 40, INT64_C(1) << 40}, h2[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    const int64_t *huge[2] = {h1, h2};
    CHECK_STATUS(TN_ERR_MEMORY, tn_plan_create("ij,jk->ik", 2, ndims2, huge, TN_FLOAT32, NULL, &plan));
    int64_t m1[2] = {INT64_MAX, 2}, m2[2] = {2, INT64_MAX};
    const int64_t *maxs[2] = {m1, m2};
    CHECK_STATUS(TN_ERR_MEMORY, tn_plan_create("ij,jk->ik", 2, ndims2, maxs, TN_FLOAT32, NULL, &plan));
    /* dtype */
    CHECK_STATUS(TN_ERR_DTYPE, tn_plan_create("ij,jk->ik", 2, ndims2, shapes, (tn_dtype)7, NULL, &plan));
    CHECK_STATUS(TN_ERR_DTYPE, tn_plan_create("ij,jk->ik", 2, ndims2, shapes, (tn_dtype)-1, NULL, &plan));
    /* options */
    tn_plan_options bad = {(tn_optimize)42, 0};
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_create("ij,jk->ik", 2, ndims2, shapes, TN_FLOAT64, &bad, &plan));
    /* NULL pointers */
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_create(NULL, 2, ndims2, shapes, TN_FLOAT64, NULL, &plan));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_create("ij,jk->ik", 2, NULL, shapes, TN_FLOAT64, NULL, &plan));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_create("ij,jk->ik", 2, ndims2, NULL, TN_FLOAT64, NULL, &plan));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_create("ij,jk->ik", 2, ndims2, shapes, TN_FLOAT64, NULL, NULL));
    const int64_t *half[2] = {sa, NULL};
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_create("ij,jk->ik", 2, ndims2, half, TN_FLOAT64, NULL, &plan));
    /* Both answers of tn_version are optional (the header says either pointer may be NULL). */
    CHECK_STATUS(TN_OK, tn_version(NULL, NULL));
}

static void test_handles(void) {
    tn_plan_info info;
    int64_t buf[4];
    size_t needed = 0;
    char text[16];
    uintptr_t addr = 0;
    tn_tensor ops[2] = {{A, 2, sa, NULL}, {B, 2, sb, NULL}};
    tn_tensor out = {C, 2, sc, NULL};
    tn_tensor grads[2] = {{A, 2, sa, NULL}, {B, 2, sb, NULL}};

    /* NULL handle */
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_execute(NULL, ops, &out));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_info_get(NULL, &info));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_output_shape(NULL, buf, 4));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_path(NULL, buf, 4));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_report(NULL, text, sizeof text, &needed));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_backward(NULL, &out, ops, grads));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_last_operand_address(NULL, 0, &addr));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_destroy(NULL));

    /* destroyed handle */
    tn_plan *plan = make_plan();
    if (!plan) return;
    CHECK_OK(tn_plan_destroy(plan));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_execute(plan, ops, &out));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_info_get(plan, &info));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_output_shape(plan, buf, 4));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_path(plan, buf, 4));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_report(plan, text, sizeof text, &needed));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_backward(plan, &out, ops, grads));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_last_operand_address(plan, 0, &addr));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_destroy(plan));

    /* a handle that was never issued by the library */
    static uint64_t fake[64];
    memset(fake, 0xAB, sizeof fake);
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_execute((tn_plan *)(void *)fake, ops, &out));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_info_get((const tn_plan *)(void *)fake, &info));
    CHECK_STATUS(TN_ERR_HANDLE, tn_plan_destroy((tn_plan *)(void *)fake));

    /* a fresh plan still works after all this */
    plan = make_plan();
    if (!plan) return;
    CHECK_OK(tn_plan_execute(plan, ops, &out));
    CHECK_OK(tn_plan_destroy(plan));
}

static void test_execute_errors(void) {
    tn_plan *plan = make_plan();
    if (!plan) return;
    tn_tensor ops[2] = {{A, 2, sa, NULL}, {B, 2, sb, NULL}};
    tn_tensor out = {C, 2, sc, NULL};
    int64_t wrong[2] = {5, 3};
    tn_tensor bad_out = {C, 2, wrong, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_plan_execute(plan, ops, &bad_out));
    int64_t out_nd1[1] = {15};
    tn_tensor flat_out = {C, 1, out_nd1, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_plan_execute(plan, ops, &flat_out));
    int64_t sb2[2] = {4, 3};
    tn_tensor bad_ops[2] = {{A, 2, sa, NULL}, {B, 2, sb2, NULL}};
    CHECK_STATUS(TN_ERR_SHAPE, tn_plan_execute(plan, bad_ops, &out));
    int64_t s3[3] = {3, 4, 1};
    tn_tensor rank_ops[2] = {{A, 3, s3, NULL}, {B, 2, sb, NULL}};
    CHECK_STATUS(TN_ERR_SHAPE, tn_plan_execute(plan, rank_ops, &out));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_execute(plan, NULL, &out));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_execute(plan, ops, NULL));
    tn_tensor null_data[2] = {{NULL, 2, sa, NULL}, {B, 2, sb, NULL}};
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_execute(plan, null_data, &out));
    tn_tensor null_out = {NULL, 2, sc, NULL};
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_execute(plan, ops, &null_out));
    tn_tensor null_shape[2] = {{A, 2, NULL, NULL}, {B, 2, sb, NULL}};
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_execute(plan, null_shape, &out));

    /* getters */
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_info_get(plan, NULL));
    int64_t buf[2];
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_output_shape(plan, NULL, 2));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_output_shape(plan, buf, 1));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_path(plan, NULL, 2));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_path(plan, buf, 1));
    char text[8];
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_report(plan, NULL, sizeof text, NULL));
    CHECK_STATUS(TN_OK, tn_plan_report(plan, text, sizeof text, NULL)); /* needed is optional */
    uintptr_t addr;
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_last_operand_address(plan, 2, &addr));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_last_operand_address(plan, -1, &addr));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_last_operand_address(plan, 0, NULL));

    /* backward */
    double GA[12], GB[20], DY[15];
    memset(DY, 0, sizeof DY);
    tn_tensor dy = {DY, 2, sc, NULL};
    tn_tensor grads[2] = {{GA, 2, sa, NULL}, {GB, 2, sb, NULL}};
    tn_tensor bad_dy = {DY, 2, wrong, NULL};
    CHECK_STATUS(TN_ERR_SHAPE, tn_plan_backward(plan, &bad_dy, ops, grads));
    tn_tensor bad_grads[2] = {{GA, 2, sa, NULL}, {GB, 2, sb2, NULL}};
    CHECK_STATUS(TN_ERR_SHAPE, tn_plan_backward(plan, &dy, ops, bad_grads));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_backward(plan, NULL, ops, grads));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_backward(plan, &dy, NULL, grads));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_backward(plan, &dy, ops, NULL));

    /* the plan is intact after every refusal */
    CHECK_OK(tn_plan_execute(plan, ops, &out));
    CHECK_OK(tn_plan_destroy(plan));

    /* one-shot einsum */
    CHECK_STATUS(TN_ERR_SHAPE, tn_einsum("ij,jk->ik", 2, ops, TN_FLOAT64, NULL, &bad_out));
    CHECK_STATUS(TN_ERR_SUBSCRIPT, tn_einsum("ij,jk->i#", 2, ops, TN_FLOAT64, NULL, &out));
    CHECK_STATUS(TN_ERR_DTYPE, tn_einsum("ij,jk->ik", 2, ops, (tn_dtype)9, NULL, &out));
    CHECK_STATUS(TN_ERR_VALUE, tn_einsum(NULL, 2, ops, TN_FLOAT64, NULL, &out));
    CHECK_STATUS(TN_ERR_VALUE, tn_einsum("ij,jk->ik", 2, NULL, TN_FLOAT64, NULL, &out));
    CHECK_STATUS(TN_ERR_VALUE, tn_einsum("ij,jk->ik", 2, ops, TN_FLOAT64, NULL, NULL));
}

static void test_ncon_errors(void) {
    const int64_t *shapes[2] = {sa, sb};
    int64_t ndims[2] = {2, 2};
    tn_plan *plan = NULL;
    int64_t once_a[2] = {-1, 1}, once_b[2] = {2, -2};
    const int64_t *once[2] = {once_a, once_b};
    CHECK_STATUS(TN_ERR_SUBSCRIPT, tn_plan_create_ncon(2, ndims, shapes, once, TN_FLOAT64, NULL, &plan));
    int64_t three_a[2] = {1, 1}, three_b[2] = {1, -1};
    int64_t sq[2] = {4, 4};
    const int64_t *sq_shapes[2] = {sq, sb};
    const int64_t *three[2] = {three_a, three_b};
    CHECK_STATUS(TN_ERR_SUBSCRIPT,
                 tn_plan_create_ncon(2, ndims, sq_shapes, three, TN_FLOAT64, NULL, &plan));
    int64_t zero_a[2] = {-1, 0}, zero_b[2] = {0, -2};
    const int64_t *zero[2] = {zero_a, zero_b};
    CHECK_STATUS(TN_ERR_SUBSCRIPT, tn_plan_create_ncon(2, ndims, shapes, zero, TN_FLOAT64, NULL, &plan));
    int64_t gap_a[2] = {-1, 1}, gap_b[2] = {1, -3};
    const int64_t *gap[2] = {gap_a, gap_b};
    CHECK_STATUS(TN_ERR_SUBSCRIPT, tn_plan_create_ncon(2, ndims, shapes, gap, TN_FLOAT64, NULL, &plan));
    int64_t dup_a[2] = {-1, 1}, dup_b[2] = {1, -1};
    const int64_t *dup[2] = {dup_a, dup_b};
    CHECK_STATUS(TN_ERR_SUBSCRIPT, tn_plan_create_ncon(2, ndims, shapes, dup, TN_FLOAT64, NULL, &plan));
    int64_t mm_a[2] = {-1, 1}, mm_b[2] = {-2, 1}; /* label 1: sizes 4 and 5 */
    const int64_t *mm[2] = {mm_a, mm_b};
    CHECK_STATUS(TN_ERR_SHAPE, tn_plan_create_ncon(2, ndims, shapes, mm, TN_FLOAT64, NULL, &plan));
    int64_t ok_a[2] = {-1, 1}, ok_b[2] = {1, -2};
    const int64_t *ok[2] = {ok_a, ok_b};
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_create_ncon(2, ndims, shapes, NULL, TN_FLOAT64, NULL, &plan));
    CHECK_STATUS(TN_ERR_VALUE, tn_plan_create_ncon(2, ndims, shapes, ok, TN_FLOAT64, NULL, NULL));
    CHECK_STATUS(TN_ERR_DTYPE, tn_plan_create_ncon(2, ndims, shapes, ok, (tn_dtype)3, NULL, &plan));
    CHECK_OK(tn_plan_create_ncon(2, ndims, shapes, ok, TN_FLOAT64, NULL, &plan));
    if (plan) CHECK_OK(tn_plan_destroy(plan));
}

static void test_last_error_never_null(void) {
    CHECK(tn_last_error() != NULL, "tn_last_error() is NULL");
    tn_plan *plan = make_plan();
    if (plan) tn_plan_destroy(plan);
    CHECK(tn_last_error() != NULL, "tn_last_error() is NULL after success");
}

int main(void) {
    for (int i = 0; i < 12; i++) A[i] = 1.0 + i;
    for (int i = 0; i < 20; i++) B[i] = 0.5 * i;
    test_last_error_never_null();
    test_subscripts();
    test_shapes();
    test_sizes_and_options();
    test_handles();
    test_execute_errors();
    test_ncon_errors();
    return tn_report("test_errors");
}
