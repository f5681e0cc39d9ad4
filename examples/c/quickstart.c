/* Matrix product through a tnswift plan: C = A B, then the gradients of sum(C * dC). */
#include <stdio.h>
#include "tnswift.h"

int main(void) {
    double a[2 * 3] = {1, 2, 3, 4, 5, 6}, b[3 * 2] = {1, 0, 0, 1, 1, 1}, c[2 * 2];
    int64_t sa[] = {2, 3}, sb[] = {3, 2}, sc[] = {2, 2}, ndims[] = {2, 2};
    const int64_t *shapes[] = {sa, sb};
    tn_plan *plan = NULL;
    if (tn_plan_create("ij,jk->ik", 2, ndims, shapes, TN_FLOAT64, NULL, &plan) != TN_OK) {
        fprintf(stderr, "plan: %s\n", tn_last_error());
        return 1;
    }
    tn_tensor ops[] = {{a, 2, sa, NULL}, {b, 2, sb, NULL}}, out = {c, 2, sc, NULL};
    if (tn_plan_execute(plan, ops, &out) != TN_OK) {
        fprintf(stderr, "execute: %s\n", tn_last_error());
        return 1;
    }
    printf("C = [[%g, %g], [%g, %g]]\n", c[0], c[1], c[2], c[3]);

    double dc[4] = {1, 1, 1, 1}, da[6], db[6];
    tn_tensor dy = {dc, 2, sc, NULL}, grads[] = {{da, 2, sa, NULL}, {db, 2, sb, NULL}};
    if (tn_plan_backward(plan, &dy, ops, grads) != TN_OK) {
        fprintf(stderr, "backward: %s\n", tn_last_error());
        return 1;
    }
    printf("dA row 0 = [%g, %g, %g]\n", da[0], da[1], da[2]);

    /* Errors come back as a status and a message, never a crash. */
    tn_plan *bad = NULL;
    tn_status s = tn_plan_create("ij,jk->iz", 2, ndims, shapes, TN_FLOAT64, NULL, &bad);
    printf("bad subscripts: status %d, \"%s\"\n", (int)s, tn_last_error());
    tn_plan_destroy(plan);
    return (c[0] == 4 && c[3] == 11 && da[0] == 1 && s == TN_ERR_SUBSCRIPT) ? 0 : 1;
}
