/*
 * test_interp.c: Figure 2's measurements between pairs (harness/metrics/interp.c) on a linear
 * classifier, against the closed form computed here in double: x~ = lambda x_i + (1 - lambda)
 * x_j, z = W x~ + b, miss = argmax z not in {y_i, y_j}, and the per-example input gradient
 * W^T (softmax(z) - t~) with t~ the mixed or the heavier input's target; lambda = 1 gives
 * x~ = x_i exactly; bad arguments are refused with their messages.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metrics/interp.h"
#include "nn/linear.h"
#include "testlib.h"

#define GNORM_RTOL 1e-4 /* float32 logits and gradient against double */

enum { N = 16, D = 12, K = 4 };

static int total_misses, total_pairs; /* both outcomes must occur for the test to mean much */

static int run_case(Net *net, double lambda, int target, Rng *r)
{
    Err err;
    int xs[2] = {N, D}, ts[2] = {N, K};
    Tensor xi, xj, xm, t, dz;
    if (tensor_alloc(&xi, 2, xs, &err) || tensor_alloc(&xj, 2, xs, &err) ||
        tensor_alloc(&xm, 2, xs, &err) || tensor_alloc(&t, 2, ts, &err) ||
        tensor_alloc(&dz, 2, ts, &err))
        return tl_fail("%s", err.msg);
    tl_fill_uniform(xi.data, xi.size, -2.0f, 2.0f, r);
    tl_fill_uniform(xj.data, xj.size, -2.0f, 2.0f, r);
    int yi[N], yj[N], miss[N];
    double gnorm[N];
    for (int i = 0; i < N; i++) {
        yi[i] = (int)rng_below(r, K);
        yj[i] = (int)rng_below(r, K);
    }
    int rc = 0;
    if (interp_eval(net, &xm, &t, &dz, miss, gnorm, &xi, &xj, yi, yj, lambda, target, &err))
        rc = tl_fail("%s", err.msg);
    const float *w = net->params, *bias = net->params + (size_t)K * D;
    int misses = 0;
    for (int i = 0; i < N && !rc; i++) {
        double x[D], z[K], m = -HUGE_VAL, s = 0.0;
        for (int d = 0; d < D; d++) {
            x[d] = (float)lambda * xi.data[i * D + d] + (float)(1.0 - lambda) * xj.data[i * D + d];
            if (lambda == 1.0 && xm.data[i * D + d] != xi.data[i * D + d])
                return tl_fail("lambda 1: x~ differs from x_i");
        }
        int best = 0;
        for (int c = 0; c < K; c++) {
            z[c] = bias[c];
            for (int d = 0; d < D; d++)
                z[c] += (double)w[c * D + d] * x[d];
            if (z[c] > z[best])
                best = c;
            m = fmax(m, z[c]);
        }
        for (int c = 0; c < K; c++)
            s += exp(z[c] - m);
        double tt[K] = {0};
        if (target == INTERP_TARGET_HEAVIER) {
            tt[lambda >= 0.5 ? yi[i] : yj[i]] = 1.0;
        } else {
            tt[yi[i]] += lambda;
            tt[yj[i]] += 1.0 - lambda;
        }
        double g2 = 0.0;
        for (int d = 0; d < D; d++) {
            double g = 0.0;
            for (int c = 0; c < K; c++)
                g += (double)w[c * D + d] * (exp(z[c] - m) / s - tt[c]);
            g2 += g * g;
        }
        int want_miss = best != yi[i] && best != yj[i];
        misses += want_miss;
        if (miss[i] != want_miss)
            rc = tl_fail("lambda %g pair %d: miss %d, expected %d", lambda, i, miss[i], want_miss);
        else if (fabs(gnorm[i] - sqrt(g2)) > GNORM_RTOL * sqrt(g2))
            rc = tl_fail("lambda %g pair %d: gradient norm %.9g, expected %.9g", lambda, i,
                         gnorm[i], sqrt(g2));
    }
    total_misses += misses;
    total_pairs += N;
    tensor_free(&xi);
    tensor_free(&xj);
    tensor_free(&xm);
    tensor_free(&t);
    tensor_free(&dz);
    return rc;
}

static int build(Net **net, Rng *r)
{
    Err err;
    LinearParams lp = {D, K, 1, INIT_TORCH_DEFAULT};
    Module *m = linear_module_new(&lp, &err);
    Shape in = {D, 1, 1};
    if (!m || net_build(net, m, in, 1, N, &err))
        return tl_fail("%s", err.msg);
    net_init(*net, r);
    return 0;
}

static int test_closed_form(void)
{
    Rng r;
    rng_seed(&r, tl_seed, 401);
    Net *net;
    if (build(&net, &r))
        return 1;
    const double lambdas[] = {0.0, 0.3, 0.5, 0.8, 1.0};
    int rc = 0;
    for (size_t l = 0; l < sizeof lambdas / sizeof lambdas[0] && !rc; l++)
        for (int target = 0; target <= 1 && !rc; target++)
            rc = run_case(net, lambdas[l], target, &r);
    net_free(net);
    if (!rc && (total_misses == 0 || total_misses == total_pairs))
        rc = tl_fail("%d misses in %d pairs: one outcome never occurred", total_misses,
                     total_pairs);
    return rc;
}

static int test_errors(void)
{
    Rng r;
    rng_seed(&r, tl_seed, 402);
    Net *net;
    if (build(&net, &r))
        return 1;
    Err err;
    int xs[2] = {N, D}, ts[2] = {N, K}, small[2] = {N, D - 1};
    static float xd[3][N * D], td[2][N * K];
    Tensor xi = tensor_view(xd[0], 2, xs), xj = tensor_view(xd[1], 2, xs);
    Tensor xm = tensor_view(xd[2], 2, xs), bad = tensor_view(xd[2], 2, small);
    Tensor t = tensor_view(td[0], 2, ts), dz = tensor_view(td[1], 2, ts);
    int yi[N] = {0}, yj[N] = {0}, miss[N];
    double g[N];
    int rc = tl_expect_error("lambda", interp_eval(net, &xm, &t, &dz, miss, g, &xi, &xj, yi, yj,
                                                   1.5, 0, &err) != 0,
                             &err, "interp_eval: lambda is 1.5, expected a value in [0, 1]");
    rc = rc || tl_expect_error("shape", interp_eval(net, &bad, &t, &dz, miss, g, &xi, &xj, yi,
                                                    yj, 0.5, 0, &err) != 0,
                               &err, "interp_eval: the ends are (16, 12) and (16, 12) and the "
                                     "output (16, 11), expected one shape (N, ...)");
    yj[3] = K;
    rc = rc || tl_expect_error("label", interp_eval(net, &xm, &t, &dz, miss, g, &xi, &xj, yi,
                                                    yj, 0.5, 0, &err) != 0,
                               &err, "interp_eval: pair 3 has labels 0 and 4, expected 0..3");
    net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"closed_form", test_closed_form},
        {"errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
