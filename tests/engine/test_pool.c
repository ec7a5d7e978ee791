/*
 * test_pool.c: harness/nn/pool.c against PyTorch fixtures (tests/fixtures/gen_pool.py: max and
 * average pooling with and without padding, a non-square kernel, global average pooling) and
 * central finite differences over kernel 2/3, stride 1/2, padding 0/1 on odd shapes, batch 1
 * and > 1 (max pooling on distinct values, so no window has a tie); tie-breaking (first max in
 * scan order, against a PyTorch fixture full of ties); batch-size changes within the reserved
 * capacity; error messages (bad params, wrong channel count, too small input).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/pool.h"
#include "testlib.h"

/* Max pooling copies an input value: exact. */
#define POOL_MAX_RTOL 0.0
/* Average pooling sums <= 9 values in double and rounds once, and dx accumulates dy / 9 over
 * <= 4 overlapping windows in float32, vs a float64 reference (seen: y exact, dx 1e-7). */
#define POOL_AVG_RTOL 1e-6
/* FD on max pooling: y is piecewise linear and the inputs are >= POOL_FD_SPACING apart, so
 * x +- eps never changes a window's argmax; only float32 rounding of y enters (seen: 1e-7). */
#define POOL_FD_EPS 1e-2
#define POOL_FD_SPACING 0.05f
/* FD on average pooling: y is linear in x; the error is the loss' float32 rounding over 2 eps
 * (seen: <= 2e-5 over 40 seeds). */
#define POOL_FD_RTOL 1e-3

/* ---- helpers -------------------------------------------------------------------------- */

static Module *new_pool(PoolMode mode, int kh, int kw, int sh, int sw, int ph, int pw, Err *err)
{
    PoolParams p = {mode, kh, kw, sh, sw, ph, pw};
    Module *m = pool_module_new(&p, err);
    if (m)
        snprintf(m->path, sizeof m->path, "pool");
    return m;
}

/* Runs fixture case `name` through module m (taken): y and dx against PyTorch. */
static int run_case(const char *name, Module *m, double rtol)
{
    Fixture fx;
    Err err;
    Net *net = NULL;
    char what[128];
    int rc = 1;
    if (!m) {
        tl_fail("%s: constructor failed", name);
        return 1;
    }
    if (fixture_load(&fx, "pool", &err)) {
        module_free(m);
        return tl_fail("%s", err.msg);
    }
    snprintf(what, sizeof what, "%s.x", name);
    const Tensor *x = fixture_get(&fx, what);
    snprintf(what, sizeof what, "%s.dy", name);
    const Tensor *dy = fixture_get(&fx, what);
    snprintf(what, sizeof what, "%s.y", name);
    const Tensor *yw = fixture_get(&fx, what);
    snprintf(what, sizeof what, "%s.dx", name);
    const Tensor *dxw = fixture_get(&fx, what);
    if (!x || !dy || !yw || !dxw) {
        module_free(m);
        tl_fail("%s: fixture entries missing", name);
        goto out;
    }
    /* capacity above the batch: forward must work within a larger reservation */
    Shape in = {x->shape[1], x->shape[2], x->shape[3]};
    if (net_build(&net, m, in, 2, x->shape[0] + 2, &err)) {
        tl_fail("%s: %s", name, err.msg);
        goto out;
    }
    const Tensor *y, *dx;
    if (net_forward(net, x, 1, NULL, &y, &err) || net_backward(net, dy, &dx, &err)) {
        tl_fail("%s: %s", name, err.msg);
        goto out;
    }
    if (y->size != yw->size || y->shape[2] != yw->shape[2] || y->shape[3] != yw->shape[3]) {
        tl_fail("%s: output is %dx%d, PyTorch gives %dx%d", name, y->shape[2], y->shape[3],
                yw->shape[2], yw->shape[3]);
        goto out;
    }
    snprintf(what, sizeof what, "%s y", name);
    if (tl_close(what, y->data, yw->data, yw->size, rtol))
        goto out;
    snprintf(what, sizeof what, "%s dx", name);
    if (tl_close(what, dx->data, dxw->data, dxw->size, rtol))
        goto out;
    rc = 0;
out:
    net_free(net);
    fixture_free(&fx);
    return rc;
}

/* ---- PyTorch fixtures ----------------------------------------------------------------- */

/* Max pooling's dx is a sum of at most 4 dy values (overlapping windows): float32 sums vs a
 * float64 reference, so it gets the average-pooling tolerance rather than exactness. */
static int max_case(const char *name, int kh, int kw, int sh, int sw, int ph, int pw)
{
    Err err;
    Module *m = new_pool(POOL_MAX, kh, kw, sh, sw, ph, pw, &err);
    return run_case(name, m, POOL_AVG_RTOL);
}

static int avg_case(const char *name, int kh, int kw, int sh, int sw, int ph, int pw)
{
    Err err;
    Module *m = new_pool(POOL_AVG, kh, kw, sh, sw, ph, pw, &err);
    return run_case(name, m, POOL_AVG_RTOL);
}

static int test_fixture_max(void)
{
    return max_case("max_k3s2p1", 3, 3, 2, 2, 1, 1) || max_case("max_k2s2p0", 2, 2, 2, 2, 0, 0) ||
           max_case("max_k32", 3, 2, 1, 2, 1, 0);
}

/* Ties: the gradient must go to the first maximum in scan order, as PyTorch's. */
static int test_fixture_max_ties(void) { return max_case("max_ties", 3, 3, 2, 2, 1, 1); }

/* y of max pooling alone is exact. */
static int test_fixture_max_forward_exact(void)
{
    Fixture fx;
    Err err;
    Net *net = NULL;
    int rc = 1;
    if (fixture_load(&fx, "pool", &err))
        return tl_fail("%s", err.msg);
    const Tensor *x = fixture_get(&fx, "max_k3s2p1.x"), *yw = fixture_get(&fx, "max_k3s2p1.y");
    Module *m = new_pool(POOL_MAX, 3, 3, 2, 2, 1, 1, &err);
    if (!x || !yw || !m) {
        module_free(m);
        tl_fail("setup failed");
        goto out;
    }
    const Tensor *y;
    if (net_build(&net, m, (Shape){x->shape[1], x->shape[2], x->shape[3]}, 3, x->shape[0],
                  &err) ||
        net_forward(net, x, 0, NULL, &y, &err)) {
        tl_fail("%s", err.msg);
        goto out;
    }
    rc = tl_close("max_k3s2p1 y", y->data, yw->data, yw->size, POOL_MAX_RTOL);
out:
    net_free(net);
    fixture_free(&fx);
    return rc;
}

static int test_fixture_avg(void)
{
    return avg_case("avg_k3s2p1", 3, 3, 2, 2, 1, 1) || avg_case("avg_k2s1p0", 2, 2, 1, 1, 0, 0) ||
           avg_case("avg_k32", 3, 2, 1, 2, 1, 0);
}

static int test_fixture_global_avg(void)
{
    Err err;
    Module *m = global_avgpool_module_new(&err);
    if (m)
        snprintf(m->path, sizeof m->path, "gap");
    return run_case("gap", m, POOL_AVG_RTOL);
}

/* ---- finite differences --------------------------------------------------------------- */

/* A random permutation of n distinct values POOL_FD_SPACING apart, centred on 0. */
static void fill_distinct(float *x, size_t n, Rng *r)
{
    int *perm = malloc(n * sizeof *perm);
    if (!perm) { /* out of memory: fall back to plain uniform values */
        tl_fill_uniform(x, n, -1.0f, 1.0f, r);
        return;
    }
    rng_permutation(r, perm, (int)n);
    for (size_t i = 0; i < n; i++)
        x[i] = POOL_FD_SPACING * (float)(perm[i] - (int)(n / 2));
    free(perm);
}

static int fd_pool(PoolMode mode, int n, Shape in, int k, int s, int pad)
{
    Err err;
    char what[128];
    snprintf(what, sizeof what, "%s k%d s%d p%d on (%d, %d, %d, %d)",
             mode == POOL_MAX ? "max" : "avg", k, s, pad, n, in.c, in.h, in.w);
    Module *m = new_pool(mode, k, k, s, s, pad, pad, &err);
    if (!m)
        return tl_fail("%s: %s", what, err.msg);
    FdOptions o = {n, in, 1, POOL_FD_EPS, POOL_FD_RTOL, 0,
                   mode == POOL_MAX ? fill_distinct : NULL, NULL};
    return tl_fd_check(what, m, &o);
}

/* Every kernel 2/3, stride 1/2, padding 0/1 on an odd (2, 3, 7, 5) and a batch-1 (1, 2, 5, 7). */
static int fd_grid(PoolMode mode)
{
    for (int k = 2; k <= 3; k++)
        for (int s = 1; s <= 2; s++)
            for (int pad = 0; pad <= 1; pad++)
                if (fd_pool(mode, 2, (Shape){3, 7, 5}, k, s, pad) ||
                    fd_pool(mode, 1, (Shape){2, 5, 7}, k, s, pad))
                    return 1;
    return 0;
}

static int test_fd_max(void) { return fd_grid(POOL_MAX); }
static int test_fd_avg(void) { return fd_grid(POOL_AVG); }

static int fd_global(int n, Shape in)
{
    Err err;
    char what[128];
    snprintf(what, sizeof what, "global avg on (%d, %d, %d, %d)", n, in.c, in.h, in.w);
    Module *m = global_avgpool_module_new(&err);
    if (!m)
        return tl_fail("%s: %s", what, err.msg);
    FdOptions o = {n, in, 1, POOL_FD_EPS, POOL_FD_RTOL, 0, NULL, NULL};
    return tl_fd_check(what, m, &o);
}

static int test_fd_global_avg(void)
{
    return fd_global(2, (Shape){3, 5, 3}) || fd_global(1, (Shape){4, 3, 3});
}

/* ---- batch size changes --------------------------------------------------------------- */

/* A batch of 3 then a batch of 1 (its first image) in a net reserved for 3: the second
 * forward and backward must equal the first batch's first image (argmax buffer reused). */
static int test_batch_change(void)
{
    Err err;
    Net *net = NULL;
    Tensor x = {0}, dy = {0};
    int shape[4] = {3, 2, 5, 5}, rc = 1;
    Module *m = new_pool(POOL_MAX, 3, 3, 2, 2, 1, 1, &err);
    if (!m || net_build(&net, m, (Shape){2, 5, 5}, 2, 3, &err) ||
        tensor_alloc(&x, 4, shape, &err) || tensor_alloc(&dy, 4, (int[]){3, 2, 3, 3}, &err)) {
        tl_fail("%s", err.msg);
        goto out;
    }
    Rng r;
    rng_seed(&r, tl_seed, 5);
    fill_distinct(x.data, x.size, &r);
    tl_fill_uniform(dy.data, dy.size, -1.0f, 1.0f, &r);
    const Tensor *y, *dx;
    float y3[18], dx3[50];
    if (net_forward(net, &x, 1, NULL, &y, &err) || net_backward(net, &dy, &dx, &err)) {
        tl_fail("%s", err.msg);
        goto out;
    }
    memcpy(y3, y->data, sizeof y3);
    memcpy(dx3, dx->data, sizeof dx3);
    Tensor x1 = tensor_view(x.data, 4, (int[]){1, 2, 5, 5});
    Tensor dy1 = tensor_view(dy.data, 4, (int[]){1, 2, 3, 3});
    if (net_forward(net, &x1, 1, NULL, &y, &err) || net_backward(net, &dy1, &dx, &err)) {
        tl_fail("%s", err.msg);
        goto out;
    }
    if (y->size != 18 || dx->size != 50 || memcmp(y->data, y3, sizeof y3) ||
        memcmp(dx->data, dx3, sizeof dx3)) {
        tl_fail("batch 1 after batch 3 differs from the first image of batch 3");
        goto out;
    }
    rc = 0;
out:
    tensor_free(&x);
    tensor_free(&dy);
    net_free(net);
    return rc;
}

/* ---- error paths ---------------------------------------------------------------------- */

static int test_error_params(void)
{
    Err err = {""};
    if (new_pool(POOL_MAX, 3, 3, 2, 2, 2, 1, &err) ||
        tl_expect_msg("pad", err.msg, "maxpool: padding is (2, 1), expected 0..(1, 1)"))
        return 1;
    if (new_pool(POOL_AVG, 0, 3, 1, 1, 0, 0, &err) ||
        tl_expect_msg("kernel", err.msg, "avgpool: kernel is 0x3, expected >= 1"))
        return 1;
    if (new_pool(POOL_AVG, 2, 2, 1, 0, 0, 0, &err) ||
        tl_expect_msg("stride", err.msg, "avgpool: stride is (1, 0), expected >= 1"))
        return 1;
    return 0;
}

static int test_error_shapes(void)
{
    Err err = {""};
    Net *net = NULL;
    Module *m = new_pool(POOL_MAX, 3, 3, 1, 1, 0, 0, &err);
    /* a 2x5 input cannot hold a 3x3 window */
    if (!m || !net_build(&net, m, (Shape){4, 2, 5}, 1, 1, &err)) {
        net_free(net);
        return tl_fail("net_build accepted a 2x5 input for a 3x3 kernel");
    }
    if (tl_expect_msg("small", err.msg, "pool: maxpool: input is 2x5, padded by (0, 0) it is "
                      "smaller than the 3x3 kernel"))
        return 1;
    /* forward with the wrong channel count */
    m = new_pool(POOL_AVG, 2, 2, 2, 2, 0, 0, &err);
    if (!m || net_build(&net, m, (Shape){3, 4, 4}, 1, 2, &err))
        return tl_fail("%s", err.msg);
    Tensor x = {0};
    int rc;
    if (tensor_alloc(&x, 4, (int[]){2, 16, 4, 4}, &err)) {
        net_free(net);
        return tl_fail("%s", err.msg);
    }
    Ctx ctx = {1, NULL, net->ws, net->ws_stride, 1, 0, NULL, net->grad_pool, 0};
    if (!net->root->ops->forward(net->root, &x, &ctx, &err))
        rc = tl_fail("forward accepted 16 channels for a net built for 3");
    else
        rc = tl_expect_msg("forward", err.msg, "pool_forward: input has 16 channels, expected 3");
    tensor_free(&x);
    net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"fixture_max", test_fixture_max},
        {"fixture_max_ties", test_fixture_max_ties},
        {"fixture_max_forward_exact", test_fixture_max_forward_exact},
        {"fixture_avg", test_fixture_avg},
        {"fixture_global_avg", test_fixture_global_avg},
        {"fd_max", test_fd_max},
        {"fd_avg", test_fd_avg},
        {"fd_global_avg", test_fd_global_avg},
        {"batch_change", test_batch_change},
        {"error_params", test_error_params},
        {"error_shapes", test_error_shapes},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
