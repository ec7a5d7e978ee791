/*
 * test_act.c: ReLU, leaky ReLU, tanh and sigmoid against PyTorch fixtures
 * (tests/fixtures/gen_act.py: exact zeros and saturating inputs included), central finite
 * differences (odd shapes, batch 1 and 3, ReLU inputs away from the kink), NaN propagation,
 * thread-count independence and the error messages.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/act.h"
#include "testlib.h"

/* float32 tanhf/expf and one or two roundings vs the float64 reference: a few ulp of the
 * largest value */
#define ACT_FIXTURE_RTOL 1e-6
/* smooth activations: central-difference truncation eps^2 f''' / 6 ~ 2e-5 plus float32
 * rounding of one y element over the step (~3e-6) */
#define ACT_FD_RTOL 1e-3
#define ACT_FD_EPS 1e-2
/* ReLU inputs keep |x| >= 0.05 > eps, so no perturbation crosses the kink */
#define ACT_AWAY_LO 0.05f
#define ACT_AWAY_HI 1.5f

static Module *make_act(ActKind kind, double slope)
{
    Err err;
    Module *m = act_module_new(kind, slope, &err);
    if (!m)
        printf("  act_module_new: %s\n", err.msg);
    return m;
}

/* ---- PyTorch fixtures ----------------------------------------------------------------- */

static int run_fixture(const Fixture *fx, const char *name, ActKind kind, double slope)
{
    char key[64], what[64];
    const Tensor *x = fixture_get(fx, "x"), *dy = fixture_get(fx, "dy"), *want_y, *want_dx;
    snprintf(key, sizeof key, "%s.y", name);
    want_y = fixture_get(fx, key);
    snprintf(key, sizeof key, "%s.dx", name);
    want_dx = fixture_get(fx, key);
    if (!x || !dy || !want_y || !want_dx)
        return tl_fail("%s: missing fixture entries", name);
    Module *m = make_act(kind, slope);
    Net *net = NULL;
    Err err;
    if (!m)
        return tl_fail("%s: constructor failed", name);
    if (net_build(&net, m, tensor_example_shape(x), 3, x->shape[0], &err))
        return tl_fail("%s: net_build: %s", name, err.msg);
    const Tensor *y, *dx;
    int rc = 1;
    if (net_forward(net, x, 1, NULL, &y, &err) || net_backward(net, dy, &dx, &err)) {
        tl_fail("%s: %s", name, err.msg);
        goto out;
    }
    snprintf(what, sizeof what, "%s y", name);
    if (tl_close(what, y->data, want_y->data, want_y->size, ACT_FIXTURE_RTOL))
        goto out;
    snprintf(what, sizeof what, "%s dx", name);
    if (tl_close(what, dx->data, want_dx->data, want_dx->size, ACT_FIXTURE_RTOL))
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
    if (fixture_load(&fx, "act", &err))
        return tl_fail("%s", err.msg);
    int rc = run_fixture(&fx, "relu", ACT_RELU, 0.0) ||
             run_fixture(&fx, "leaky001", ACT_LEAKY_RELU, 0.01) ||
             run_fixture(&fx, "leaky02", ACT_LEAKY_RELU, 0.2) ||
             run_fixture(&fx, "tanh", ACT_TANH, 0.0) ||
             run_fixture(&fx, "sigmoid", ACT_SIGMOID, 0.0);
    fixture_free(&fx);
    return rc;
}

/* ---- finite differences --------------------------------------------------------------- */

static void fill_away(float *x, size_t n, Rng *r)
{
    tl_fill_away_from_zero(x, n, ACT_AWAY_LO, ACT_AWAY_HI, r);
}

static void fill_wide(float *x, size_t n, Rng *r) { tl_fill_uniform(x, n, -3.0f, 3.0f, r); }

static int fd_case(const char *what, ActKind kind, double slope, int n, Shape in,
                   void (*fill)(float *, size_t, Rng *))
{
    Module *m = make_act(kind, slope);
    if (!m)
        return tl_fail("%s: constructor failed", what);
    FdOptions o = {n, in, 1, ACT_FD_EPS, ACT_FD_RTOL, 0, fill, NULL};
    return tl_fd_check(what, m, &o);
}

static int test_fd(void)
{
    Shape s1 = {5, 3, 1}, s2 = {3, 1, 7};
    return fd_case("relu n=1", ACT_RELU, 0.0, 1, s1, fill_away) ||
           fd_case("relu n=3", ACT_RELU, 0.0, 3, s2, fill_away) ||
           fd_case("leaky n=1", ACT_LEAKY_RELU, 0.01, 1, s2, fill_away) ||
           fd_case("leaky 0.3 n=3", ACT_LEAKY_RELU, 0.3, 3, s1, fill_away) ||
           fd_case("tanh n=1", ACT_TANH, 0.0, 1, s1, fill_wide) ||
           fd_case("tanh n=3", ACT_TANH, 0.0, 3, s2, fill_wide) ||
           fd_case("sigmoid n=1", ACT_SIGMOID, 0.0, 1, s2, fill_wide) ||
           fd_case("sigmoid n=3", ACT_SIGMOID, 0.0, 3, s1, fill_wide);
}

/* ---- kernel properties ---------------------------------------------------------------- */

/* A NaN input stays NaN through every activation (divergence must not be hidden), and the
 * extremes saturate without inf or NaN. */
static int test_nan_and_extremes(void)
{
    static const ActKind kinds[] = {ACT_RELU, ACT_LEAKY_RELU, ACT_TANH, ACT_SIGMOID};
    float x[5] = {NAN, 1e30f, -1e30f, 100.0f, -100.0f}, y[5], dx[5], dy[5] = {1, 1, 1, 1, 1};
    for (int k = 0; k < 4; k++) {
        act_forward(y, x, 5, kinds[k], 0.01f, 1);
        act_backward(dx, dy, x, y, 5, kinds[k], 0.01f, 1);
        if (!isnan(y[0]))
            return tl_fail("kind %d: NaN input gave %g", (int)kinds[k], (double)y[0]);
        for (int i = 1; i < 5; i++)
            if (!isfinite(y[i]) || !isfinite(dx[i]))
                return tl_fail("kind %d: x = %g gave y = %g, dx = %g", (int)kinds[k],
                               (double)x[i], (double)y[i], (double)dx[i]);
    }
    return 0;
}

/* Elementwise, so any thread count gives the same bits. */
static int test_threads(void)
{
    enum { COUNT = 10007 };
    float *x = malloc(4 * COUNT * sizeof(float));
    if (!x)
        return tl_fail("out of memory");
    float *y1 = x + COUNT, *y3 = y1 + COUNT, *dx = y3 + COUNT;
    Rng r;
    rng_seed(&r, tl_seed, 3);
    tl_fill_uniform(x, COUNT, -4.0f, 4.0f, &r);
    int rc = 0;
    for (int k = ACT_RELU; k <= ACT_SIGMOID && !rc; k++) {
        act_forward(y1, x, COUNT, (ActKind)k, 0.1f, 1);
        act_forward(y3, x, COUNT, (ActKind)k, 0.1f, 3);
        if (memcmp(y1, y3, COUNT * sizeof(float)))
            rc = tl_fail("kind %d: 1 and 3 threads differ in y", k);
        act_backward(dx, x, x, y1, COUNT, (ActKind)k, 0.1f, 1);
        act_backward(y3, x, x, y1, COUNT, (ActKind)k, 0.1f, 3);
        if (!rc && memcmp(dx, y3, COUNT * sizeof(float)))
            rc = tl_fail("kind %d: 1 and 3 threads differ in dx", k);
    }
    free(x);
    return rc;
}

/* ---- errors --------------------------------------------------------------------------- */

static int test_errors(void)
{
    Err err;
    if (tl_expect_error("kind", act_module_new((ActKind)7, 0.0, &err) == NULL, &err,
                        "act: kind is 7, expected 0..3"))
        return 1;
    if (tl_expect_error("slope", act_module_new(ACT_LEAKY_RELU, NAN, &err) == NULL, &err,
                        "leaky_relu: slope is nan, expected a finite number"))
        return 1;
    Module *m = make_act(ACT_TANH, 0.0);
    Net *net = NULL;
    if (!m)
        return 1;
    if (net_build(&net, m, (Shape){4, 3, 3}, 1, 2, &err))
        return tl_fail("net_build: %s", err.msg);
    Tensor x = {0};
    int xs[4] = {2, 4, 3, 2};
    int rc = 0;
    Ctx ctx = {1, NULL, net->ws, net->ws_stride, net->nthreads, 0, NULL, net->grad_pool, 0};
    if (tensor_alloc(&x, 4, xs, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc)
        rc = tl_expect_error("forward", net->root->ops->forward(net->root, &x, &ctx, &err) != 0,
                             &err, "tanh: input is (2, 4, 3, 2), expected (N, 4, 3, 3)");
    tensor_free(&x);
    net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"act_fixtures", test_fixtures},
        {"act_fd", test_fd},
        {"act_nan_and_extremes", test_nan_and_extremes},
        {"act_threads", test_threads},
        {"act_errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
