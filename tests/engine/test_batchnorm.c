/*
 * test_batchnorm.c: harness/nn/batchnorm.c against PyTorch fixtures (tests/fixtures/
 * gen_batchnorm.py: train forward/backward, running stats after two forwards, BatchNorm1d,
 * batch 1, eval with non-trivial running stats) and central finite differences (train and
 * eval, odd shapes, batch 1 and > 1, with and without affine); thread-count independence;
 * groups (group = G: each group of G examples equals a batch norm of its own, bit for bit, the
 * running statistics the mean of the groups' updates, finite differences through groups);
 * error messages (bad params, wrong channel count, one value per channel in training); the
 * split kernels dense.c uses (statistics, finish, apply on a channel prefix of a wider batch,
 * BN + ReLU fused forward and backward) give the bits of batchnorm_forward / _backward and
 * act.c on a gathered copy.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/act.h"
#include "nn/batchnorm.h"
#include "testlib.h"

/* y = (x - mean) inv_std gamma + beta in float32 from double statistics, vs a float64
 * reference: a couple of float32 ulps of the largest output (seen: 1e-7). */
#define BN_FWD_RTOL 1e-6
/* dx subtracts per-channel means of dy and dy xhat (cancellation) in float32 (seen: 8e-8). */
#define BN_BWD_RTOL 1e-6
/* dgamma and dbeta are double sums rounded once to float32 (seen: 6e-8). */
#define BN_SUM_RTOL 1e-6
/* Running stats are stored in float32 between the two forwards while the reference keeps
 * float64 (seen: 1.1e-7; 3.5e-7 when the two batches' means nearly cancelled). */
#define BN_RUNNING_RTOL 2e-6
/* Finite differences of a float32 forward with eps = BN_FD_EPS: the loss' rounding error
 * (~1e-7 relative per output) over 2 eps dominates (seen: <= 7e-5 over 40 seeds). */
#define BN_FD_EPS 1e-2
#define BN_FD_RTOL 1e-3

/* ---- helpers -------------------------------------------------------------------------- */

static Module *new_bn_group(int c, double eps, double momentum, int affine, int group, Err *err)
{
    BatchNormParams p = {c, eps, momentum, affine, group, 0};
    Module *m = batchnorm_module_new(&p, err);
    if (m)
        snprintf(m->path, sizeof m->path, "bn");
    return m;
}

static Module *new_bn(int c, double eps, double momentum, int affine, Err *err)
{
    return new_bn_group(c, eps, momentum, affine, 0, err);
}

static double scalar(const Fixture *fx, const char *name)
{
    const Tensor *t = fixture_get(fx, name);
    return t ? (double)t->data[0] : NAN;
}

static const Tensor *get(const Fixture *fx, const char *prefix, const char *entry)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%s", prefix, entry);
    return fixture_get(fx, name);
}

/* Runs one fixture case: forward x1 (mode train), compares y1; backward dy1, compares dx1,
 * dgamma, dbeta; in train mode, a second forward on x2 when present; compares the running
 * stats with rm / rv (train) or checks they are untouched (eval). */
static int run_case(const Fixture *fx, const char *prefix, int train, int nthreads)
{
    char name[128];
    Err err;
    Net *net = NULL;
    int rc = 1;
    const Tensor *x1 = get(fx, prefix, "x1"), *dy1 = get(fx, prefix, "dy1");
    const Tensor *gamma = get(fx, prefix, "gamma"), *beta = get(fx, prefix, "beta");
    const Tensor *y1 = get(fx, prefix, "y1"), *dx1 = get(fx, prefix, "dx1");
    const Tensor *dgamma = get(fx, prefix, "dgamma"), *dbeta = get(fx, prefix, "dbeta");
    const Tensor *rm = get(fx, prefix, train ? "rm" : "rm_in");
    const Tensor *rv = get(fx, prefix, train ? "rv" : "rv_in");
    snprintf(name, sizeof name, "%s.eps", prefix);
    double eps = scalar(fx, name);
    snprintf(name, sizeof name, "%s.momentum", prefix);
    double momentum = train ? scalar(fx, name) : 0.1;
    if (!x1 || !dy1 || !gamma || !beta || !y1 || !dx1 || !dgamma || !dbeta || !rm || !rv ||
        isnan(eps) || isnan(momentum))
        return tl_fail("%s: fixture entries missing", prefix);
    int c = x1->shape[1];
    Shape in = {c, x1->ndim == 4 ? x1->shape[2] : 1, x1->ndim == 4 ? x1->shape[3] : 1};
    Module *m = new_bn(c, eps, momentum, 1, &err);
    if (!m || net_build(&net, m, in, nthreads, x1->shape[0] + 1, &err))
        return tl_fail("%s: %s", prefix, err.msg);
    Rng r;
    rng_seed(&r, tl_seed, RNG_STREAM_INIT);
    net_init(net, &r);
    memcpy(net->params, gamma->data, (size_t)c * sizeof(float));
    memcpy(net->params + c, beta->data, (size_t)c * sizeof(float));
    if (!train) {
        memcpy(net->buffers, rm->data, (size_t)c * sizeof(float));
        memcpy(net->buffers + c, rv->data, (size_t)c * sizeof(float));
    }
    net_zero_grad(net);
    const Tensor *y, *dx;
    if (net_forward(net, x1, train, NULL, &y, &err)) {
        tl_fail("%s forward: %s", prefix, err.msg);
        goto out;
    }
    snprintf(name, sizeof name, "%s y", prefix);
    if (tl_close(name, y->data, y1->data, y1->size, BN_FWD_RTOL))
        goto out;
    if (net_backward(net, dy1, &dx, &err)) {
        tl_fail("%s backward: %s", prefix, err.msg);
        goto out;
    }
    snprintf(name, sizeof name, "%s dx", prefix);
    if (tl_close(name, dx->data, dx1->data, dx1->size, BN_BWD_RTOL))
        goto out;
    snprintf(name, sizeof name, "%s dgamma", prefix);
    if (tl_close(name, net->grads, dgamma->data, (size_t)c, BN_SUM_RTOL))
        goto out;
    snprintf(name, sizeof name, "%s dbeta", prefix);
    if (tl_close(name, net->grads + c, dbeta->data, (size_t)c, BN_SUM_RTOL))
        goto out;
    snprintf(name, sizeof name, "%s.x2", prefix);
    const Tensor *x2 = NULL;
    for (int i = 0; i < fx->n; i++)
        if (!strcmp(fx->e[i].name, name))
            x2 = &fx->e[i].t;
    if (train && x2 && net_forward(net, x2, 1, NULL, &y, &err)) {
        tl_fail("%s second forward: %s", prefix, err.msg);
        goto out;
    }
    snprintf(name, sizeof name, "%s running_mean", prefix);
    if (tl_close(name, net->buffers, rm->data, (size_t)c, BN_RUNNING_RTOL))
        goto out;
    snprintf(name, sizeof name, "%s running_var", prefix);
    if (tl_close(name, net->buffers + c, rv->data, (size_t)c, BN_RUNNING_RTOL))
        goto out;
    rc = 0;
out:
    net_free(net);
    return rc;
}

static int with_fixture(const char *prefix, int train, int nthreads)
{
    Fixture fx;
    Err err;
    if (fixture_load(&fx, "batchnorm", &err))
        return tl_fail("%s", err.msg);
    int rc = run_case(&fx, prefix, train, nthreads);
    fixture_free(&fx);
    return rc;
}

/* ---- PyTorch fixtures ----------------------------------------------------------------- */

static int test_fixture_train_2d(void) { return with_fixture("t2d", 1, 2); }
static int test_fixture_train_batch1(void) { return with_fixture("t1b", 1, 3); }
static int test_fixture_train_1d(void) { return with_fixture("t1d", 1, 1); }
static int test_fixture_eval(void) { return with_fixture("ev", 0, 2); }

/* ---- finite differences --------------------------------------------------------------- */

static void fill_affine(float *w, size_t n, Rng *r) { tl_fill_away_from_zero(w, n, 0.5f, 1.5f, r); }

/* Inputs on a shuffled, jittered grid over [-0.5, 1.5): the mean is not ~0, and even a
 * channel of 3 values has a spread of at least 2 / n, so the variance (and with it FD's
 * curvature error) stays bounded for every seed. */
static void fill_shifted(float *x, size_t n, Rng *r)
{
    int *perm = malloc(n * sizeof *perm);
    if (!perm) { /* out of memory: fall back to plain uniform values */
        tl_fill_uniform(x, n, -0.5f, 1.5f, r);
        return;
    }
    rng_permutation(r, perm, (int)n);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(-0.5 + 2.0 * ((double)perm[i] + 0.25 * rng_uniform(r)) / (double)n);
    free(perm);
}

static int fd(const char *what, int n, Shape in, int train, int affine)
{
    Err err;
    Module *m = new_bn(in.c, 1e-5, 0.1, affine, &err);
    if (!m)
        return tl_fail("%s: %s", what, err.msg);
    FdOptions o = {n, in, train, BN_FD_EPS, BN_FD_RTOL, 0, fill_shifted,
                   affine ? fill_affine : NULL};
    return tl_fd_check(what, m, &o);
}

static int test_fd_train(void)
{
    return fd("train (3, 5, 3, 5)", 3, (Shape){5, 3, 5}, 1, 1) ||
           fd("train (2, 3, 7, 1)", 2, (Shape){3, 7, 1}, 1, 1) ||
           fd("train no affine (3, 2, 3, 3)", 3, (Shape){2, 3, 3}, 1, 0);
}

static int test_fd_train_batch1(void)
{
    return fd("train batch 1 (1, 3, 5, 3)", 1, (Shape){3, 5, 3}, 1, 1) ||
           fd("train batch 1 (1, 2, 1, 5)", 1, (Shape){2, 1, 5}, 1, 1);
}

static int test_fd_train_1d(void) { return fd("train 1d (7, 4)", 7, (Shape){4, 1, 1}, 1, 1); }

static int test_fd_eval(void)
{
    return fd("eval (3, 5, 3, 5)", 3, (Shape){5, 3, 5}, 0, 1) ||
           fd("eval batch 1 (1, 3, 1, 1)", 1, (Shape){3, 1, 1}, 0, 1) ||
           fd("eval no affine (2, 3, 3, 3)", 2, (Shape){3, 3, 3}, 0, 0);
}

/* ---- determinism ---------------------------------------------------------------------- */

/* One train forward + backward; copies y, dx, grads, buffers into out (sized by caller). */
static int run_once(int nthreads, float *out, size_t *count, Err *err)
{
    Net *net = NULL;
    Tensor x = {0}, dy = {0};
    int shape[4] = {5, 7, 9, 11}, rc = -1;
    Module *m = new_bn(7, 1e-5, 0.1, 1, err);
    if (!m || net_build(&net, m, (Shape){7, 9, 11}, nthreads, 5, err))
        return -1;
    Rng r;
    rng_seed(&r, tl_seed, 7);
    net_init(net, &r);
    fill_affine(net->params, net->n_params, &r);
    if (tensor_alloc(&x, 4, shape, err) || tensor_alloc(&dy, 4, shape, err))
        goto out;
    tl_fill_uniform(x.data, x.size, -3.0f, 5.0f, &r);
    tl_fill_uniform(dy.data, dy.size, -1.0f, 1.0f, &r);
    const Tensor *y, *dx;
    net_zero_grad(net);
    if (net_forward(net, &x, 1, NULL, &y, err) || net_backward(net, &dy, &dx, err))
        goto out;
    size_t k = 0;
    memcpy(out + k, y->data, y->size * sizeof(float));
    k += y->size;
    memcpy(out + k, dx->data, dx->size * sizeof(float));
    k += dx->size;
    memcpy(out + k, net->grads, net->n_params * sizeof(float));
    k += net->n_params;
    memcpy(out + k, net->buffers, net->n_buffers * sizeof(float));
    k += net->n_buffers;
    *count = k;
    rc = 0;
out:
    tensor_free(&x);
    tensor_free(&dy);
    net_free(net);
    return rc;
}

static int test_threads_bit_identical(void)
{
    size_t cap = 2 * 5 * 7 * 9 * 11 + 4 * 7, n1 = 0, n4 = 0;
    float *a = malloc(cap * sizeof(float)), *b = malloc(cap * sizeof(float));
    Err err;
    int rc = 0;
    if (!a || !b)
        rc = tl_fail("out of memory");
    else if (run_once(1, a, &n1, &err) || run_once(4, b, &n4, &err))
        rc = tl_fail("%s", err.msg);
    else if (n1 != n4 || memcmp(a, b, n1 * sizeof(float)))
        rc = tl_fail("1 and 4 threads give different bits");
    free(a);
    free(b);
    return rc;
}

/* ---- groups ----------------------------------------------------------------------------- */

/* Forward and backward of x (n examples of `in`) through a net of one batch norm with the
 * given group and gamma/beta; y, dx, the gradients and the running statistics copied out. */
typedef struct BnRun {
    float y[10 * 4 * 6], dx[10 * 4 * 6], dw[8], run[8];
} BnRun;

static int bn_run(BnRun *o, int group, const float *x, const float *dy, int n, Shape in,
                  const float *w, const float *run_in)
{
    Err err;
    Net *net = NULL;
    Module *m = new_bn_group(in.c, 1e-5, 0.1, 1, group, &err);
    if (!m || net_build(&net, m, in, 2, n, &err))
        return tl_fail("group %d: %s", group, err.msg);
    int xs[4] = {n, in.c, in.h, in.w};
    size_t count = (size_t)n * (size_t)shape_size(in);
    Tensor xt = {0}, dyt = {0};
    const Tensor *y, *dx;
    int rc = 0;
    if (tensor_alloc(&xt, 4, xs, &err) || tensor_alloc(&dyt, 4, xs, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc) {
        memcpy(xt.data, x, count * sizeof(float));
        memcpy(dyt.data, dy, count * sizeof(float));
        memcpy(net->params, w, 2 * (size_t)in.c * sizeof(float));
        memcpy(net->buffers, run_in, 2 * (size_t)in.c * sizeof(float));
        net_zero_grad(net);
        if (net_forward(net, &xt, 1, NULL, &y, &err) || net_backward(net, &dyt, &dx, &err))
            rc = tl_fail("group %d: %s", group, err.msg);
    }
    if (!rc) {
        memcpy(o->y, y->data, count * sizeof(float));
        memcpy(o->dx, dx->data, count * sizeof(float));
        memcpy(o->dw, net->grads, 2 * (size_t)in.c * sizeof(float));
        memcpy(o->run, net->buffers, 2 * (size_t)in.c * sizeof(float));
    }
    tensor_free(&xt);
    tensor_free(&dyt);
    net_free(net);
    return rc;
}

/* N = 10 in groups of 4: 4, 4, 2. Each group against a batch norm of its own (same
 * running statistics in), the gradients summed in group order, the running statistics the
 * mean of the three updates (in double, rounded once). */
static int test_groups(void)
{
    enum { N = 10, C = 4, HW = 6, G = 4 };
    const Shape in = {C, 2, 3};
    static float x[N * C * HW], dy[N * C * HW];
    float w[2 * C], run_in[2 * C];
    Rng r;
    rng_seed(&r, tl_seed, 61);
    fill_shifted(x, N * C * HW, &r);
    tl_fill_uniform(dy, N * C * HW, -1.0f, 1.0f, &r);
    tl_fill_away_from_zero(w, 2 * C, 0.5f, 1.5f, &r);
    for (int i = 0; i < C; i++) {
        run_in[i] = (float)(0.1 * i);
        run_in[C + i] = (float)(1.0 + 0.2 * i);
    }
    static BnRun grouped, part[3], whole;
    if (bn_run(&grouped, G, x, dy, N, in, w, run_in) || bn_run(&whole, 0, x, dy, N, in, w, run_in))
        return 1;
    const int sizes[3] = {4, 4, 2};
    float dw_sum[2 * C] = {0};
    double run_sum[2 * C] = {0};
    size_t off = 0;
    for (int g = 0; g < 3; g++) {
        size_t cnt = (size_t)sizes[g] * C * HW;
        if (bn_run(&part[g], 0, x + off, dy + off, sizes[g], in, w, run_in))
            return 1;
        TL_CHECK(!memcmp(grouped.y + off, part[g].y, cnt * sizeof(float)),
                 "group %d: y differs from its own batch norm", g);
        TL_CHECK(!memcmp(grouped.dx + off, part[g].dx, cnt * sizeof(float)),
                 "group %d: dx differs from its own batch norm", g);
        for (int i = 0; i < 2 * C; i++) {
            dw_sum[i] += part[g].dw[i];
            run_sum[i] += (double)part[g].run[i];
        }
        off += cnt;
    }
    TL_CHECK(!memcmp(grouped.dw, dw_sum, sizeof dw_sum), "dgamma, dbeta: not the groups' sum");
    for (int i = 0; i < 2 * C; i++)
        TL_CHECK(grouped.run[i] == (float)(run_sum[i] / 3), "running statistic %d: %g, expected "
                 "the mean of the groups' updates %g", i, (double)grouped.run[i],
                 run_sum[i] / 3);
    TL_CHECK(memcmp(grouped.y, whole.y, sizeof whole.y), "groups normalise like the whole batch");
    /* group >= N is the whole batch */
    static BnRun big;
    if (bn_run(&big, N, x, dy, N, in, w, run_in))
        return 1;
    TL_CHECK(!memcmp(&big, &whole, sizeof big), "group = N differs from the whole batch");
    /* finite differences through the groups */
    Err err;
    Module *m = new_bn_group(3, 1e-5, 0.1, 1, 2, &err);
    if (!m)
        return tl_fail("%s", err.msg);
    FdOptions o = {5, (Shape){3, 2, 2}, 1, BN_FD_EPS, BN_FD_RTOL, 0, fill_shifted, fill_affine};
    return tl_fd_check("groups of 2 over 5 (2, 2, 1)", m, &o);
}

/* ---- error paths ---------------------------------------------------------------------- */

static int test_error_params(void)
{
    Err err = {""};
    if (new_bn(0, 1e-5, 0.1, 1, &err) ||
        tl_expect_msg("channels", err.msg, "batchnorm: channels is 0, expected >= 1"))
        return 1;
    if (new_bn(3, 0.0, 0.1, 1, &err) || tl_expect_msg("eps", err.msg, "eps is 0"))
        return 1;
    if (new_bn(3, 1e-5, 1.5, 1, &err) ||
        tl_expect_msg("momentum", err.msg, "momentum is 1.5, expected 0..1"))
        return 1;
    if (new_bn_group(3, 1e-5, 0.1, 1, -2, &err) ||
        tl_expect_msg("group", err.msg, "group is -2, expected >= 0"))
        return 1;
    BatchNormParams p = {3, 1e-5, 0.1, 0, 0, 1};
    if (batchnorm_module_new(&p, &err) ||
        tl_expect_msg("zero_gamma", err.msg, "zero_gamma is 1 with affine 0, expected 0, or 1 "
                      "with affine"))
        return 1;
    return 0;
}

/* zero_gamma: gamma starts at 0 (beta 0, running mean 0 and var 1 as always), so the layer
 * outputs beta = 0 in training until gamma learns. */
static int test_zero_gamma(void)
{
    Err err;
    BatchNormParams p = {3, 1e-5, 0.1, 1, 0, 1};
    Module *m = batchnorm_module_new(&p, &err);
    if (!m)
        return tl_fail("zero_gamma: %s", err.msg);
    Net *net = NULL;
    if (net_build(&net, m, (Shape){3, 2, 2}, 1, 2, &err))
        return tl_fail("zero_gamma net: %s", err.msg);
    Rng r;
    rng_seed(&r, tl_seed, RNG_STREAM_INIT);
    net_init(net, &r);
    int rc = 0;
    for (int i = 0; i < 6 && !rc; i++)
        if (net->params[i] != 0.0f)
            rc = tl_fail("zero_gamma: param %d is %g, expected 0", i, (double)net->params[i]);
    for (int i = 0; i < 6 && !rc; i++)
        if (net->buffers[i] != (i < 3 ? 0.0f : 1.0f))
            rc = tl_fail("zero_gamma: buffer %d is %g", i, (double)net->buffers[i]);
    net_free(net);
    return rc;
}

static int test_error_channels(void)
{
    Err err = {""};
    Net *net = NULL;
    Module *m = new_bn(3, 1e-5, 0.1, 1, &err);
    /* at build time: the net's input has 16 channels */
    if (!m || !net_build(&net, m, (Shape){16, 4, 4}, 1, 2, &err)) {
        net_free(net);
        return tl_fail("net_build accepted 16 channels for batchnorm(3)");
    }
    if (tl_expect_msg("setup", err.msg, "bn: batchnorm: input has 16 channels, expected 3"))
        return 1;
    /* at forward time: a (2, 16, 4, 4) tensor given to a module built for 3 channels */
    m = new_bn(3, 1e-5, 0.1, 1, &err);
    if (!m || net_build(&net, m, (Shape){3, 4, 4}, 1, 2, &err))
        return tl_fail("%s", err.msg);
    Tensor x = {0};
    int shape[4] = {2, 16, 4, 4};
    int rc = 0;
    if (tensor_alloc(&x, 4, shape, &err)) {
        net_free(net);
        return tl_fail("%s", err.msg);
    }
    Ctx ctx = {1, NULL, net->ws, net->ws_stride, 1, 0, NULL, net->grad_pool, 0};
    if (!net->root->ops->forward(net->root, &x, &ctx, &err))
        rc = tl_fail("forward accepted 16 channels for batchnorm(3)");
    else
        rc = tl_expect_msg("forward", err.msg, "batchnorm_forward: input has 16 channels, "
                           "expected 3");
    tensor_free(&x);
    net_free(net);
    return rc;
}

/* PyTorch raises "Expected more than 1 value per channel when training" for N H W == 1. */
static int test_error_one_value_per_channel(void)
{
    Err err = {""};
    Net *net = NULL;
    Tensor x = {0};
    int shape[2] = {1, 3}, rc = 0;
    Module *m = new_bn(3, 1e-5, 0.1, 1, &err);
    if (!m || net_build(&net, m, (Shape){3, 1, 1}, 1, 4, &err) ||
        tensor_alloc(&x, 2, shape, &err)) {
        net_free(net);
        return tl_fail("%s", err.msg);
    }
    Rng r;
    rng_seed(&r, tl_seed, RNG_STREAM_INIT);
    net_init(net, &r);
    if (!net_forward(net, &x, 1, NULL, NULL, &err))
        rc = tl_fail("training forward accepted one value per channel");
    else if (tl_expect_msg("train", err.msg, "bn: batchnorm_forward: expected more than 1 value "
                           "per channel when training, got input (1, 3)"))
        rc = 1;
    else if (net_forward(net, &x, 0, NULL, NULL, &err)) /* eval mode is fine with batch 1 */
        rc = tl_fail("eval forward: %s", err.msg);
    tensor_free(&x);
    net_free(net);
    return rc;
}

/* ---- the split kernels (dense.c) -------------------------------------------------------- */

/* x: 3 examples of 7 channels of 5 values, of which the first 4 channels are normalised. */
enum { SK_N = 3, SK_CT = 7, SK_C = 4, SK_HW = 5, SK_SIZE = SK_N * SK_C * SK_HW };

static int split_case(int train, const float *xfull, const float *dy, const float *gamma,
                      const float *beta)
{
    float xg[SK_SIZE], ya[SK_SIZE], yb[SK_SIZE], ra[SK_SIZE], rb[SK_SIZE], m[SK_SIZE];
    float dxa[SK_SIZE], dxb[SK_SIZE], dga[SK_C] = {0}, dba[SK_C] = {0}, dgb[SK_C] = {0};
    float dbb[SK_C] = {0}, runa[2 * SK_C], runb[2 * SK_C];
    double meana[SK_C], inva[SK_C], meanb[SK_C], invb[SK_C], mu[SK_C], sq[SK_C];
    const size_t xs = (size_t)SK_CT * SK_HW;
    for (int k = 0; k < SK_N; k++)
        memcpy(xg + k * SK_C * SK_HW, xfull + k * xs, SK_C * SK_HW * sizeof(float));
    for (int c = 0; c < SK_C; c++) {
        runa[c] = runb[c] = 0.1f * (float)c;
        runa[SK_C + c] = runb[SK_C + c] = 0.5f + 0.25f * (float)c;
    }
    /* a: the module's kernels on the gathered copy, then act.c's ReLU */
    batchnorm_forward(ya, xg, gamma, beta, meana, inva, runa, runa + SK_C, SK_N, SK_C, SK_HW,
                      train, 1e-5, 0.1, 2);
    act_forward(ra, ya, SK_SIZE, ACT_RELU, 0.0f, 2);
    act_backward(m, dy, ya, ra, SK_SIZE, ACT_RELU, 0.0f, 2);
    batchnorm_backward(dxa, dga, dba, m, xg, gamma, meana, inva, SK_N, SK_C, SK_HW, train, 2);
    /* b: the split kernels on the prefix in place, the backward through the mask in place */
    if (train)
        batchnorm_stats(mu, sq, xfull, xs, SK_N, SK_C, SK_HW, 2);
    batchnorm_finish(meanb, invb, runb, runb + SK_C, train ? mu : NULL, train ? sq : NULL, SK_N,
                     SK_C, SK_HW, train, 1e-5, 0.1);
    batchnorm_apply(yb, xfull, xs, gamma, beta, meanb, invb, SK_N, SK_C, SK_HW, 0, 2);
    batchnorm_apply(rb, xfull, xs, gamma, beta, meanb, invb, SK_N, SK_C, SK_HW, 1, 2);
    memcpy(dxb, dy, sizeof dxb);
    batchnorm_backward_relu(dxb, dgb, dbb, dxb, rb, xfull, xs, gamma, meanb, invb, SK_N, SK_C,
                            SK_HW, train, 2);
    const char *mode = train ? "train" : "eval";
    if (memcmp(meana, meanb, sizeof meana) || memcmp(inva, invb, sizeof inva))
        return tl_fail("%s: mean / inv_std differ", mode);
    if (memcmp(runa, runb, sizeof runa))
        return tl_fail("%s: running statistics differ", mode);
    if (memcmp(ya, yb, sizeof ya) || memcmp(ra, rb, sizeof ra))
        return tl_fail("%s: y or relu(y) differ", mode);
    if (memcmp(dxa, dxb, sizeof dxa) || memcmp(dga, dgb, sizeof dga) ||
        memcmp(dba, dbb, sizeof dba))
        return tl_fail("%s: dx, dgamma or dbeta differ", mode);
    return 0;
}

static int test_split_kernels(void)
{
    float xfull[SK_N * SK_CT * SK_HW], dy[SK_SIZE], gamma[SK_C], beta[SK_C];
    Rng r;
    rng_seed(&r, tl_seed, RNG_STREAM_INIT);
    tl_fill_uniform(xfull, sizeof xfull / sizeof xfull[0], -1.0f, 3.0f, &r);
    tl_fill_uniform(dy, SK_SIZE, -1.0f, 1.0f, &r);
    tl_fill_uniform(gamma, SK_C, 0.5f, 1.5f, &r);
    tl_fill_uniform(beta, SK_C, -0.5f, 0.5f, &r); /* some ReLU inputs on each side of 0 */
    xfull[SK_HW + 2] = NAN; /* channel 1 of example 0: a NaN passes the ReLU both ways */
    return split_case(1, xfull, dy, gamma, beta) || split_case(0, xfull, dy, gamma, beta);
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"fixture_train_2d", test_fixture_train_2d},
        {"fixture_train_batch1", test_fixture_train_batch1},
        {"fixture_train_1d", test_fixture_train_1d},
        {"fixture_eval", test_fixture_eval},
        {"fd_train", test_fd_train},
        {"fd_train_batch1", test_fd_train_batch1},
        {"fd_train_1d", test_fd_train_1d},
        {"fd_eval", test_fd_eval},
        {"threads_bit_identical", test_threads_bit_identical},
        {"groups", test_groups},
        {"error_params", test_error_params},
        {"zero_gamma", test_zero_gamma},
        {"error_channels", test_error_channels},
        {"error_one_value_per_channel", test_error_one_value_per_channel},
        {"split_kernels", test_split_kernels},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
