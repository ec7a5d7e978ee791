/*
 * test_net.c: the containers and the Net (harness/nn/net.c).
 *   - residual (identity and projection shortcut), concat and flatten/identity: backward
 *     against central finite differences (tl_fd_check), through small conv/linear leaves;
 *   - parameter views: tree order, decay mask (weights 1, biases and BN 0), param_info;
 *   - a steady-state training step allocates nothing: the Makefile links this test with
 *     -Wl,--wrap for malloc, calloc, realloc and aligned_alloc, so every allocation made by the
 *     engine's code is counted (OpenBLAS's own buffers, set up once, are outside the count);
 *   - error paths: residual branches of different shapes, batch above the capacity, backward
 *     before forward, a wrong dy shape.
 */
#include <stdio.h>
#include <string.h>

#include "nn/act.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/pool.h"
#include "train/sgd.h"
#include "testlib.h"

/* Containers are linear in their children's outputs: the FD error is float rounding of the
 * perturbed forward, as in test_conv (CONV_FD_RTOL). */
#define NET_FD_EPS 1e-2
#define NET_FD_RTOL 2e-4

static Module *conv(int c, int k, int ks, int stride, int bias)
{
    ConvParams p = {c, k, ks, ks, stride, stride, ks / 2, ks / 2, 1, bias, INIT_TORCH_DEFAULT,
                    CONV_ALGO_DEFAULT};
    Err err;
    Module *m = conv_module_new(&p, &err);
    if (m)
        snprintf(m->path, sizeof m->path, "conv%dx%d", ks, ks);
    return m;
}

static Module *seq2(Module *a, Module *b)
{
    Module *kids[2] = {a, b};
    Err err;
    return sequential_module_new(kids, 2, &err);
}

static int test_fd_residual(void)
{
    Err err;
    /* identity shortcut: y = conv(relu(x)) + x */
    Module *r1 = residual_module_new(seq2(act_module_new(ACT_TANH, 0.0, &err), conv(3, 3, 3, 1, 1)),
                                     NULL, &err);
    FdOptions o = {2, {3, 5, 7}, 1, NET_FD_EPS, NET_FD_RTOL, 60, NULL, NULL};
    if (tl_fd_check("residual identity", r1, &o))
        return 1;
    /* projection shortcut with stride 2 and a channel change */
    Module *r2 = residual_module_new(conv(3, 4, 3, 2, 0), conv(3, 4, 1, 2, 0), &err);
    FdOptions o2 = {3, {3, 7, 6}, 1, NET_FD_EPS, NET_FD_RTOL, 60, NULL, NULL};
    return tl_fd_check("residual projection", r2, &o2);
}

static int test_fd_concat(void)
{
    Err err;
    Module *branches[3] = {identity_module_new(&err), conv(2, 3, 3, 1, 1), conv(2, 1, 1, 1, 0)};
    Module *cat = concat_module_new(branches, 3, &err);
    FdOptions o = {2, {2, 5, 5}, 1, NET_FD_EPS, NET_FD_RTOL, 0, NULL, NULL};
    if (tl_fd_check("concat", cat, &o))
        return 1;
    /* batch 1, flatten then linear */
    LinearParams lp = {2 * 3 * 4, 5, 1, INIT_TORCH_DEFAULT};
    Module *f = seq2(flatten_module_new(&err), linear_module_new(&lp, &err));
    FdOptions o2 = {1, {2, 3, 4}, 1, NET_FD_EPS, NET_FD_RTOL, 0, NULL, NULL};
    return tl_fd_check("flatten linear", f, &o2);
}

static int test_param_layout(void)
{
    Err err;
    BatchNormParams bp = {4, 1e-5, 0.1, 1, 0, 0};
    Module *kids[3] = {conv(3, 4, 3, 1, 1), batchnorm_module_new(&bp, &err), conv(4, 2, 1, 1, 1)};
    snprintf(kids[1]->path, sizeof kids[1]->path, "bn");
    Net *net;
    if (net_build(&net, sequential_module_new(kids, 3, &err), (Shape){3, 4, 4}, 1, 2, &err))
        return tl_fail("net_build: %s", err.msg);
    int rc = 0;
    /* conv 4*3*3*3 + 4 bias, bn 4 + 4, conv 2*4 + 2 bias */
    size_t want = 108 + 4 + 8 + 8 + 2;
    if (net->n_params != want || net->n_buffers != 8 || net->n_info != 3)
        rc = tl_fail("params %zu (want %zu), buffers %zu (want 8), info %d (want 3)",
                     net->n_params, want, net->n_buffers, net->n_info);
    /* decay mask: conv weights 1, conv bias 0, BN 0, conv weights 1, bias 0 */
    size_t ones = 0;
    for (size_t i = 0; i < net->n_params; i++)
        ones += net->decay_mask[i] == 1.0f;
    if (!rc && (ones != 108 + 8 || net->decay_mask[0] != 1.0f || net->decay_mask[108] != 0.0f ||
                net->decay_mask[120] != 1.0f || net->decay_mask[want - 1] != 0.0f))
        rc = tl_fail("decay mask: %zu ones, want %d", ones, 108 + 8);
    if (!rc && (net->info[1].offset != 112 || net->info[1].count != 8 ||
                strcmp(net->info[1].kind, "batchnorm")))
        rc = tl_fail("info[1] = {%zu, %zu, %s}, want {112, 8, batchnorm}", net->info[1].offset,
                     net->info[1].count, net->info[1].kind);
    net_free(net);
    return rc;
}

/* ---- allocation counting (see the Makefile's --wrap flags for this binary) ---- */
static size_t n_allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n)
{
    n_allocs++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
    n_allocs++;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
    n_allocs++;
    return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t align, size_t n)
{
    n_allocs++;
    return __real_aligned_alloc(align, n);
}

/* One training step: forward, loss, backward, SGD. */
static int train_step(Net *net, const Tensor *x, const Tensor *t, Tensor *dz, SgdState *s,
                      Rng *rng, Err *err)
{
    const Tensor *y;
    double loss;
    SgdParams sp = {0.9, 1e-4, 0};
    net_zero_grad(net);
    if (net_forward(net, x, 1, rng, &y, err) || loss_softmax_xent(&loss, dz, y, t, err) ||
        net_backward(net, dz, NULL, err))
        return -1;
    sgd_step(net->params, net->grads, NULL, s, &sp, 0.05);
    return 0;
}

static int test_steady_state_allocates_nothing(void)
{
    Err err;
    BatchNormParams bp = {6, 1e-5, 0.1, 1, 0, 0};
    LinearParams lp = {6, 4, 1, INIT_TORCH_DEFAULT};
    Module *block[3] = {batchnorm_module_new(&bp, &err), act_module_new(ACT_RELU, 0.0, &err),
                        conv(6, 6, 3, 1, 0)};
    Module *kids[5] = {conv(3, 6, 3, 2, 0),
                       residual_module_new(sequential_module_new(block, 3, &err), NULL, &err),
                       global_avgpool_module_new(&err), flatten_module_new(&err),
                       linear_module_new(&lp, &err)};
    Net *net;
    if (net_build(&net, sequential_module_new(kids, 5, &err), (Shape){3, 9, 9}, 2, 8, &err))
        return tl_fail("net_build: %s", err.msg);
    Rng r;
    rng_seed(&r, tl_seed, 1);
    net_init(net, &r);
    Tensor x = {0}, t = {0}, dz = {0};
    SgdState s = {0};
    int rc = 0;
    if (tensor_alloc(&x, 4, (int[]){8, 3, 9, 9}, &err) ||
        tensor_alloc(&t, 2, (int[]){8, 4}, &err) || tensor_alloc(&dz, 2, (int[]){8, 4}, &err) ||
        sgd_state_init(&s, net->n_params, &err)) {
        rc = tl_fail("%s", err.msg);
        goto out;
    }
    tl_fill_uniform(x.data, x.size, -1.0f, 1.0f, &r);
    for (int i = 0; i < 8; i++)
        t.data[i * 4 + i % 4] = 1.0f;
    /* warm-up: first forward sizes saved state, OpenBLAS sets up its buffers */
    for (int k = 0; k < 2; k++)
        if (train_step(net, &x, &t, &dz, &s, &r, &err)) {
            rc = tl_fail("step: %s", err.msg);
            goto out;
        }
    size_t before = n_allocs;
    for (int k = 0; k < 3; k++)
        if (train_step(net, &x, &t, &dz, &s, &r, &err)) {
            rc = tl_fail("step: %s", err.msg);
            goto out;
        }
    if (n_allocs != before)
        rc = tl_fail("%zu allocations in 3 steady-state training steps, expected 0",
                     n_allocs - before);
    else if (before == 0)
        rc = tl_fail("the allocation counter saw nothing: is the test linked with --wrap?");
out:
    tensor_free(&x);
    tensor_free(&t);
    tensor_free(&dz);
    sgd_state_free(&s);
    net_free(net);
    return rc;
}

static int test_errors(void)
{
    Err err;
    Net *net = NULL;
    /* residual whose branches disagree: conv 3->4 against an identity on 3 channels */
    Module *r = residual_module_new(conv(3, 4, 3, 1, 1), NULL, &err);
    snprintf(r->path, sizeof r->path, "net.block1");
    int rc = net_build(&net, r, (Shape){3, 5, 5}, 1, 2, &err);
    if (tl_expect_error("residual shapes", rc, &err, "net.block1: main branch gives (4, 5, 5)"))
        return 1;
    if (net_build(&net, conv(3, 2, 3, 1, 1), (Shape){3, 5, 5}, 1, 2, &err))
        return tl_fail("net_build: %s", err.msg);
    Tensor x = {0}, dy = {0};
    int bad = 0;
    if (tensor_alloc(&x, 4, (int[]){3, 3, 5, 5}, &err) ||
        tensor_alloc(&dy, 4, (int[]){2, 2, 5, 4}, &err)) {
        net_free(net);
        return tl_fail("%s", err.msg);
    }
    bad |= tl_expect_error("backward first", net_backward(net, &dy, NULL, &err), &err,
                           "no successful forward");
    bad |= tl_expect_error("capacity", net_forward(net, &x, 1, NULL, NULL, &err), &err,
                           "batch 3 exceeds the reserved capacity 2");
    x.shape[0] = 2;
    x.size = 2 * 3 * 5 * 5;
    if (!bad && net_forward(net, &x, 1, NULL, NULL, &err))
        bad = tl_fail("forward: %s", err.msg);
    bad |= tl_expect_error("dy shape", net_backward(net, &dy, NULL, &err), &err,
                           "dy is (2, 2, 5, 4), expected (2, 2, 5, 5)");
    Tensor wrong = x;
    wrong.shape[1] = 4; /* (2, 4, 5, 5) view: channels do not match */
    bad |= tl_expect_error("input shape", net_forward(net, &wrong, 1, NULL, NULL, &err), &err,
                           "expected (N, 3, 5, 5)");
    tensor_free(&x);
    tensor_free(&dy);
    net_free(net);
    return bad;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"fd_residual", test_fd_residual},
        {"fd_concat_flatten", test_fd_concat},
        {"param_layout", test_param_layout},
        {"steady_state_allocates_nothing", test_steady_state_allocates_nothing},
        {"errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
