/*
 * test_dropout.c: inverted dropout: finite differences in training mode (tl_fd_check replays
 * the same rng state, so every probe sees the same mask) and in eval mode, the draw order
 * contract (element i dropped iff the i-th rng_uniform < p), mask statistics (fraction dropped
 * within a binomial bound, survivors scaled by exactly 1 / (1 - p)), reproducibility from a
 * seed, identity in eval and at p = 0, and the error messages.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/dropout.h"
#include "testlib.h"

/* y = x * mask is linear in x: central differences are exact up to float32 rounding of one
 * y element (~1e-7 relative) over the step 2e-2 */
#define DROPOUT_FD_RTOL 1e-3
#define DROPOUT_FD_EPS 1e-2
/* fraction dropped within 6 binomial standard deviations: a false alarm ~1e-9 per run */
#define DROPOUT_BINOMIAL_SIGMAS 6.0

static Module *make_dropout(double p)
{
    Err err;
    Module *m = dropout_module_new(p, &err);
    if (!m)
        printf("  dropout_module_new: %s\n", err.msg);
    return m;
}

static int build(Net **net, double p, Shape in, int cap_n)
{
    Err err;
    Module *m = make_dropout(p);
    if (!m)
        return tl_fail("constructor failed");
    if (net_build(net, m, in, 2, cap_n, &err))
        return tl_fail("net_build: %s", err.msg);
    return 0;
}

/* ---- finite differences --------------------------------------------------------------- */

static int fd_case(const char *what, double p, int n, Shape in, int train)
{
    Module *m = make_dropout(p);
    if (!m)
        return tl_fail("%s: constructor failed", what);
    FdOptions o = {n, in, train, DROPOUT_FD_EPS, DROPOUT_FD_RTOL, 0, NULL, NULL};
    return tl_fd_check(what, m, &o);
}

static int test_fd(void)
{
    return fd_case("train p=0.5 n=1", 0.5, 1, (Shape){3, 5, 3}, 1) ||
           fd_case("train p=0.2 n=4", 0.2, 4, (Shape){7, 1, 1}, 1) ||
           fd_case("train p=0 n=3", 0.0, 3, (Shape){2, 3, 3}, 1) ||
           fd_case("eval p=0.5 n=3", 0.5, 3, (Shape){5, 1, 3}, 0);
}

/* ---- masks ---------------------------------------------------------------------------- */

/* Runs one forward (mode train) of x through a dropout module; y and dx (for dy = ones)
 * are copied out. */
static int run_once(Net *net, const Tensor *x, int train, uint64_t seed, float *y, float *dx,
                    Err *err)
{
    Rng r;
    rng_seed(&r, seed, RNG_STREAM_DROPOUT);
    const Tensor *yt, *dxt;
    Tensor dy = {0};
    if (net_forward(net, x, train, &r, &yt, err) ||
        tensor_alloc(&dy, x->ndim, x->shape, err))
        return -1;
    for (size_t i = 0; i < dy.size; i++)
        dy.data[i] = 1.0f;
    int rc = net_backward(net, &dy, &dxt, err);
    if (!rc) {
        memcpy(y, yt->data, x->size * sizeof(float));
        memcpy(dx, dxt->data, x->size * sizeof(float));
    }
    tensor_free(&dy);
    return rc;
}

static int check_mask(double p, int n, Shape in)
{
    Net *net = NULL;
    Err err;
    Tensor x = {0};
    float *y = NULL, *dx = NULL, *y2 = NULL;
    int rc = 1;
    if (build(&net, p, in, n))
        return 1;
    int xs[4] = {n, in.c, in.h, in.w};
    if (tensor_alloc(&x, 4, xs, &err))
        goto fail;
    Rng r;
    rng_seed(&r, tl_seed, 7);
    tl_fill_away_from_zero(x.data, x.size, 0.5f, 2.0f, &r);
    y = malloc(x.size * sizeof(float));
    dx = malloc(x.size * sizeof(float));
    y2 = malloc(x.size * sizeof(float));
    if (!y || !dx || !y2) {
        tl_fail("out of memory");
        goto out;
    }
    if (run_once(net, &x, 1, tl_seed, y, dx, &err))
        goto fail;
    /* draw order: element i is dropped iff the i-th uniform of the stream is < p */
    Rng replay;
    rng_seed(&replay, tl_seed, RNG_STREAM_DROPOUT);
    float scale = (float)(1.0 / (1.0 - p));
    size_t dropped = 0;
    for (size_t i = 0; i < x.size; i++) {
        int drop = rng_uniform(&replay) < p;
        float want_y = drop ? 0.0f : x.data[i] * scale, want_dx = drop ? 0.0f : scale;
        if (y[i] != want_y || dx[i] != want_dx) {
            tl_fail("p=%g element %zu: y %g dx %g, expected %g and %g (i-th draw < p drops)", p,
                    i, (double)y[i], (double)dx[i], (double)want_y, (double)want_dx);
            goto out;
        }
        dropped += drop;
    }
    double mean = p * (double)x.size, sd = sqrt((double)x.size * p * (1.0 - p));
    if (fabs((double)dropped - mean) > DROPOUT_BINOMIAL_SIGMAS * sd + 0.5) {
        tl_fail("p=%g: %zu of %zu dropped, expected %.0f +- %.0f", p, dropped, x.size, mean,
                DROPOUT_BINOMIAL_SIGMAS * sd);
        goto out;
    }
    /* same seed, same mask; another seed, another mask */
    if (run_once(net, &x, 1, tl_seed, y2, dx, &err))
        goto fail;
    if (memcmp(y, y2, x.size * sizeof(float))) {
        tl_fail("p=%g: the same seed gave a different mask", p);
        goto out;
    }
    if (run_once(net, &x, 1, tl_seed + 1, y2, dx, &err))
        goto fail;
    if (p > 0.0 && !memcmp(y, y2, x.size * sizeof(float))) {
        tl_fail("p=%g: seeds %llu and %llu gave the same mask", p,
                (unsigned long long)tl_seed, (unsigned long long)tl_seed + 1);
        goto out;
    }
    /* evaluation: the identity, no rng needed */
    if (net_forward(net, &x, 0, NULL, NULL, &err))
        goto fail;
    if (memcmp(net->root->y.data, x.data, x.size * sizeof(float))) {
        tl_fail("p=%g: eval mode is not the identity", p);
        goto out;
    }
    rc = 0;
    goto out;
fail:
    tl_fail("p=%g: %s", p, err.msg);
out:
    free(y);
    free(dx);
    free(y2);
    tensor_free(&x);
    net_free(net);
    return rc;
}

static int test_masks(void)
{
    return check_mask(0.5, 20, (Shape){16, 8, 8}) || check_mask(0.1, 7, (Shape){3, 33, 31}) ||
           check_mask(0.9, 3, (Shape){1001, 1, 1}) || check_mask(0.0, 2, (Shape){5, 1, 1});
}

/* Training at p = 0 is the identity and draws nothing, so it needs no rng. */
static int test_p0_without_rng(void)
{
    Net *net = NULL;
    Err err;
    Tensor x = {0};
    int xs[2] = {3, 11}, rc = 0;
    if (build(&net, 0.0, (Shape){11, 1, 1}, 3))
        return 1;
    if (tensor_alloc(&x, 2, xs, &err))
        rc = tl_fail("%s", err.msg);
    Rng r;
    rng_seed(&r, tl_seed, 8);
    tl_fill_uniform(x.data, x.size, -1.0f, 1.0f, &r);
    const Tensor *y;
    if (!rc && net_forward(net, &x, 1, NULL, &y, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && memcmp(y->data, x.data, x.size * sizeof(float)))
        rc = tl_fail("p = 0 in training is not the identity");
    tensor_free(&x);
    net_free(net);
    return rc;
}

/* ---- errors --------------------------------------------------------------------------- */

static int test_errors(void)
{
    Err err;
    if (tl_expect_error("p = 1", dropout_module_new(1.0, &err) == NULL, &err,
                        "dropout: p is 1, expected 0 <= p < 1") ||
        tl_expect_error("p < 0", dropout_module_new(-0.1, &err) == NULL, &err,
                        "dropout: p is -0.1, expected 0 <= p < 1") ||
        tl_expect_error("p nan", dropout_module_new(NAN, &err) == NULL, &err,
                        "dropout: p is nan, expected 0 <= p < 1"))
        return 1;
    Net *net = NULL;
    Tensor x = {0};
    int xs[2] = {2, 6}, rc = 0;
    if (build(&net, 0.5, (Shape){6, 1, 1}, 2))
        return 1;
    if (tensor_alloc(&x, 2, xs, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc)
        rc = tl_expect_error("no rng", net_forward(net, &x, 1, NULL, NULL, &err) != 0, &err,
                             "dropout: training with p = 0.5 needs an rng, but ctx->rng is NULL");
    int bad[2] = {2, 5};
    Tensor xb = tensor_view(x.data, 2, bad);
    Ctx ctx = {0, NULL, net->ws, net->ws_stride, net->nthreads, 0, NULL, net->grad_pool, 0};
    if (!rc)
        rc = tl_expect_error("shape", net->root->ops->forward(net->root, &xb, &ctx, &err) != 0,
                             &err, "dropout: input is (2, 5), expected (N, 6, 1, 1)");
    tensor_free(&x);
    net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"dropout_fd", test_fd},
        {"dropout_masks", test_masks},
        {"dropout_p0_without_rng", test_p0_without_rng},
        {"dropout_errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
