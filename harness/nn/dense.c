/*
 * dense.c: the DenseNet-BC dense block as one module with a shared feature buffer (dense.h).
 *
 * Layout: the block's output y (N, C, H, W), C = in_c + layers k, is the shared buffer. The
 * block input is copied into its first in_c channels, and layer i reads channels [0, C_i) and
 * writes its k new channels to [C_i, C_i + k). bn1 reads its input x_i = y[:, :C_i] in place
 * (a channel prefix: examples C H W apart, batchnorm.h's x_stride) and writes the contiguous
 * (N, C_i, H, W) scratch that conv1 takes; conv2's k new channels are scattered back. The
 * gradient of all features, dfeat (N, C, H, W), is shared the same way: it starts as dy, and
 * layer i (last to first) reads its k output channels from it and adds its input gradient into
 * [0, C_i). That is the concat composition's order of additions, so dx is bit-identical to it.
 *
 * Shared statistics: in training, channel j's batch mean and squared deviations are the same
 * for every layer whose bn1 normalises it (the same values of y), so they are computed once,
 * when the channel appears (mu, sq: layer 0 the block input's, layer i its k new ones); each
 * layer's bn1 then takes its mean, inv_std and running update from them (batchnorm_finish) and
 * normalises in one pass fused with its ReLU (batchnorm_apply). The bits are those of
 * batchnorm_forward and act.c on a gathered copy (the same per-channel code).
 *
 * Per layer (B = bottleneck channels, k = growth; scratch is shared by all layers):
 *   forward   mu, sq of the new channels of x_i = y[:, :C_i]   (training)
 *             t2 = relu(bn1(x_i))                     scratch; bn1 saves mean1_i, inv1_i
 *             z1_i = conv1(t2)                        saved (N, B)
 *             a2_i = relu(bn2(z1_i))                  saved, one pass; bn2 saves stats
 *             g = conv2(a2_i); y[:, C_i:C_i+k] = g    scattered
 *   backward  g = dfeat[:, C_i:C_i+k]                 gathered
 *             b1 = d a2_i   (conv2 backward, dW2 accumulated; x = a2_i)
 *             b1 = d z1_i   (bn2 backward through the relu: a2_i > 0 exactly where bn2's
 *                            output is; from z1_i and the saved statistics)
 *             t2 = relu(bn1(x_i))   recomputed from mean1_i, inv1_i (no reduction, no running
 *                                   update): the forward's bits
 *             t1 = d t2     (conv1 backward, dW1 accumulated; x = t2)
 *             t1 = d x_i    (bn1 backward through the relu: t2 > 0 exactly where bn1's
 *                            output is; x_i read in place)
 *             dfeat[:, :C_i] += t1
 *   dx = dfeat[:, :in_c].
 *
 * Threads: the kernels' own (batchnorm, conv, act: see their headers); gathers and scatters
 * are parallel over examples with no reductions.
 * References: andreasveit/densenet-pytorch densenet.py (BottleneckBlock, DenseBlock);
 * Pleiss et al. 2017 (shared storage, recomputed batch norm). Not timed by the Net's profile.
 */
#include "nn/dense.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/net.h"

/* Children per layer, in PyTorch's parameters() order, and their path components. */
enum { DL_BN1, DL_CONV1, DL_BN2, DL_CONV2, DL_PER_LAYER };
static const char *const dense_child_names[DL_PER_LAYER] = {"bn1", "conv1", "bn2", "conv2"};
#define DENSE_CONV2_K 3   /* conv2: 3x3, stride 1, pad 1 (keeps H x W) */
#define DENSE_CONV2_PAD 1
/* Output channels at most: keeps every channel count and index product in int range. */
#define DENSE_MAX_CHANNELS 65536

typedef struct DenseState {
    Tensor dfeat;            /* (N, C, HW): gradient of all features */
    Tensor t1, t2;           /* (N, C_max, HW) each: relu(bn1) and its gradient */
    Tensor b1;               /* (N, B, HW): the bottleneck's gradient */
    Tensor g;                /* (N, k, HW): conv2 output / its gradient */
    Tensor z1, a2;           /* (layers, N, B, HW): conv1 output and relu(bn2(.)) per layer */
    double *mean1, *inv1;    /* sum of C_i: bn1 statistics, layer i at off1[i] */
    double *mean2, *inv2;    /* (layers, B): bn2 statistics */
    double *mu, *sq;         /* (C_max): per channel of y, the batch mean and the sum of
                              * squared deviations (batchnorm_stats) of the training forward */
    double *mu2, *sq2;       /* (B): the same for the layer's bn2 */
    size_t *off1;            /* (layers): offset of layer i's bn1 statistics */
    int n;                   /* batch of the last forward; 0 before any (or after a failure) */
    int train;               /* mode of the last forward */
} DenseState;

typedef struct DenseModule {
    Module base;
    DenseParams p;
    DenseState s;
} DenseModule;

static int layer_in_c(const DenseParams *p, int i) { return p->in_c + i * p->growth; }

static int out_c(const DenseParams *p) { return layer_in_c(p, p->layers); }

static BatchNormParams bn_params(const DenseParams *p, int channels)
{
    return (BatchNormParams){channels, p->eps, p->momentum, 1, 0, 0};
}

/* conv1 of layer i: 1x1, C_i -> B; conv2: 3x3 pad 1, B -> k. No bias (the reference's). */
static ConvParams conv1_params(const DenseParams *p, int i)
{
    return (ConvParams){layer_in_c(p, i), p->bottleneck, 1, 1, 1, 1, 0, 0, 1, 0, p->init,
                        CONV_ALGO_DEFAULT};
}

static ConvParams conv2_params(const DenseParams *p)
{
    return (ConvParams){p->bottleneck, p->growth, DENSE_CONV2_K, DENSE_CONV2_K, 1, 1,
                        DENSE_CONV2_PAD, DENSE_CONV2_PAD, 1, 0, p->init, CONV_ALGO_DEFAULT};
}

/* The channel counts the state is sized by: C (output), C_max (widest layer input, C - k),
 * B (bottleneck), k (growth), and the layer count. */
typedef struct DenseSizes {
    size_t c, c_max, b, k, layers;
} DenseSizes;

static DenseSizes dense_sizes(const DenseParams *p)
{
    return (DenseSizes){(size_t)out_c(p), (size_t)layer_in_c(p, p->layers - 1),
                        (size_t)p->bottleneck, (size_t)p->growth, (size_t)p->layers};
}

size_t dense_activation_floats(const DenseParams *p, int n, int h, int w)
{
    DenseSizes z = dense_sizes(p);
    size_t per = z.c + (size_t)p->in_c  /* y, dx */
                 + z.c                  /* dfeat */
                 + 2 * z.c_max          /* t1, t2 */
                 + z.b + z.k            /* b1, g */
                 + 2 * z.layers * z.b;  /* z1, a2 */
    return per * (size_t)n * (size_t)h * (size_t)w;
}

/* ---- gathers and scatters over the example stride ------------------------------------- */

/* dst (n, c, hw) = src[:, c0:c0+c] of src (n, c_src, hw). */
static void gather(float *dst, const float *src, int n, size_t c, size_t c0, size_t c_src,
                   size_t hw, int nthreads)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)i * c * hw, src + ((size_t)i * c_src + c0) * hw,
               c * hw * sizeof(float));
}

/* dst[:, c0:c0+c] = src (n, c, hw), dst (n, c_dst, hw). */
static void scatter(float *dst, const float *src, int n, size_t c, size_t c0, size_t c_dst,
                    size_t hw, int nthreads)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int i = 0; i < n; i++)
        memcpy(dst + ((size_t)i * c_dst + c0) * hw, src + (size_t)i * c * hw,
               c * hw * sizeof(float));
}

/* dst[:, :c] += src (n, c, hw), dst (n, c_dst, hw). */
static void scatter_add(float *dst, const float *src, int n, size_t c, size_t c_dst, size_t hw,
                        int nthreads)
{
    const size_t per = c * hw;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int i = 0; i < n; i++) {
        float *d = dst + (size_t)i * c_dst * hw;
        const float *s = src + (size_t)i * per;
#pragma omp simd
        for (size_t j = 0; j < per; j++)
            d[j] += s[j];
    }
}

/* ---- module --------------------------------------------------------------------------- */

static int dense_setup(Module *m, Err *err)
{
    DenseModule *d = (DenseModule *)m;
    const DenseParams *p = &d->p;
    if (m->in.c != p->in_c)
        return err_set(err, "%s: dense_block: input has %d channels, expected %d", m->path,
                       m->in.c, p->in_c);
    const int h = m->in.h, w = m->in.w;
    for (int i = 0; i < p->layers; i++) {
        const int ci = layer_in_c(p, i);
        const Shape in[DL_PER_LAYER] = {{ci, h, w}, {ci, h, w}, {p->bottleneck, h, w},
                                        {p->bottleneck, h, w}};
        for (int j = 0; j < DL_PER_LAYER; j++) {
            Module *c = m->child[i * DL_PER_LAYER + j];
            int len = snprintf(c->path, sizeof c->path, "%s%slayer.%d.%s", m->path,
                               m->path[0] ? "." : "", i, dense_child_names[j]);
            if (len < 0 || len >= (int)sizeof c->path)
                return err_set(err, "%s: dense_block: layer %d's paths exceed %d characters",
                               m->path, i, MODULE_PATH_MAX - 1);
            c->in = in[j];
            if (c->ops->setup(c, err))
                return err_prefix(err, c->path);
            /* parameter holders only: the block runs their kernels on its own buffers */
            c->alias = 1;
        }
        Shape o = m->child[i * DL_PER_LAYER + DL_CONV2]->out;
        if (o.c != p->growth || o.h != h || o.w != w)
            return err_set(err, "%s: dense_block: layer %d gives (%d, %d, %d), expected "
                                "(%d, %d, %d)", m->path, i, o.c, o.h, o.w, p->growth, h, w);
    }
    m->out = (Shape){out_c(p), h, w};
    m->n_params = 0;
    m->n_decay = 0;
    m->n_buffers = 0;
    m->ws_floats = 0; /* the children's conv workspace is counted through them */
    return 0;
}

static void dense_init(Module *m, Rng *rng)
{
    /* the children (BN 1 and 0, convs by p->init) are initialised by the Net's tree walk */
    (void)m;
    (void)rng;
}

/* Reserves the state for the Net's batch capacity (that of y); allocates only on growth. */
static int dense_reserve(DenseModule *d, Err *err)
{
    Module *m = &d->base;
    DenseSizes z = dense_sizes(&d->p);
    size_t hw = (size_t)m->out.h * (size_t)m->out.w;
    size_t cap = m->y.cap / shape_size(m->out);
    Tensor *big[] = {&d->s.t1, &d->s.t2};
    Tensor *mid[] = {&d->s.b1};
    if (tensor_reserve(&d->s.dfeat, cap * z.c * hw, err) ||
        tensor_reserve(&d->s.g, cap * z.k * hw, err) ||
        tensor_reserve(&d->s.z1, z.layers * cap * z.b * hw, err) ||
        tensor_reserve(&d->s.a2, z.layers * cap * z.b * hw, err))
        return err_prefix(err, m->path);
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        if (tensor_reserve(big[i], cap * z.c_max * hw, err))
            return err_prefix(err, m->path);
    for (size_t i = 0; i < sizeof mid / sizeof mid[0]; i++)
        if (tensor_reserve(mid[i], cap * z.b * hw, err))
            return err_prefix(err, m->path);
    return 0;
}

static int dense_check(const Module *m, const Tensor *x, const Tensor *dy, const char *fn,
                       int train, int *n, Err *err)
{
    char buf[64];
    Shape s = tensor_example_shape(x);
    if (x->ndim != 4 || x->shape[0] < 1 || !shape_eq(s, m->in))
        return err_set(err, "%s: %s: input is %s, expected (N, %d, %d, %d)", m->path, fn,
                       tensor_shape_str(x, buf, sizeof buf), m->in.c, m->in.h, m->in.w);
    *n = x->shape[0];
    if (train && (long long)*n * m->in.h * m->in.w <= 1)
        return err_set(err, "%s: %s: expected more than 1 value per channel when training, "
                            "got input %s", m->path, fn, tensor_shape_str(x, buf, sizeof buf));
    if ((size_t)*n * shape_size(m->out) > m->y.cap)
        return err_set(err, "%s: %s: batch %d exceeds the reserved capacity %zu", m->path, fn,
                       *n, m->y.cap / shape_size(m->out));
    if (dy && (dy->size != (size_t)*n * shape_size(m->out) ||
               !shape_eq(tensor_example_shape(dy), m->out)))
        return err_set(err, "%s: %s: dy is %s, expected (%d, %d, %d, %d)", m->path, fn,
                       tensor_shape_str(dy, buf, sizeof buf), *n, m->out.c, m->out.h,
                       m->out.w);
    return 0;
}

static int dense_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    DenseModule *d = (DenseModule *)m;
    DenseState *s = &d->s;
    const DenseParams *p = &d->p;
    int n;
    if (dense_check(m, x, NULL, "dense_block_forward", ctx->train, &n, err))
        return -1;
    if (module_set_output(m, n, err) || dense_reserve(d, err))
        return -1;
    const int h = m->in.h, w = m->in.w, hw = h * w, nt = ctx->nthreads;
    const int B = p->bottleneck, k = p->growth;
    const size_t c = (size_t)out_c(p), layer_b = (size_t)n * (size_t)B * (size_t)hw;
    const ConvParams cp2 = conv2_params(p);
    s->n = 0; /* invalid until the forward completes */
    scatter(m->y.data, x->data, n, (size_t)p->in_c, 0, c, (size_t)hw, nt);
    for (int i = 0; i < p->layers; i++) {
        Module **ch = m->child + i * DL_PER_LAYER;
        const int ci = layer_in_c(p, i);
        const ConvParams cp1 = conv1_params(p, i);
        float *z1 = s->z1.data + (size_t)i * layer_b, *a2 = s->a2.data + (size_t)i * layer_b;
        double *mean1 = s->mean1 + s->off1[i], *inv1 = s->inv1 + s->off1[i];
        double *mean2 = s->mean2 + (size_t)i * (size_t)B, *inv2 = s->inv2 + (size_t)i * (size_t)B;
        /* t2 = relu(bn1(x_i)), x_i = y[:, :C_i] in place; the statistics of its channels
         * before C_i - k are the last layer's (the header) */
        const int j0 = i == 0 ? 0 : ci - k;
        if (ctx->train)
            batchnorm_stats(s->mu + j0, s->sq + j0, m->y.data + (size_t)j0 * (size_t)hw,
                            c * (size_t)hw, n, ci - j0, hw, nt);
        batchnorm_finish(mean1, inv1, ch[DL_BN1]->buf, ch[DL_BN1]->buf + ci, s->mu, s->sq, n,
                         ci, hw, ctx->train, p->eps, p->momentum);
        batchnorm_apply(s->t2.data, m->y.data, c * (size_t)hw, ch[DL_BN1]->w,
                        ch[DL_BN1]->w + ci, mean1, inv1, n, ci, hw, 1, nt);
        /* a2 = relu(bn2(conv1(t2))) */
        conv_forward(z1, s->t2.data, ch[DL_CONV1]->w, NULL, ctx->ws, ctx->ws_stride, &cp1, n,
                     h, w, nt);
        if (ctx->train)
            batchnorm_stats(s->mu2, s->sq2, z1, (size_t)B * (size_t)hw, n, B, hw, nt);
        batchnorm_finish(mean2, inv2, ch[DL_BN2]->buf, ch[DL_BN2]->buf + B, s->mu2, s->sq2, n,
                         B, hw, ctx->train, p->eps, p->momentum);
        batchnorm_apply(a2, z1, (size_t)B * (size_t)hw, ch[DL_BN2]->w, ch[DL_BN2]->w + B, mean2,
                        inv2, n, B, hw, 1, nt);
        /* x_{i+1} = [x_i, conv2(a2)] */
        conv_forward(s->g.data, a2, ch[DL_CONV2]->w, NULL, ctx->ws, ctx->ws_stride, &cp2, n, h,
                     w, nt);
        scatter(m->y.data, s->g.data, n, (size_t)k, (size_t)ci, c, (size_t)hw, nt);
    }
    s->n = n;
    s->train = ctx->train;
    return 0;
}

static int dense_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    DenseModule *d = (DenseModule *)m;
    DenseState *s = &d->s;
    const DenseParams *p = &d->p;
    int n;
    if (dense_check(m, x, dy, "dense_block_backward", s->train, &n, err))
        return -1;
    if (s->n != n)
        return err_set(err, "%s: dense_block_backward: last forward had batch %d, backward "
                            "has %d", m->path, s->n, n);
    if (s->train != ctx->train)
        return err_set(err, "%s: dense_block_backward: forward ran in %s mode, backward in %s "
                            "mode", m->path, s->train ? "train" : "eval",
                       ctx->train ? "train" : "eval");
    if (module_set_dx(m, n, err))
        return -1;
    const int h = m->in.h, w = m->in.w, hw = h * w, nt = ctx->nthreads;
    const int B = p->bottleneck, k = p->growth;
    const size_t c = (size_t)out_c(p), layer_b = (size_t)n * (size_t)B * (size_t)hw;
    const ConvParams cp2 = conv2_params(p);
    memcpy(s->dfeat.data, dy->data, (size_t)n * c * (size_t)hw * sizeof(float));
    for (int i = p->layers - 1; i >= 0; i--) {
        Module **ch = m->child + i * DL_PER_LAYER;
        const int ci = layer_in_c(p, i);
        const ConvParams cp1 = conv1_params(p, i);
        const float *z1 = s->z1.data + (size_t)i * layer_b;
        const float *a2 = s->a2.data + (size_t)i * layer_b;
        const double *mean1 = s->mean1 + s->off1[i], *inv1 = s->inv1 + s->off1[i];
        const double *mean2 = s->mean2 + (size_t)i * (size_t)B;
        const double *inv2 = s->inv2 + (size_t)i * (size_t)B;
        /* g = dL/d conv2 output */
        gather(s->g.data, s->dfeat.data, n, (size_t)k, (size_t)ci, c, (size_t)hw, nt);
        /* conv2: out = conv2(a2) */
        conv_backward(s->b1.data, ch[DL_CONV2]->dw, NULL, s->g.data, a2, ch[DL_CONV2]->w,
                      ctx->ws, ctx->ws_stride, &cp2, n, h, w, nt);
        /* a2 = relu(bn2(z1)): through the relu and bn2 in one kernel */
        batchnorm_backward_relu(s->b1.data, ch[DL_BN2]->dw, ch[DL_BN2]->dw + B, s->b1.data, a2,
                                z1, (size_t)B * (size_t)hw, ch[DL_BN2]->w, mean2, inv2, n, B,
                                hw, s->train, nt);
        /* t2 = relu(bn1(x_i)), recomputed from the forward's statistics */
        batchnorm_apply(s->t2.data, m->y.data, c * (size_t)hw, ch[DL_BN1]->w,
                        ch[DL_BN1]->w + ci, mean1, inv1, n, ci, hw, 1, nt);
        /* z1 = conv1(t2) */
        conv_backward(s->t1.data, ch[DL_CONV1]->dw, NULL, s->b1.data, s->t2.data,
                      ch[DL_CONV1]->w, ctx->ws, ctx->ws_stride, &cp1, n, h, w, nt);
        /* t2 = relu(bn1(x_i)): through the relu and bn1 in one kernel, x_i in place */
        batchnorm_backward_relu(s->t1.data, ch[DL_BN1]->dw, ch[DL_BN1]->dw + ci, s->t1.data,
                                s->t2.data, m->y.data, c * (size_t)hw, ch[DL_BN1]->w, mean1,
                                inv1, n, ci, hw, s->train, nt);
        /* x_{i+1} = [x_i, new]: the identity part adds */
        scatter_add(s->dfeat.data, s->t1.data, n, (size_t)ci, c, (size_t)hw, nt);
    }
    gather(m->dx.data, s->dfeat.data, n, (size_t)p->in_c, 0, c, (size_t)hw, nt);
    return 0;
}

static void dense_destroy(Module *m)
{
    DenseModule *d = (DenseModule *)m;
    DenseState *s = &d->s;
    Tensor *t[] = {&s->dfeat, &s->t1, &s->t2, &s->b1, &s->g, &s->z1, &s->a2};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        tensor_free(t[i]);
    free(s->mean1);
    free(s->inv1);
    free(s->mean2);
    free(s->inv2);
    free(s->mu);
    free(s->sq);
    free(s->mu2);
    free(s->sq2);
    free(s->off1);
    free(d);
}

static const ModuleOps dense_ops = {"dense_block", dense_setup, dense_init, dense_forward,
                                    dense_backward, dense_destroy};

/* Builds layer i's four children into m->child[4 i ..] and counts them in m->n_child. */
static int dense_add_layer(Module *m, const DenseParams *p, int i, Err *err)
{
    const BatchNormParams bp1 = bn_params(p, layer_in_c(p, i));
    const BatchNormParams bp2 = bn_params(p, p->bottleneck);
    const ConvParams cp1 = conv1_params(p, i), cp2 = conv2_params(p);
    Module *c[DL_PER_LAYER] = {batchnorm_module_new(&bp1, err), NULL, NULL, NULL};
    if (c[0])
        c[1] = conv_module_new(&cp1, err);
    if (c[1])
        c[2] = batchnorm_module_new(&bp2, err);
    if (c[2])
        c[3] = conv_module_new(&cp2, err);
    if (!c[3]) {
        for (int j = 0; j < DL_PER_LAYER; j++)
            module_free(c[j]);
        return err_prefix(err, "dense_module_new");
    }
    for (int j = 0; j < DL_PER_LAYER; j++)
        m->child[m->n_child++] = c[j];
    return 0;
}

size_t dense_reserved_floats(const Module *m)
{
    const DenseState *s = &((const DenseModule *)m)->s;
    const Tensor *t[] = {&m->y, &m->dx, &s->dfeat, &s->t1, &s->t2, &s->b1, &s->g, &s->z1,
                         &s->a2};
    size_t total = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        total += t[i]->cap;
    return total;
}

Module *dense_module_new(const DenseParams *p, Err *err)
{
    if (!p) {
        err_set(err, "dense_module_new: params are NULL");
        return NULL;
    }
    const struct {
        const char *name;
        int value;
    } counts[] = {{"in_c", p->in_c}, {"layers", p->layers}, {"growth", p->growth},
                  {"bottleneck", p->bottleneck}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        if (counts[i].value < 1) {
            err_set(err, "dense_module_new: %s is %d, expected >= 1", counts[i].name,
                    counts[i].value);
            return NULL;
        }
    }
    if ((long long)p->in_c + (long long)p->layers * p->growth > DENSE_MAX_CHANNELS) {
        err_set(err, "dense_module_new: %d + %d x %d output channels exceed %d", p->in_c,
                p->layers, p->growth, DENSE_MAX_CHANNELS);
        return NULL;
    }
    if (!(p->eps > 0.0) || !isfinite(p->eps)) {
        err_set(err, "dense_module_new: eps is %g, expected a finite value > 0", p->eps);
        return NULL;
    }
    if (!(p->momentum >= 0.0 && p->momentum <= 1.0)) {
        err_set(err, "dense_module_new: momentum is %g, expected 0..1", p->momentum);
        return NULL;
    }
    if ((int)p->init < INIT_TORCH_DEFAULT || (int)p->init > INIT_ZERO) {
        err_set(err, "%s: init scheme %s is not for this layer (torch_default, he_normal, "
                     "he_normal_fan_in, zero)", "dense_module_new",
                (int)p->init == INIT_NORMAL_001 ? init_scheme_name(p->init) : "(unknown)");
        return NULL;
    }
    DenseModule *d = calloc(1, sizeof *d);
    if (!d) {
        err_set(err, "dense_module_new: out of memory");
        return NULL;
    }
    Module *m = &d->base;
    DenseState *s = &d->s;
    m->ops = &dense_ops;
    d->p = *p;
    size_t layers = (size_t)p->layers, b = (size_t)p->bottleneck;
    size_t c_max = (size_t)layer_in_c(p, p->layers - 1), sum_c = 0;
    m->child = calloc(layers * DL_PER_LAYER, sizeof *m->child);
    s->off1 = calloc(layers, sizeof *s->off1);
    if (m->child && s->off1) {
        for (int i = 0; i < p->layers; i++) {
            s->off1[i] = sum_c;
            sum_c += (size_t)layer_in_c(p, i);
        }
    }
    s->mean1 = calloc(sum_c ? sum_c : 1, sizeof *s->mean1);
    s->inv1 = calloc(sum_c ? sum_c : 1, sizeof *s->inv1);
    s->mean2 = calloc(layers * b, sizeof *s->mean2);
    s->inv2 = calloc(layers * b, sizeof *s->inv2);
    s->mu = calloc(c_max, sizeof *s->mu);
    s->sq = calloc(c_max, sizeof *s->sq);
    s->mu2 = calloc(b, sizeof *s->mu2);
    s->sq2 = calloc(b, sizeof *s->sq2);
    if (!m->child || !s->off1 || !s->mean1 || !s->inv1 || !s->mean2 || !s->inv2 || !s->mu ||
        !s->sq || !s->mu2 || !s->sq2) {
        module_free(m);
        err_set(err, "dense_module_new: out of memory for %d layers", p->layers);
        return NULL;
    }
    for (int i = 0; i < p->layers; i++) {
        if (dense_add_layer(m, p, i, err)) {
            module_free(m);
            return NULL;
        }
    }
    return m;
}
