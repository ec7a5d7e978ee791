/*
 * test_mix.c: the mix module (harness/nn/mix.c, latent mixup) and the plan it reads
 * (net_set_mix), with mixup_batch's latent mode (harness/train/mixup.c):
 *   - backward against central differences of L = <y, R> in double, for a permutation and for
 *     a partner map with repeats (a row that is the partner of two rows collects both shares)
 *     and per-example lambdas; the same bits on 1 and 2 threads;
 *   - a mix module in front of the net is input mixup bit for bit: mixup_batch with latent
 *     gives the unmixed x, the same targets and the same draws, and the module mixes x into
 *     mixup_batch's x~;
 *   - identity without a plan, in evaluation, and after the plan is cleared;
 *   - a plan for another batch size, a partner out of range and n < 0 are refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/mix.h"
#include "train/mixup.h"
#include "testlib.h"

/* y is linear in x: central differences in double of a float32 forward are exact up to the
 * rounding of y (~1e-7 relative per element) over a step of 1e-2, summed over ~100 terms */
#define MIX_FD_RTOL 1e-3
#define MIX_FD_EPS 1e-2

enum { N = 6, C = 3, H = 2, W = 2, D = C * H * W };

static int build(Net **net, int nthreads)
{
    Err err;
    Module *m = mix_module_new(&err);
    if (!m)
        return tl_fail("mix_module_new: %s", err.msg);
    snprintf(m->path, sizeof m->path, "mix");
    if (net_build(net, m, (Shape){C, H, W}, nthreads, N, &err))
        return tl_fail("net_build: %s", err.msg);
    return 0;
}

/* L = sum y .* R in double after a training forward of x. */
static int loss_of(Net *net, const Tensor *x, const float *r, double *loss, Err *err)
{
    const Tensor *y;
    if (net_forward(net, x, 1, NULL, &y, err))
        return -1;
    double s = 0.0;
    for (size_t i = 0; i < y->size; i++)
        s += (double)y->data[i] * r[i];
    *loss = s;
    return 0;
}

static int fd_case(const char *what, const int *perm, const double *lam, int nthreads,
                   float *dx_out)
{
    Net *net = NULL;
    Err err;
    Tensor x = {0}, dy = {0};
    int xs[4] = {N, C, H, W}, rc = 1;
    if (build(&net, nthreads))
        return 1;
    if (tensor_alloc(&x, 4, xs, &err) || tensor_alloc(&dy, 4, xs, &err) ||
        net_set_mix(net, lam, perm, N, &err)) {
        tl_fail("%s: %s", what, err.msg);
        goto out;
    }
    Rng r;
    rng_seed(&r, tl_seed, 31);
    tl_fill_uniform(x.data, x.size, -1.0f, 1.0f, &r);
    tl_fill_uniform(dy.data, dy.size, -1.0f, 1.0f, &r);
    const Tensor *y, *dx;
    if (net_forward(net, &x, 1, NULL, &y, &err) || net_backward(net, &dy, &dx, &err)) {
        tl_fail("%s: %s", what, err.msg);
        goto out;
    }
    /* the forward formula, in double */
    for (int i = 0; i < N; i++)
        for (int e = 0; e < D; e++) {
            double want = lam[i] * x.data[i * D + e] + (1.0 - lam[i]) * x.data[perm[i] * D + e];
            if (fabs(y->data[i * D + e] - want) > 1e-6) {
                tl_fail("%s: y[%d][%d] = %g, expected %g", what, i, e,
                        (double)y->data[i * D + e], want);
                goto out;
            }
        }
    float got[N * D], num[N * D];
    memcpy(got, dx->data, sizeof got);
    for (int j = 0; j < N * D; j++) {
        float keep = x.data[j];
        double lp, lm;
        x.data[j] = keep + (float)MIX_FD_EPS;
        if (loss_of(net, &x, dy.data, &lp, &err))
            goto fail;
        x.data[j] = keep - (float)MIX_FD_EPS;
        if (loss_of(net, &x, dy.data, &lm, &err))
            goto fail;
        x.data[j] = keep;
        num[j] = (float)((lp - lm) / (2.0 * MIX_FD_EPS));
    }
    if (tl_close(what, got, num, N * D, MIX_FD_RTOL))
        goto out;
    if (dx_out)
        memcpy(dx_out, got, sizeof got);
    rc = 0;
    goto out;
fail:
    tl_fail("%s: %s", what, err.msg);
out:
    tensor_free(&x);
    tensor_free(&dy);
    net_free(net);
    return rc;
}

static int test_fd(void)
{
    const int perm[N] = {3, 0, 5, 1, 2, 4};
    const int repeats[N] = {2, 2, 0, 5, 1, 1}; /* rows 3, 4 are nobody's partner */
    const double one[N] = {0.3, 0.3, 0.3, 0.3, 0.3, 0.3};
    const double each[N] = {0.9, 0.1, 0.5, 0.75, 0.0, 1.0};
    float dx1[N * D], dx2[N * D];
    if (fd_case("permutation, one lambda", perm, one, 1, NULL) ||
        fd_case("repeats, per-example lambdas, 1 thread", repeats, each, 1, dx1) ||
        fd_case("repeats, per-example lambdas, 2 threads", repeats, each, 2, dx2))
        return 1;
    TL_CHECK(!memcmp(dx1, dx2, sizeof dx1), "the gradient depends on the thread count");
    return 0;
}

/* mixup_batch with latent = 1 and a mix module in front equal input mixup bit for bit. */
static int test_input_mixup(void)
{
    Net *net = NULL;
    Err err;
    Tensor x = {0}, xm = {0}, xl = {0}, t = {0}, tl = {0};
    int xs[4] = {N, C, H, W}, ts[2] = {N, 4}, rc = 1;
    int label[N] = {0, 1, 2, 3, 0, 1}, perm[N], perm_l[N];
    double lam[N], lam_l[N];
    if (build(&net, 2))
        return 1;
    if (tensor_alloc(&x, 4, xs, &err) || tensor_alloc(&xm, 4, xs, &err) ||
        tensor_alloc(&xl, 4, xs, &err) || tensor_alloc(&t, 2, ts, &err) ||
        tensor_alloc(&tl, 2, ts, &err))
        goto fail;
    Rng r, a, b;
    rng_seed(&r, tl_seed, 32);
    tl_fill_uniform(x.data, x.size, -2.0f, 2.0f, &r);
    rng_seed(&a, tl_seed, 33);
    b = a;
    MixupParams p = {.alpha = 1.0, .n_classes = 4};
    MixupParams pl = p;
    pl.latent = 1;
    if (mixup_batch(&xm, &t, lam, perm, NULL, &x, label, &p, &a, &err) ||
        mixup_batch(&xl, &tl, lam_l, perm_l, NULL, &x, label, &pl, &b, &err))
        goto fail;
    if (memcmp(&a, &b, sizeof a) || memcmp(lam, lam_l, sizeof lam) ||
        memcmp(perm, perm_l, sizeof perm)) {
        tl_fail("latent mixup drew differently from input mixup");
        goto out;
    }
    if (memcmp(tl.data, t.data, t.size * sizeof(float)) ||
        memcmp(xl.data, x.data, x.size * sizeof(float))) {
        tl_fail("latent mixup: targets differ or the inputs were mixed");
        goto out;
    }
    const Tensor *y;
    if (net_set_mix(net, lam_l, perm_l, N, &err) || net_forward(net, &xl, 1, NULL, &y, &err))
        goto fail;
    if (memcmp(y->data, xm.data, xm.size * sizeof(float))) {
        tl_fail("the mix module differs from input mixup's x~");
        goto out;
    }
    /* evaluation ignores the plan; clearing it makes training the identity */
    if (net_forward(net, &x, 0, NULL, &y, &err))
        goto fail;
    if (memcmp(y->data, x.data, x.size * sizeof(float))) {
        tl_fail("evaluation with a plan is not the identity");
        goto out;
    }
    if (net_set_mix(net, NULL, NULL, 0, &err) || net_forward(net, &x, 1, NULL, &y, &err))
        goto fail;
    if (memcmp(y->data, x.data, x.size * sizeof(float))) {
        tl_fail("training without a plan is not the identity");
        goto out;
    }
    const Tensor *dx;
    if (net_backward(net, &x, &dx, &err))
        goto fail;
    if (memcmp(dx->data, x.data, x.size * sizeof(float))) {
        tl_fail("backward without a plan is not the identity");
        goto out;
    }
    rc = 0;
    goto out;
fail:
    tl_fail("%s", err.msg);
out:
    tensor_free(&x);
    tensor_free(&xm);
    tensor_free(&xl);
    tensor_free(&t);
    tensor_free(&tl);
    net_free(net);
    return rc;
}

static int test_errors(void)
{
    Net *net = NULL;
    Err err;
    Tensor x = {0};
    int xs[4] = {N - 1, C, H, W};
    int perm[N] = {0, 1, 2, 3, 4, 5};
    double lam[N] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    if (build(&net, 1))
        return 1;
    int rc = tensor_alloc(&x, 4, xs, &err) ? tl_fail("%s", err.msg) : 0;
    if (!rc) {
        rc = tl_expect_error("n < 0", net_set_mix(net, lam, perm, -1, &err), &err,
                             "n is -1, expected >= 0");
    }
    if (!rc && net_set_mix(net, lam, perm, N, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc)
        rc = tl_expect_error("another batch size", net_forward(net, &x, 1, NULL, NULL, &err),
                             &err, "mix: the plan is for a batch of 6 but the input has 5");
    perm[2] = 6;
    if (!rc && net_set_mix(net, lam, perm, N - 1, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc)
        rc = tl_expect_error("partner out of range", net_forward(net, &x, 1, NULL, NULL, &err),
                             &err, "example 2 has partner 6, expected 0..4");
    MixupParams p = {.alpha = 1.0, .n_classes = 4, .latent = 2};
    int label[N] = {0};
    if (!rc) {
        Tensor t = {0};
        int ts[2] = {N - 1, 4};
        Rng r;
        rng_seed(&r, 1, 2);
        Tensor xm = {0};
        if (tensor_alloc(&t, 2, ts, &err) || tensor_alloc(&xm, 4, xs, &err))
            rc = tl_fail("%s", err.msg);
        if (!rc)
            rc = tl_expect_error("latent 2",
                                 mixup_batch(&xm, &t, lam, perm, NULL, &x, label, &p, &r, &err),
                                 &err, "latent is 2, expected 0 or 1");
        tensor_free(&t);
        tensor_free(&xm);
    }
    tensor_free(&x);
    net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"fd", test_fd},
        {"input_mixup", test_input_mixup},
        {"errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
