/*
 * test_attack.c: FGSM and I-FGSM (harness/metrics/attack.c).
 *   - the whole net's input gradient in evaluation mode (conv, BN with running statistics,
 *     ReLU, pooling, linear) against central finite differences (tl_fd_check, train = 0): the
 *     attack's direction is this gradient's sign;
 *   - FGSM on a linear classifier against the closed form computed here in double:
 *     dL/dx = W^T (softmax(W x + b) - onehot(y)) / N, x' = clip(x + eps_c sign(dL/dx)) with
 *     eps_c = eps / (255 std_c) and the pixel range [(0 - mean_c) / std_c, (1 - mean_c) /
 *     std_c];
 *   - I-FGSM on a conv net: x' within the eps-ball and the pixel range, the loss of every
 *     example higher than at x under both attacks, the result deterministic;
 *   - quantize: every attacked pixel an integer in 0..255, still within eps of the clean one;
 *   - bad parameters and shapes are refused with their messages.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metrics/attack.h"
#include "nn/act.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/pool.h"
#include "testlib.h"

#define FD_EPS 1e-2
#define FD_RTOL 2e-3   /* BN in eval mode is affine, tanh smooth: float rounding only */
#define CLOSED_TOL 1e-6 /* one float rounding of x + eps_c */

enum { N = 6, C = 3, H = 4, W = 4, K = 5, D = C * H * W };

static const double MEAN[C] = {0.4914, 0.4822, 0.4465};
static const double STD[C] = {0.2023, 0.1994, 0.2010};

static Module *seq(Module **kids, int n)
{
    Err err;
    return sequential_module_new(kids, n, &err);
}

/* conv3x3 - BN - act - avgpool 2 - flatten - linear (ReLU for the attacks; tanh for finite
 * differences, which a ReLU kink inside the net would spoil). */
static Module *cnn(ActKind act)
{
    Err err;
    ConvParams cp = {C, 4, 3, 3, 1, 1, 1, 1, 1, 0, INIT_TORCH_DEFAULT, CONV_ALGO_DEFAULT};
    BatchNormParams bp = {4, 1e-5, 0.1, 1, 0, 0};
    PoolParams pp = {POOL_AVG, 2, 2, 2, 2, 0, 0};
    LinearParams lp = {4 * (H / 2) * (W / 2), K, 1, INIT_TORCH_DEFAULT};
    Module *kids[6] = {conv_module_new(&cp, &err), batchnorm_module_new(&bp, &err),
                       act_module_new(act, 0.0, &err), pool_module_new(&pp, &err),
                       flatten_module_new(&err), linear_module_new(&lp, &err)};
    return seq(kids, 6);
}

static Module *small_cnn(void) { return cnn(ACT_RELU); }

static AttackParams params(double eps, double step, int iters)
{
    AttackParams p = {.eps = eps, .step = step, .iters = iters, .channels = C};
    for (int c = 0; c < C; c++) {
        p.mean[c] = MEAN[c];
        p.std[c] = STD[c];
    }
    return p;
}

/* Clean images: integer pixels in 0..255, normalised. */
static void fill_images(float *x, int n, Rng *r)
{
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++)
            for (int j = 0; j < H * W; j++) {
                double px = (double)rng_below(r, 256) / 255.0;
                x[((size_t)i * C + c) * H * W + j] = (float)((px - MEAN[c]) / STD[c]);
            }
}

typedef struct Bufs {
    Tensor x, xa, xb, t, dz;
    int label[N];
} Bufs;

static int bufs_new(Bufs *b, Rng *r)
{
    Err err;
    int xs[4] = {N, C, H, W}, ts[2] = {N, K};
    memset(b, 0, sizeof *b);
    if (tensor_alloc(&b->x, 4, xs, &err) || tensor_alloc(&b->xa, 4, xs, &err) ||
        tensor_alloc(&b->xb, 4, xs, &err) || tensor_alloc(&b->t, 2, ts, &err) ||
        tensor_alloc(&b->dz, 2, ts, &err))
        return tl_fail("%s", err.msg);
    fill_images(b->x.data, N, r);
    for (int i = 0; i < N; i++)
        b->label[i] = (int)rng_below(r, K);
    return 0;
}

static void bufs_free(Bufs *b)
{
    tensor_free(&b->x);
    tensor_free(&b->xa);
    tensor_free(&b->xb);
    tensor_free(&b->t);
    tensor_free(&b->dz);
}

/* A net around m in eval mode with BN statistics made non-trivial by a few training passes. */
static int build(Net **net, Module *m, Rng *r)
{
    Err err;
    Shape in = {C, H, W};
    if (net_build(net, m, in, 1, N, &err))
        return tl_fail("%s", err.msg);
    net_init(*net, r);
    float xs[N * D];
    int shape[4] = {N, C, H, W};
    for (int pass = 0; pass < 3; pass++) {
        fill_images(xs, N, r);
        Tensor x = tensor_view(xs, 4, shape);
        const Tensor *y;
        if (net_forward(*net, &x, 1, NULL, &y, &err))
            return tl_fail("%s", err.msg);
    }
    return 0;
}

static void fill_fd(float *x, size_t n, Rng *r)
{
    tl_fill_away_from_zero(x, n, 0.2f, 1.5f, r);
}

static int test_fd_eval_input_gradient(void)
{
    FdOptions o = {N, {C, H, W}, 0, FD_EPS, FD_RTOL, 80, fill_fd, NULL};
    return tl_fd_check("conv-bn-tanh-pool-linear, eval", cnn(ACT_TANH), &o);
}

static int test_fgsm_linear_closed_form(void)
{
    Rng r;
    rng_seed(&r, tl_seed, 301);
    Err err;
    LinearParams lp = {D, K, 1, INIT_TORCH_DEFAULT};
    Module *kids[2] = {flatten_module_new(&err), linear_module_new(&lp, &err)};
    Net *net;
    Bufs b;
    if (build(&net, seq(kids, 2), &r) || bufs_new(&b, &r))
        return 1;
    const float *w = net->params, *bias = net->params + (size_t)K * D;
    const double eps = 8.0;
    AttackParams p = params(eps, eps, 1);
    int rc = 0;
    if (attack_run(net, &b.xa, &b.t, &b.dz, NULL, &b.x, b.label, &p, &err))
        rc = tl_fail("%s", err.msg);
    for (int i = 0; i < N && !rc; i++) {
        const float *xi = b.x.data + (size_t)i * D;
        double z[K], m = -HUGE_VAL, sum = 0.0;
        for (int k = 0; k < K; k++) {
            z[k] = bias[k];
            for (int d = 0; d < D; d++)
                z[k] += (double)w[(size_t)k * D + d] * xi[d];
            m = fmax(m, z[k]);
        }
        for (int k = 0; k < K; k++)
            sum += exp(z[k] - m);
        for (int d = 0; d < D && !rc; d++) {
            double g = 0.0;
            for (int k = 0; k < K; k++)
                g += (double)w[(size_t)k * D + d] * (exp(z[k] - m) / sum - (k == b.label[i]));
            const int c = d / (H * W);
            const double ec = eps / (255.0 * STD[c]);
            const double lo = -MEAN[c] / STD[c], hi = (1.0 - MEAN[c]) / STD[c];
            const double want = fmin(fmax(xi[d] + (g > 0 ? ec : -ec), lo), hi);
            const double got = b.xa.data[(size_t)i * D + d];
            if (fabs(got - want) > CLOSED_TOL * fmax(1.0, fabs(want)))
                rc = tl_fail("example %d pixel %d: x' = %.9g, expected %.9g (gradient %g)", i,
                             d, got, want, g);
        }
    }
    bufs_free(&b);
    net_free(net);
    return rc;
}

/* Loss per example of the net at x (double). */
static int losses(Net *net, const Tensor *x, const int *label, double *out)
{
    Err err;
    const Tensor *z;
    if (net_forward(net, x, 0, NULL, &z, &err))
        return tl_fail("%s", err.msg);
    for (int i = 0; i < N; i++) {
        const float *zi = z->data + (size_t)i * K;
        double m = -HUGE_VAL, s = 0.0;
        for (int k = 0; k < K; k++)
            m = fmax(m, zi[k]);
        for (int k = 0; k < K; k++)
            s += exp(zi[k] - m);
        out[i] = m + log(s) - zi[label[i]];
    }
    return 0;
}

static int test_ifgsm_properties(void)
{
    Rng r;
    rng_seed(&r, tl_seed, 302);
    Err err;
    Net *net;
    Bufs b;
    if (build(&net, small_cnn(), &r) || bufs_new(&b, &r))
        return 1;
    const double eps = 4.0;
    int rc = 0;
    /* 10 steps of eps / 4 sum past eps, so the projection onto the ball matters */
    AttackParams fgsm = params(eps, eps, 1), ifgsm = params(eps, eps / 4, 10);
    double l_clean[N], l_fgsm[N], l_ifgsm[N];
    if (attack_run(net, &b.xa, &b.t, &b.dz, NULL, &b.x, b.label, &fgsm, &err) ||
        losses(net, &b.xa, b.label, l_fgsm) ||
        attack_run(net, &b.xb, &b.t, &b.dz, NULL, &b.x, b.label, &fgsm, &err) ||
        losses(net, &b.x, b.label, l_clean))
        rc = tl_fail("%s", err.msg);
    if (!rc && memcmp(b.xa.data, b.xb.data, b.x.size * sizeof(float)))
        rc = tl_fail("FGSM is not deterministic");
    if (!rc && (attack_run(net, &b.xb, &b.t, &b.dz, NULL, &b.x, b.label, &ifgsm, &err) ||
                losses(net, &b.xb, b.label, l_ifgsm)))
        rc = tl_fail("%s", err.msg);
    int above_clean = 0;
    for (int i = 0; i < N && !rc; i++) {
        above_clean += l_ifgsm[i] > l_clean[i] && l_fgsm[i] > l_clean[i];
        for (int c = 0; c < C && !rc; c++) {
            const double ec = eps / (255.0 * STD[c]) * (1.0 + 1e-6);
            const double lo = -MEAN[c] / STD[c] - 1e-6, hi = (1.0 - MEAN[c]) / STD[c] + 1e-6;
            for (int j = 0; j < H * W && !rc; j++) {
                size_t o = ((size_t)i * C + c) * H * W + j;
                double d = (double)b.xb.data[o] - b.x.data[o];
                if (fabs(d) > ec || b.xb.data[o] < lo || b.xb.data[o] > hi)
                    rc = tl_fail("I-FGSM pixel %zu moved %g (eps_c %g) or left [%g, %g]", o, d,
                                 ec, lo, hi);
            }
        }
    }
    if (!rc && above_clean != N)
        rc = tl_fail("the attacks raised the loss of %d of %d examples", above_clean, N);
    bufs_free(&b);
    net_free(net);
    return rc;
}

static int test_quantize(void)
{
    Rng r;
    rng_seed(&r, tl_seed, 303);
    Err err;
    Net *net;
    Bufs b;
    if (build(&net, small_cnn(), &r) || bufs_new(&b, &r))
        return 1;
    AttackParams p = params(3.0, 0.7, 5);
    p.quantize = 1;
    int rc = 0;
    if (attack_run(net, &b.xa, &b.t, &b.dz, NULL, &b.x, b.label, &p, &err))
        rc = tl_fail("%s", err.msg);
    int moved = 0;
    for (size_t o = 0; o < b.x.size && !rc; o++) {
        const int c = (int)(o / (H * W)) % C;
        double px = ((double)b.xa.data[o] * STD[c] + MEAN[c]) * 255.0;
        double p0 = ((double)b.x.data[o] * STD[c] + MEAN[c]) * 255.0;
        if (fabs(px - round(px)) > 1e-3 || px < -1e-3 || px > 255.0 + 1e-3)
            rc = tl_fail("pixel %zu is %.6f, expected an integer in 0..255", o, px);
        else if (fabs(px - p0) > 3.0 + 1e-3)
            rc = tl_fail("pixel %zu moved %g, expected at most eps = 3", o, px - p0);
        moved += fabs(px - p0) > 0.5;
    }
    if (!rc && moved == 0)
        rc = tl_fail("no pixel moved by a whole unit");
    bufs_free(&b);
    net_free(net);
    return rc;
}

static int test_errors(void)
{
    Rng r;
    rng_seed(&r, tl_seed, 304);
    Err err;
    Net *net;
    Bufs b;
    if (build(&net, small_cnn(), &r) || bufs_new(&b, &r))
        return 1;
#define RUN(p) attack_run(net, &b.xa, &b.t, &b.dz, NULL, &b.x, b.label, p, &err)
    AttackParams p = params(0.0, 1.0, 1);
    int rc = tl_expect_error("eps", RUN(&p) != 0, &err,
                             "attack: eps is 0, expected a finite value > 0 (pixel units)");
    p = params(4.0, 1.0, 0);
    rc = rc || tl_expect_error("iters", RUN(&p) != 0, &err,
                               "attack: iters is 0, expected >= 1 (1: FGSM)");
    p = params(4.0, 4.0, 1);
    p.std[1] = 0.0;
    rc = rc || tl_expect_error("std", RUN(&p) != 0, &err,
                               "attack: channel 1 has mean 0.4822 and std 0, expected finite "
                               "values with std > 0");
    p = params(4.0, 4.0, 1);
    p.channels = 1;
    rc = rc || tl_expect_error("channels", RUN(&p) != 0, &err,
                               "attack: input is (6, 3, 4, 4), expected (N, 1, H, W)");
    p = params(4.0, 4.0, 1);
    b.label[2] = K;
    rc = rc || tl_expect_error("label", RUN(&p) != 0, &err,
                               "attack: example 2 has label 5, expected 0..4");
    b.label[2] = 0;
    rc = rc || tl_expect_error("alias", attack_run(net, &b.x, &b.t, &b.dz, NULL, &b.x, b.label,
                                                   &p, &err) != 0,
                               &err, "attack: output is the input, expected separate buffers");
#undef RUN
    bufs_free(&b);
    net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"fd_eval_input_gradient", test_fd_eval_input_gradient},
        {"fgsm_linear_closed_form", test_fgsm_linear_closed_form},
        {"ifgsm_properties", test_ifgsm_properties},
        {"quantize", test_quantize},
        {"errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
