/*
 * test_elu.c: ELU (nn/elu.h) against a double-precision reference of torch.nn.ELU's formula
 * (x > 0 ? x : alpha (exp(x) - 1); dx = x > 0 ? dy : dy alpha exp(x)), exact zeros, large
 * negative and NaN inputs included; central finite differences (odd shapes, batch 1 and 3,
 * alpha 1 and not 1, inputs away from the kink at 0); thread-count independence; the
 * constructor's and the forward's errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/elu.h"
#include "testlib.h"

/* float32 expm1f / expf and one rounding of the product vs the float64 reference: a few ulp
 * of the largest value */
#define ELU_REF_RTOL 1e-6
/* smooth away from 0: central-difference truncation eps^2 f''' / 6 ~ 2e-5 plus float32
 * rounding of one y element over the step (~3e-6) */
#define ELU_FD_RTOL 1e-3
#define ELU_FD_EPS 1e-2
/* inputs keep |x| >= 0.05 > eps, so no perturbation crosses 0, where dy/dx jumps from alpha
 * to 1 when alpha != 1 */
#define ELU_AWAY_LO 0.05f
#define ELU_AWAY_HI 2.5f

static Module *make_elu(double alpha)
{
    Err err;
    EluParams p = {alpha};
    Module *m = elu_module_new(&p, &err);
    if (!m)
        printf("  elu_module_new: %s\n", err.msg);
    return m;
}

/* ---- double-precision reference -------------------------------------------------------- */

static void ref_elu(double *y, double *dx, const float *x, const float *dy, size_t n,
                    double alpha)
{
    for (size_t i = 0; i < n; i++) {
        double v = (double)x[i];
        y[i] = v > 0.0 ? v : alpha * expm1(v);
        dx[i] = v > 0.0 ? (double)dy[i] : (double)dy[i] * alpha * exp(v);
    }
}

/* A Net around one ELU on (n, in) inputs from [-6, 3) plus exact zeros and a large negative,
 * forward and backward against ref_elu. */
static int ref_case(const char *what, double alpha, int n, Shape in)
{
    Err err;
    Net *net = NULL;
    Module *m = make_elu(alpha);
    if (!m)
        return tl_fail("%s: constructor failed", what);
    if (net_build(&net, m, in, 2, n, &err))
        return tl_fail("%s: net_build: %s", what, err.msg);
    int shape[4] = {n, in.c, in.h, in.w}, rc = 1;
    Tensor x = {0}, dy = {0};
    double *want = NULL;
    float *wantf = NULL;
    if (tensor_alloc(&x, 4, shape, &err) || tensor_alloc(&dy, 4, shape, &err)) {
        tl_fail("%s: %s", what, err.msg);
        goto out;
    }
    size_t count = x.size;
    want = malloc(2 * count * sizeof *want);
    wantf = malloc(2 * count * sizeof *wantf);
    if (!want || !wantf) {
        tl_fail("%s: out of memory", what);
        goto out;
    }
    Rng r;
    rng_seed(&r, tl_seed, 11);
    tl_fill_uniform(x.data, count, -6.0f, 3.0f, &r);
    tl_fill_uniform(dy.data, count, -1.0f, 1.0f, &r);
    x.data[0] = 0.0f;
    x.data[count - 1] = -80.0f; /* saturates at -alpha without inf or NaN */
    ref_elu(want, want + count, x.data, dy.data, count, alpha);
    for (size_t i = 0; i < 2 * count; i++)
        wantf[i] = (float)want[i];
    const Tensor *y, *dx;
    char w[96];
    if (net_forward(net, &x, 1, NULL, &y, &err) || net_backward(net, &dy, &dx, &err)) {
        tl_fail("%s: %s", what, err.msg);
        goto out;
    }
    snprintf(w, sizeof w, "%s y", what);
    if (tl_close(w, y->data, wantf, count, ELU_REF_RTOL))
        goto out;
    snprintf(w, sizeof w, "%s dx", what);
    if (tl_close(w, dx->data, wantf + count, count, ELU_REF_RTOL))
        goto out;
    rc = 0;
out:
    free(want);
    free(wantf);
    tensor_free(&x);
    tensor_free(&dy);
    net_free(net);
    return rc;
}

static int test_reference(void)
{
    return ref_case("alpha 1 n=1", ELU_DEFAULT_ALPHA, 1, (Shape){3, 5, 7}) ||
           ref_case("alpha 0.5 n=3", 0.5, 3, (Shape){2, 4, 3}) ||
           ref_case("alpha 2 n=2", 2.0, 2, (Shape){7, 1, 1});
}

/* ---- finite differences --------------------------------------------------------------- */

static void fill_away(float *x, size_t n, Rng *r)
{
    tl_fill_away_from_zero(x, n, ELU_AWAY_LO, ELU_AWAY_HI, r);
}

static int fd_case(const char *what, double alpha, int n, Shape in)
{
    Module *m = make_elu(alpha);
    if (!m)
        return tl_fail("%s: constructor failed", what);
    FdOptions o = {n, in, 1, ELU_FD_EPS, ELU_FD_RTOL, 0, fill_away, NULL};
    return tl_fd_check(what, m, &o);
}

static int test_fd(void)
{
    Shape s1 = {5, 3, 1}, s2 = {3, 1, 7};
    return fd_case("elu n=1", ELU_DEFAULT_ALPHA, 1, s1) ||
           fd_case("elu n=3", ELU_DEFAULT_ALPHA, 3, s2) ||
           fd_case("elu alpha 0.3 n=1", 0.3, 1, s2) ||
           fd_case("elu alpha 1.7 n=3", 1.7, 3, s1);
}

/* ---- kernel properties ---------------------------------------------------------------- */

/* A NaN input stays NaN (divergence must not be hidden); the extremes stay finite. */
static int test_nan_and_extremes(void)
{
    float x[5] = {NAN, 1e30f, -1e30f, 100.0f, -100.0f}, y[5], dx[5], dy[5] = {1, 1, 1, 1, 1};
    elu_forward(y, x, 5, 1.0f, 1);
    elu_backward(dx, dy, x, 5, 1.0f, 1);
    if (!isnan(y[0]) || !isnan(dx[0]))
        return tl_fail("NaN input gave y = %g, dx = %g", (double)y[0], (double)dx[0]);
    for (int i = 1; i < 5; i++)
        if (!isfinite(y[i]) || !isfinite(dx[i]))
            return tl_fail("x = %g gave y = %g, dx = %g", (double)x[i], (double)y[i],
                           (double)dx[i]);
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
    elu_forward(y1, x, COUNT, 0.7f, 1);
    elu_forward(y3, x, COUNT, 0.7f, 3);
    if (memcmp(y1, y3, COUNT * sizeof(float)))
        rc = tl_fail("1 and 3 threads differ in y");
    elu_backward(dx, y1, x, COUNT, 0.7f, 1);
    elu_backward(y3, y1, x, COUNT, 0.7f, 3);
    if (!rc && memcmp(dx, y3, COUNT * sizeof(float)))
        rc = tl_fail("1 and 3 threads differ in dx");
    free(x);
    return rc;
}

/* ---- errors --------------------------------------------------------------------------- */

static int test_errors(void)
{
    Err err;
    EluParams bad = {INFINITY};
    if (tl_expect_error("alpha", elu_module_new(&bad, &err) == NULL, &err,
                        "elu: alpha is inf, expected a finite number"))
        return 1;
    Module *m = make_elu(1.0);
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
                             &err, "elu: input is (2, 4, 3, 2), expected (N, 4, 3, 3)");
    tensor_free(&x);
    net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"elu_reference", test_reference},
        {"elu_fd", test_fd},
        {"elu_nan_and_extremes", test_nan_and_extremes},
        {"elu_threads", test_threads},
        {"elu_errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
