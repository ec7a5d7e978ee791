/*
 * test_linear.c: the linear layer against PyTorch fixtures (tests/fixtures/gen_linear.py),
 * central finite differences (2-D and 4-D inputs, batch 1 and 5, with and without bias), the
 * backward contract (dx overwritten, dw accumulated), initialisation schemes and draw order,
 * repeatability, and the error messages.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/linear.h"
#include "testlib.h"

/* float32 GEMM over <= 12 products vs the float64 reference: a few ulp of the largest value */
#define LINEAR_FIXTURE_RTOL 1e-5
/* y is linear in x and w, so central differences are exact up to float32 rounding of y
 * (~1e-7 relative) divided by the step 2e-2 */
#define LINEAR_FD_RTOL 1e-3
#define LINEAR_FD_EPS 1e-2
/* 6 sigma of the sample mean / variance of 10^5 draws: fails by chance ~1e-9 per run */
#define LINEAR_INIT_SIGMAS 6.0

static Module *make_linear(int in, int out, int bias, InitScheme init)
{
    Err err;
    LinearParams p = {in, out, bias, init};
    Module *m = linear_module_new(&p, &err);
    if (!m)
        printf("  linear_module_new: %s\n", err.msg);
    return m;
}

static int build(Net **net, int in_features, Shape in, int out, int bias, int cap_n)
{
    Err err;
    Module *m = make_linear(in_features, out, bias, INIT_TORCH_DEFAULT);
    if (!m)
        return tl_fail("constructor failed");
    if (net_build(net, m, in, 2, cap_n, &err))
        return tl_fail("net_build: %s", err.msg);
    return 0;
}

/* ---- PyTorch fixtures ----------------------------------------------------------------- */

static int run_fixture(const Fixture *fx, const char *name, Shape in, int out)
{
    char key[64];
    const Tensor *e[8];
    static const char *const part[] = {"x", "w", "b", "dy", "y", "dx", "dw", "db"};
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "%s.%s", name, part[i]);
        if (!(e[i] = fixture_get(fx, key)))
            return tl_fail("%s: missing fixture entry %s", name, key);
    }
    int in_f = (int)shape_size(in);
    Net *net = NULL;
    Err err;
    if (build(&net, in_f, in, out, 1, e[0]->shape[0]))
        return 1;
    size_t nw = (size_t)out * (size_t)in_f;
    memcpy(net->params, e[1]->data, nw * sizeof(float));
    memcpy(net->params + nw, e[2]->data, (size_t)out * sizeof(float));
    net_zero_grad(net);
    const Tensor *y, *dx;
    int rc = 1;
    char what[64];
    if (net_forward(net, e[0], 1, NULL, &y, &err) || net_backward(net, e[3], &dx, &err)) {
        tl_fail("%s: %s", name, err.msg);
        goto out;
    }
    snprintf(what, sizeof what, "%s y", name);
    if (y->size != e[4]->size || tl_close(what, y->data, e[4]->data, e[4]->size,
                                          LINEAR_FIXTURE_RTOL))
        goto out;
    snprintf(what, sizeof what, "%s dx", name);
    if (tl_close(what, dx->data, e[5]->data, e[5]->size, LINEAR_FIXTURE_RTOL))
        goto out;
    snprintf(what, sizeof what, "%s dw", name);
    if (tl_close(what, net->grads, e[6]->data, nw, LINEAR_FIXTURE_RTOL))
        goto out;
    snprintf(what, sizeof what, "%s db", name);
    if (tl_close(what, net->grads + nw, e[7]->data, (size_t)out, LINEAR_FIXTURE_RTOL))
        goto out;
    rc = 0;
out:
    net_free(net);
    return rc;
}

static int test_fixtures(void)
{
    Fixture fx;
    Err err;
    if (fixture_load(&fx, "linear", &err))
        return tl_fail("%s", err.msg);
    int rc = run_fixture(&fx, "flat", (Shape){7, 1, 1}, 4) ||
             run_fixture(&fx, "nchw", (Shape){3, 2, 2}, 6) ||
             run_fixture(&fx, "one", (Shape){9, 1, 1}, 1);
    fixture_free(&fx);
    return rc;
}

/* ---- finite differences --------------------------------------------------------------- */

static int fd_case(const char *what, Shape in, int out, int bias, int n)
{
    Module *m = make_linear((int)shape_size(in), out, bias, INIT_TORCH_DEFAULT);
    if (!m)
        return tl_fail("%s: constructor failed", what);
    FdOptions o = {n, in, 1, LINEAR_FD_EPS, LINEAR_FD_RTOL, 0, NULL, NULL};
    return tl_fd_check(what, m, &o);
}

static int test_fd_vector(void)
{
    return fd_case("vector n=1", (Shape){7, 1, 1}, 5, 1, 1) ||
           fd_case("vector n=5", (Shape){7, 1, 1}, 5, 1, 5) ||
           fd_case("vector no bias n=5", (Shape){7, 1, 1}, 3, 0, 5);
}

static int test_fd_nchw(void)
{
    return fd_case("nchw n=1", (Shape){3, 3, 5}, 7, 1, 1) ||
           fd_case("nchw n=5", (Shape){3, 3, 5}, 7, 1, 5) ||
           fd_case("nchw no bias n=3", (Shape){5, 1, 3}, 2, 0, 3);
}

/* ---- contract: 2-D and 4-D views agree, dx overwritten, dw accumulated, repeatable ------ */

static int test_2d_input_and_accumulation(void)
{
    Net *net = NULL;
    Err err;
    Rng r;
    Tensor x = {0}, dy = {0}, y4 = {0}, dx4 = {0};
    float *g1 = NULL;
    int rc = 1;
    Shape in = {3, 2, 2};
    int n = 4, out = 5;
    if (build(&net, 12, in, out, 1, n))
        return 1;
    Module *m = net->root;
    Ctx ctx = {1, NULL, net->ws, net->ws_stride, net->nthreads, 0, NULL, net->grad_pool, 0};
    rng_seed(&r, tl_seed, 1);
    net_init(net, &r);
    int xs[4] = {n, 3, 2, 2}, ds[2] = {n, out};
    if (tensor_alloc(&x, 4, xs, &err) || tensor_alloc(&dy, 2, ds, &err) ||
        tensor_alloc(&y4, 2, ds, &err) || tensor_alloc(&dx4, 4, xs, &err))
        goto fail;
    tl_fill_uniform(x.data, x.size, -1.0f, 1.0f, &r);
    tl_fill_uniform(dy.data, dy.size, -1.0f, 1.0f, &r);
    g1 = malloc(net->n_params * sizeof(float));
    if (!g1)
        goto fail;

    /* 4-D input, one backward */
    net_zero_grad(net);
    if (m->ops->forward(m, &x, &ctx, &err) || m->ops->backward(m, &x, &dy, &ctx, &err))
        goto fail;
    memcpy(y4.data, m->y.data, y4.size * sizeof(float));
    memcpy(dx4.data, m->dx.data, dx4.size * sizeof(float));
    memcpy(g1, net->grads, net->n_params * sizeof(float));

    /* the same memory as a 2-D (N, 12) input: same numbers, bit for bit */
    int x2s[2] = {n, 12};
    Tensor x2 = tensor_view(x.data, 2, x2s);
    if (m->ops->forward(m, &x2, &ctx, &err) || m->ops->backward(m, &x2, &dy, &ctx, &err))
        goto fail;
    if (memcmp(y4.data, m->y.data, y4.size * sizeof(float)) ||
        memcmp(dx4.data, m->dx.data, dx4.size * sizeof(float))) {
        tl_fail("2-D input gives different y or dx than the 4-D view of the same memory");
        goto out;
    }
    /* the second backward overwrote dx (checked above) and added to dw: g + g = 2 g exactly */
    for (size_t i = 0; i < net->n_params; i++) {
        if (net->grads[i] != 2.0f * g1[i]) {
            tl_fail("grad[%zu] is %g after two backwards, expected 2 * %g", i,
                    (double)net->grads[i], (double)g1[i]);
            goto out;
        }
    }
    /* repeatable: a third pass from zeroed grads gives the first pass's bits */
    net_zero_grad(net);
    if (m->ops->forward(m, &x, &ctx, &err) || m->ops->backward(m, &x, &dy, &ctx, &err))
        goto fail;
    if (memcmp(g1, net->grads, net->n_params * sizeof(float)) ||
        memcmp(y4.data, m->y.data, y4.size * sizeof(float))) {
        tl_fail("repeating forward/backward changed the bits of y or the gradients");
        goto out;
    }
    rc = 0;
    goto out;
fail:
    tl_fail("%s", err.msg);
out:
    free(g1);
    tensor_free(&x);
    tensor_free(&dy);
    tensor_free(&y4);
    tensor_free(&dx4);
    net_free(net);
    return rc;
}

/* ---- initialisation ------------------------------------------------------------------- */

static int init_net(Net **net, int in, int out, int bias, InitScheme s, uint64_t seed)
{
    Err err;
    Module *m = make_linear(in, out, bias, s);
    if (!m)
        return tl_fail("constructor failed");
    if (net_build(net, m, (Shape){in, 1, 1}, 1, 1, &err))
        return tl_fail("net_build: %s", err.msg);
    Rng r;
    rng_seed(&r, seed, RNG_STREAM_INIT);
    net_init(*net, &r);
    return 0;
}

static int test_init_torch_default(void)
{
    int in = 300, out = 400;
    Net *net = NULL;
    if (init_net(&net, in, out, 1, INIT_TORCH_DEFAULT, tl_seed))
        return 1;
    /* draw order: weight then bias, element order, bound (2u - 1) */
    Rng r;
    rng_seed(&r, tl_seed, RNG_STREAM_INIT);
    double bound = 1.0 / sqrt((double)in);
    int rc = 0;
    for (size_t i = 0; i < net->n_params && !rc; i++) {
        float want = (float)(bound * (2.0 * rng_uniform(&r) - 1.0));
        if (net->params[i] != want)
            rc = tl_fail("param %zu is %g, expected %g (weight, then bias, element order)", i,
                         (double)net->params[i], (double)want);
    }
    /* U(-b, b): mean 0, variance b^2 / 3 */
    size_t nw = (size_t)in * (size_t)out;
    double s = 0.0, s2 = 0.0;
    for (size_t i = 0; i < nw; i++) {
        s += net->params[i];
        s2 += (double)net->params[i] * net->params[i];
    }
    double mean = s / (double)nw, var = s2 / (double)nw, want_var = bound * bound / 3.0;
    double sd_mean = sqrt(want_var / (double)nw);
    double sd_var = sqrt((pow(bound, 4) / 5.0 - want_var * want_var) / (double)nw);
    if (!rc && (fabs(mean) > LINEAR_INIT_SIGMAS * sd_mean ||
                fabs(var - want_var) > LINEAR_INIT_SIGMAS * sd_var))
        rc = tl_fail("torch_default: mean %g var %g, expected 0 and %g", mean, var, want_var);
    net_free(net);
    return rc;
}

/* A normal scheme: weights with mean 0 and variance want_var (within LINEAR_INIT_SIGMAS
 * standard errors), zero biases, decay on the weights only. */
static int check_normal_init(const char *what, InitScheme s, double want_var)
{
    int in = 250, out = 400;
    Net *net = NULL;
    if (init_net(&net, in, out, 1, s, tl_seed))
        return 1;
    size_t nw = (size_t)in * (size_t)out;
    double sum = 0.0, s2 = 0.0;
    for (size_t i = 0; i < nw; i++) {
        sum += net->params[i];
        s2 += (double)net->params[i] * net->params[i];
    }
    double mean = sum / (double)nw, var = s2 / (double)nw;
    int rc = 0;
    if (fabs(mean) > LINEAR_INIT_SIGMAS * sqrt(want_var / (double)nw) ||
        fabs(var - want_var) > LINEAR_INIT_SIGMAS * want_var * sqrt(2.0 / (double)nw))
        rc = tl_fail("%s: mean %g var %g, expected 0 and %g", what, mean, var, want_var);
    for (int j = 0; j < out && !rc; j++)
        if (net->params[nw + (size_t)j] != 0.0f)
            rc = tl_fail("%s: bias[%d] is %g, expected 0", what, j,
                         (double)net->params[nw + (size_t)j]);
    if (!rc && net->root->n_decay != nw)
        rc = tl_fail("n_decay is %zu, expected the %zu weights", net->root->n_decay, nw);
    net_free(net);
    return rc;
}

static int test_init_he_zero(void)
{
    Net *net = NULL;
    int rc = check_normal_init("he_normal", INIT_HE_NORMAL, 2.0 / 250) ||
             check_normal_init("normal_0.01", INIT_NORMAL_001, 1e-4);
    if (rc)
        return rc;
    if (init_net(&net, 5, 3, 1, INIT_ZERO, tl_seed))
        return 1;
    for (size_t i = 0; i < net->n_params && !rc; i++)
        if (net->params[i] != 0.0f)
            rc = tl_fail("zero init: param %zu is %g", i, (double)net->params[i]);
    net_free(net);
    return rc;
}

/* ---- errors --------------------------------------------------------------------------- */

static int test_errors(void)
{
    Err err;
    LinearParams bad = {0, 3, 1, INIT_TORCH_DEFAULT};
    if (tl_expect_error("in = 0", linear_module_new(&bad, &err) == NULL, &err,
                        "linear: in = 0 and out = 3, expected both >= 1"))
        return 1;
    LinearParams bad_init = {4, 3, 1, (InitScheme)17};
    if (tl_expect_error("init", linear_module_new(&bad_init, &err) == NULL, &err,
                        "linear: init scheme 17 is unknown"))
        return 1;
    /* setup: a (3, 2, 2) input into a layer built for 16 features */
    Net *net = NULL;
    Module *m = make_linear(16, 4, 1, INIT_ZERO);
    if (!m)
        return 1;
    if (tl_expect_error("setup", net_build(&net, m, (Shape){3, 2, 2}, 1, 2, &err) != 0, &err,
                        "linear: input has 12 features (3, 2, 2), weight expects 16"))
        return 1;
    /* forward: a (2, 5) tensor straight into a 12-feature layer */
    if (build(&net, 12, (Shape){3, 2, 2}, 4, 1, 2))
        return 1;
    int rc = 0;
    Tensor x = {0};
    int xs[2] = {2, 5};
    Ctx ctx = {0, NULL, net->ws, net->ws_stride, net->nthreads, 0, NULL, net->grad_pool, 0};
    if (tensor_alloc(&x, 2, xs, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc)
        rc = tl_expect_error("forward", net->root->ops->forward(net->root, &x, &ctx, &err) != 0,
                             &err, "linear: input (2, 5) has 5 features per example, weight "
                             "expects 12");
    tensor_free(&x);
    net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"linear_fixtures", test_fixtures},
        {"linear_fd_vector", test_fd_vector},
        {"linear_fd_nchw", test_fd_nchw},
        {"linear_2d_input_and_accumulation", test_2d_input_and_accumulation},
        {"linear_init_torch_default", test_init_torch_default},
        {"linear_init_he_zero", test_init_he_zero},
        {"linear_errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
