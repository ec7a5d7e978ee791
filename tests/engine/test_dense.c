/*
 * test_dense.c: harness/nn/dense.c, the shared-buffer DenseNet-BC dense block, against the
 * composition it replaces (a sequential of concat(identity, sequential(bn1, relu, conv1, bn2,
 * relu, conv2)) layers built from net.h's containers, which the PyTorch fixtures of
 * tests/lua/test_wrn_densenet.lua check): bit-identical outputs, input gradients, parameter
 * gradients and BN running statistics in training and evaluation, with 1 and 3 threads and
 * for two batch sizes in a row; central finite differences (odd sizes, batch 1 and 3, train
 * and eval); parameter paths and layout; activation memory affine in the depth (the
 * composition's grows quadratically); error messages (bad params, wrong channel count, bad
 * shapes, backward without its forward).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/act.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/dense.h"
#include "testlib.h"

/* Finite differences of float32 forwards through two BNs and two convs per layer. eps balances
 * the loss' float32 rounding over 2 eps against truncation (the small conv weights make the
 * loss strongly curved in them: 1e-2 failed 1 of 40 seeds at 6.5e-3); seen <= 1.6e-3 over 40
 * seeds at 3e-3. fill_w_smooth keeps every ReLU input far from 0 (BN beta >> gamma times the
 * normalised values), so no perturbation crosses a kink; the ReLU masks themselves are
 * covered by the bit-identical comparison with the composition. */
#define DENSE_FD_EPS 3e-3
#define DENSE_FD_RTOL 5e-3
#define DENSE_FD_CHECKS 24 /* sampled coordinates per tensor */

#define BN_EPS 1e-5      /* torch.nn.BatchNorm2d defaults */
#define BN_MOMENTUM 0.1

/* ---- builders ------------------------------------------------------------------------- */

static DenseParams params(int in_c, int layers, int growth, int bottleneck)
{
    return (DenseParams){in_c, layers, growth, bottleneck, BN_EPS, BN_MOMENTUM,
                         INIT_HE_NORMAL};
}

static Module *named(Module *m, const char *path)
{
    if (m)
        snprintf(m->path, sizeof m->path, "%s", path);
    return m;
}

/* Layer i of the concat composition: concat(identity, sequential(bn1, relu, conv1, bn2, relu,
 * conv2)). NULL on failure (err filled). */
static Module *concat_layer(const DenseParams *p, int i, Err *err)
{
    int ci = p->in_c + i * p->growth;
    BatchNormParams b1 = {ci, p->eps, p->momentum, 1, 0, 0}, b2 = {p->bottleneck, p->eps,
                                                                   p->momentum, 1, 0, 0};
    ConvParams c1 = {ci, p->bottleneck, 1, 1, 1, 1, 0, 0, 1, 0, p->init, CONV_ALGO_DEFAULT};
    ConvParams c2 = {p->bottleneck, p->growth, 3, 3, 1, 1, 1, 1, 1, 0, p->init, CONV_ALGO_DEFAULT};
    Module *seq[6] = {named(batchnorm_module_new(&b1, err), "bn1"),
                      named(act_module_new(ACT_RELU, 0.0, err), "relu1"),
                      named(conv_module_new(&c1, err), "conv1"),
                      named(batchnorm_module_new(&b2, err), "bn2"),
                      named(act_module_new(ACT_RELU, 0.0, err), "relu2"),
                      named(conv_module_new(&c2, err), "conv2")};
    for (int j = 0; j < 6; j++) {
        if (!seq[j]) {
            for (int q = 0; q < 6; q++)
                module_free(seq[q]);
            return NULL;
        }
    }
    Module *branches[2] = {named(identity_module_new(err), "identity"),
                           named(sequential_module_new(seq, 6, err), "branch")};
    if (!branches[0] || !branches[1]) {
        module_free(branches[0]);
        module_free(branches[1]);
        return NULL;
    }
    return named(concat_module_new(branches, 2, err), "layer");
}

static Module *concat_block(const DenseParams *p, Err *err)
{
    Module **layers = calloc((size_t)p->layers, sizeof *layers);
    if (!layers) {
        err_set(err, "concat_block: out of memory");
        return NULL;
    }
    for (int i = 0; i < p->layers; i++) {
        if (!(layers[i] = concat_layer(p, i, err))) {
            for (int j = 0; j < i; j++)
                module_free(layers[j]);
            free(layers);
            return NULL;
        }
    }
    Module *m = named(sequential_module_new(layers, p->layers, err), "block");
    free(layers);
    return m;
}

/* Random input away from 0 (BN makes ReLU kinks depend on all of x anyway). */
static void fill_x(float *x, size_t n, Rng *r) { tl_fill_away_from_zero(x, n, 0.1f, 2.0f, r); }

/* BN affine and conv weights all random, so no parameter is at a special value. */
static void fill_w(float *w, size_t n, Rng *r) { tl_fill_away_from_zero(w, n, 0.2f, 1.0f, r); }

/* ---- the block equals the composition, bit for bit ------------------------------------ */

static int same_bits(const char *what, const float *a, const float *b, size_t n)
{
    if (memcmp(a, b, n * sizeof(float)) == 0)
        return 0;
    double worst = 0.0;
    size_t first = n;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > 0.0 && first == n)
            first = i;
        if (d > worst)
            worst = d;
    }
    return tl_fail("%s: not bit-identical: first difference at %zu (%.9g vs %.9g), max abs "
                   "difference %.3g", what, first, first < n ? (double)a[first] : 0.0,
                   first < n ? (double)b[first] : 0.0, worst);
}

/* One forward and backward of both nets on the same x and dy; compares everything. */
static int compare_pass(Net *a, Net *b, int n, int train, int pass, Rng *r, Err *err)
{
    char what[96];
    Tensor x = {0}, dy = {0};
    int shape[4] = {n, a->in.c, a->in.h, a->in.w};
    int oshape[4] = {n, a->out.c, a->out.h, a->out.w};
    int rc = 1;
    if (tensor_alloc(&x, 4, shape, err) || tensor_alloc(&dy, 4, oshape, err)) {
        tl_fail("%s", err->msg);
        goto out;
    }
    fill_x(x.data, x.size, r);
    tl_fill_uniform(dy.data, dy.size, -1.0f, 1.0f, r);
    const Tensor *ya, *yb, *dxa, *dxb;
    if (net_forward(a, &x, train, NULL, &ya, err) || net_forward(b, &x, train, NULL, &yb, err) ||
        net_backward(a, &dy, &dxa, err) || net_backward(b, &dy, &dxb, err)) {
        tl_fail("%s", err->msg);
        goto out;
    }
    const char *mode = train ? "train" : "eval";
    snprintf(what, sizeof what, "pass %d (%s, batch %d, %d threads) y", pass, mode, n,
             a->nthreads);
    if (same_bits(what, ya->data, yb->data, yb->size))
        goto out;
    snprintf(what, sizeof what, "pass %d (%s) dx", pass, mode);
    if (same_bits(what, dxa->data, dxb->data, dxb->size))
        goto out;
    snprintf(what, sizeof what, "pass %d (%s) grads", pass, mode);
    if (same_bits(what, a->grads, b->grads, b->n_params))
        goto out;
    snprintf(what, sizeof what, "pass %d (%s) BN running stats", pass, mode);
    if (same_bits(what, a->buffers, b->buffers, b->n_buffers))
        goto out;
    rc = 0;
out:
    tensor_free(&x);
    tensor_free(&dy);
    return rc;
}

static int run_vs_concat(const DenseParams *p, Shape in, int nthreads, int cap)
{
    Err err;
    Net *a = NULL, *b = NULL;
    int rc = 1;
    Module *blk = named(dense_module_new(p, &err), "block");
    if (!blk)
        return tl_fail("dense_module_new: %s", err.msg);
    if (net_build(&a, blk, in, nthreads, cap, &err))
        return tl_fail("dense net_build: %s", err.msg);
    Module *ref = concat_block(p, &err);
    if (!ref || net_build(&b, ref, in, nthreads, cap, &err)) {
        tl_fail("concat net_build: %s", err.msg);
        goto out;
    }
    if (a->n_params != b->n_params || a->n_buffers != b->n_buffers) {
        tl_fail("layout: %zu params and %zu buffers, the composition has %zu and %zu",
                a->n_params, a->n_buffers, b->n_params, b->n_buffers);
        goto out;
    }
    Rng r;
    rng_seed(&r, tl_seed, 11);
    net_init(b, &r);
    fill_w(b->params, b->n_params, &r);
    memcpy(a->params, b->params, b->n_params * sizeof(float));
    memcpy(a->buffers, b->buffers, b->n_buffers * sizeof(float));
    net_zero_grad(a);
    net_zero_grad(b);
    /* train at full capacity, then a smaller batch (grads accumulate over both), then eval */
    if (compare_pass(a, b, cap, 1, 1, &r, &err) || compare_pass(a, b, cap - 1, 1, 2, &r, &err) ||
        compare_pass(a, b, cap, 0, 3, &r, &err))
        goto out;
    rc = 0;
out:
    net_free(a);
    net_free(b);
    return rc;
}

static int test_vs_concat_one_thread(void)
{
    DenseParams p = params(5, 3, 3, 7); /* odd widths; bottleneck need not be 4 k */
    return run_vs_concat(&p, (Shape){5, 7, 5}, 1, 3);
}

static int test_vs_concat_threads(void)
{
    DenseParams p = params(4, 4, 2, 8);
    return run_vs_concat(&p, (Shape){4, 9, 6}, 3, 4);
}

/* ---- finite differences --------------------------------------------------------------- */

/* The layout fill_w_smooth fills (tl_fd_check's filler takes no context). */
static const DenseParams *fd_layout;

/* Per layer: BN gamma in [0.3, 0.6) and beta in [3, 4), so relu(gamma xhat + beta) has its
 * kink beyond 5 standard deviations (train) or where |x| > 5 (eval); conv weights of either
 * sign with magnitude in [0.02, 0.08), which keeps the features (eval's BN inputs) small. */
static void fill_w_smooth(float *w, size_t n, Rng *r)
{
    const DenseParams *p = fd_layout;
    size_t off = 0;
    for (int i = 0; i < p->layers; i++) {
        size_t ci = (size_t)(p->in_c + i * p->growth), b = (size_t)p->bottleneck;
        size_t sizes[4] = {ci, b * ci, b, (size_t)p->growth * b * 9};
        for (int j = 0; j < 4; j++) {
            if (j % 2 == 0) { /* batch norm: gamma (C) then beta (C) */
                tl_fill_uniform(w + off, sizes[j], 0.3f, 0.6f, r);
                tl_fill_uniform(w + off + sizes[j], sizes[j], 3.0f, 4.0f, r);
                off += 2 * sizes[j];
            } else {
                tl_fill_away_from_zero(w + off, sizes[j], 0.02f, 0.08f, r);
                off += sizes[j];
            }
        }
    }
    if (off != n) /* a layout mismatch: make the check fail loudly rather than pass */
        memset(w, 0xff, n * sizeof(float));
}

static int fd_case(const char *what, DenseParams p, int n, Shape in, int train)
{
    Err err;
    Module *m = named(dense_module_new(&p, &err), "block");
    if (!m)
        return tl_fail("%s: %s", what, err.msg);
    fd_layout = &p;
    FdOptions o = {n, in, train, DENSE_FD_EPS, DENSE_FD_RTOL, DENSE_FD_CHECKS, fill_x,
                   fill_w_smooth};
    return tl_fd_check(what, m, &o);
}

static int test_fd_train(void)
{
    return fd_case("train batch 3", params(3, 2, 3, 5), 3, (Shape){3, 5, 7}, 1) ||
           fd_case("train batch 1", params(2, 3, 2, 4), 1, (Shape){2, 3, 5}, 1);
}

static int test_fd_eval(void)
{
    return fd_case("eval batch 2", params(3, 2, 2, 5), 2, (Shape){3, 5, 3}, 0) ||
           fd_case("eval batch 1", params(1, 1, 3, 2), 1, (Shape){1, 1, 1}, 0);
}

/* ---- layout, memory, errors ----------------------------------------------------------- */

static int test_paths_and_layout(void)
{
    Err err;
    Net *net = NULL;
    DenseParams p = params(3, 2, 2, 8);
    Module *m = named(dense_module_new(&p, &err), "densenet.block1");
    if (!m || net_build(&net, m, (Shape){3, 4, 4}, 1, 2, &err))
        return tl_fail("%s", err.msg);
    /* PyTorch: block1.layer.<i>.{bn1, conv1, bn2, conv2}, 2 C + 8 C + 16 + 9 * 8 * 2 each */
    static const char *const want[] = {
        "densenet.block1.layer.0.bn1", "densenet.block1.layer.0.conv1",
        "densenet.block1.layer.0.bn2", "densenet.block1.layer.0.conv2",
        "densenet.block1.layer.1.bn1", "densenet.block1.layer.1.conv1",
        "densenet.block1.layer.1.bn2", "densenet.block1.layer.1.conv2"};
    static const size_t counts[] = {6, 24, 16, 144, 10, 40, 16, 144};
    int rc = 0;
    if (net->n_info != 8)
        rc = tl_fail("%d modules with parameters, expected 8", net->n_info);
    size_t off = 0;
    for (int i = 0; i < net->n_info && !rc; i++) {
        const ParamInfo *q = &net->info[i];
        if (strcmp(q->path, want[i]) || q->count != counts[i] || q->offset != off)
            rc = tl_fail("module %d is %s (%zu at %zu), expected %s (%zu at %zu)", i, q->path,
                         q->count, q->offset, want[i], counts[i], off);
        off += counts[i];
    }
    /* decay: conv weights only (BN is exempt under exclusion) */
    size_t decayed = 0;
    for (size_t i = 0; i < net->n_params; i++)
        decayed += net->decay_mask[i] != 0.0f;
    if (!rc && decayed != 24 + 144 + 40 + 144)
        rc = tl_fail("%zu decayed params, expected %d", decayed, 24 + 144 + 40 + 144);
    if (!rc && (net->out.c != 7 || net->n_buffers != 2 * (3 + 8 + 5 + 8)))
        rc = tl_fail("out %d channels, %zu buffers", net->out.c, net->n_buffers);
    net_free(net);
    return rc;
}

/* Sum of the activation floats a module tree reserves (owned y and dx; the concat container's
 * private dy slice is not counted, so the composition is undercounted); the Net's shared
 * gradient buffers are added by the caller (net_pool_floats). */
static size_t tree_floats(const Module *m)
{
    size_t total = net_module_floats(m);
    for (int i = 0; i < m->n_child; i++)
        total += tree_floats(m->child[i]);
    return total;
}

static int test_memory_linear(void)
{
    Err err;
    const int n = 2, h = 4, w = 4;
    const Shape in = {6, h, w};
    size_t dense[3], concat[3];
    const int layers[3] = {4, 8, 16};
    for (int i = 0; i < 3; i++) {
        DenseParams p = params(6, layers[i], 3, 12);
        Net *a = NULL, *b = NULL;
        Module *blk = named(dense_module_new(&p, &err), "block");
        if (!blk || net_build(&a, blk, in, 1, n, &err))
            return tl_fail("%s", err.msg);
        Module *ref = concat_block(&p, &err);
        if (!ref || net_build(&b, ref, in, 1, n, &err)) {
            net_free(a);
            return tl_fail("%s", err.msg);
        }
        Tensor x = {0};
        int shape[4] = {n, 6, h, w};
        const Tensor *y;
        Rng r;
        rng_seed(&r, tl_seed, 5);
        net_init(a, &r);
        int rc = tensor_alloc(&x, 4, shape, &err);
        if (!rc) {
            fill_x(x.data, x.size, &r);
            rc = net_forward(a, &x, 1, NULL, &y, &err);
        }
        size_t first = rc ? 0 : dense_reserved_floats(blk);
        /* a second pass at the same batch allocates nothing */
        if (!rc)
            rc = net_forward(a, &x, 1, NULL, &y, &err);
        dense[i] = rc ? 0 : dense_reserved_floats(blk);
        concat[i] = tree_floats(ref) + net_pool_floats(b);
        tensor_free(&x);
        net_free(a);
        net_free(b);
        if (rc)
            return tl_fail("%s", err.msg);
        if (first != dense[i])
            return tl_fail("%d layers: %zu floats after one forward, %zu after two", layers[i],
                           first, dense[i]);
        if (dense[i] != dense_activation_floats(&p, n, h, w))
            return tl_fail("%d layers: holds %zu floats, dense_activation_floats says %zu",
                           layers[i], dense[i], dense_activation_floats(&p, n, h, w));
    }
    /* affine in the depth: equal steps from 4 to 8 and 8 to 16 layers (per layer) */
    if (dense[2] - dense[1] != 2 * (dense[1] - dense[0]))
        return tl_fail("dense block: %zu, %zu, %zu floats for 4, 8, 16 layers: not affine",
                       dense[0], dense[1], dense[2]);
    /* the composition grows faster than linearly, and holds more at 16 layers */
    if (!(concat[2] - concat[1] > 2 * (concat[1] - concat[0])) || !(concat[2] > 2 * dense[2]))
        return tl_fail("composition: %zu, %zu, %zu floats vs dense %zu, %zu, %zu", concat[0],
                       concat[1], concat[2], dense[0], dense[1], dense[2]);
    return 0;
}

static int test_errors(void)
{
    Err err;
    DenseParams p = params(4, 2, 0, 8);
    if (dense_module_new(&p, &err))
        return tl_fail("growth 0 accepted");
    if (tl_expect_msg("growth", err.msg, "dense_module_new: growth is 0, expected >= 1"))
        return 1;
    p = params(4, 2, 2, 8);
    p.eps = 0.0;
    if (dense_module_new(&p, &err))
        return tl_fail("eps 0 accepted");
    if (tl_expect_msg("eps", err.msg, "dense_module_new: eps is 0, expected a finite value > 0"))
        return 1;
    p = params(4, 2, 2, 8);
    Net *net = NULL;
    Module *m = named(dense_module_new(&p, &err), "densenet.block2");
    if (!m)
        return tl_fail("%s", err.msg);
    if (!net_build(&net, m, (Shape){5, 4, 4}, 1, 2, &err)) {
        net_free(net);
        return tl_fail("5 input channels accepted by a 4-channel block");
    }
    if (tl_expect_msg("channels", err.msg,
                      "densenet.block2: dense_block: input has 5 channels, expected 4"))
        return 1;
    m = named(dense_module_new(&p, &err), "densenet.block2");
    if (!m || net_build(&net, m, (Shape){4, 4, 4}, 1, 2, &err))
        return tl_fail("%s", err.msg);
    Tensor x = {0}, dy = {0};
    int xs[4] = {2, 4, 4, 4}, ys[4] = {2, 8, 4, 4}, bad[4] = {2, 4, 4, 3};
    int rc = 1;
    const Tensor *y;
    Ctx ctx = {1, NULL, net->ws, net->ws_stride, 1, 0, NULL, net->grad_pool, 0};
    if (tensor_alloc(&x, 4, xs, &err) || tensor_alloc(&dy, 4, ys, &err)) {
        tl_fail("%s", err.msg);
        goto out;
    }
    Rng r;
    rng_seed(&r, tl_seed, 6);
    fill_x(x.data, x.size, &r);
    /* backward before any forward */
    if (!m->ops->backward(m, &x, &dy, &ctx, &err)) {
        tl_fail("backward without forward accepted");
        goto out;
    }
    if (tl_expect_msg("no forward", err.msg, "densenet.block2: dense_block_backward: last forward "
                      "had batch 0, backward has 2"))
        goto out;
    Tensor xb = tensor_view(x.data, 4, bad);
    if (!m->ops->forward(m, &xb, &ctx, &err)) {
        tl_fail("a (2, 4, 4, 3) input accepted");
        goto out;
    }
    if (tl_expect_msg("shape", err.msg, "densenet.block2: dense_block_forward: input is "
                      "(2, 4, 4, 3), expected (N, 4, 4, 4)"))
        goto out;
    if (net_forward(net, &x, 1, NULL, &y, &err)) {
        tl_fail("%s", err.msg);
        goto out;
    }
    Tensor dyb = tensor_view(dy.data, 4, (int[4]){2, 7, 4, 4});
    if (!m->ops->backward(m, &x, &dyb, &ctx, &err)) {
        tl_fail("a (2, 7, 4, 4) dy accepted");
        goto out;
    }
    if (tl_expect_msg("dy", err.msg, "densenet.block2: dense_block_backward: dy is (2, 7, 4, 4), "
                      "expected (2, 8, 4, 4)"))
        goto out;
    ctx.train = 0;
    if (!m->ops->backward(m, &x, &dy, &ctx, &err)) {
        tl_fail("an eval backward after a train forward accepted");
        goto out;
    }
    if (tl_expect_msg("mode", err.msg, "forward ran in train mode, backward in eval mode"))
        goto out;
    rc = 0;
out:
    tensor_free(&x);
    tensor_free(&dy);
    net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"vs_concat_one_thread", test_vs_concat_one_thread},
        {"vs_concat_threads", test_vs_concat_threads},
        {"fd_train", test_fd_train},
        {"fd_eval", test_fd_eval},
        {"paths_and_layout", test_paths_and_layout},
        {"memory_linear", test_memory_linear},
        {"errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
