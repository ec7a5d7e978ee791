/*
 * pool.c: max and average pooling with kernel, stride and padding, and global average pooling,
 * NCHW, with PyTorch's MaxPool2d / AvgPool2d / adaptive_avg_pool2d(1) semantics (pool.h).
 *
 * Layout: every (n, c) plane is independent, so the kernels run over P = N C planes with one
 * thread per plane and no cross-thread reductions (bit-identical for any thread count).
 * Window of output (oh, ow): rows oh stride_h - pad_h .. + kh - 1, clipped to the input;
 * padding never contributes to a max (it is -inf) and contributes zeros to an average, whose
 * divisor is the window area before clipping to the input but after clipping to the padded
 * input, as PyTorch's count_include_pad=True (with pad <= k / 2 and floor mode it is kh kw).
 *
 * Saved state: max pooling keeps the argmax of every output for backward (PoolModule), sized
 * for the output's reserved capacity on the first forward.
 *
 * References: PyTorch aten/src/ATen/native/cpu/MaxPoolKernel.cpp, AvgPoolKernel.cpp.
 * Non-goals: ceil_mode, dilation, count_include_pad=False, divisor_override.
 */
#include "nn/pool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct PoolModule {
    Module base;
    PoolParams p;
    int *argmax;      /* (N, C, Ho, Wo) max pooling only: flat index within the input plane */
    size_t argmax_cap;
    int n;            /* batch of the last forward; 0 before any */
} PoolModule;

int pool_out_dim(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* ---- max pooling ---------------------------------------------------------------------- */

void pool_max_forward(float *y, int *argmax, const float *x, int planes, int h, int w,
                      const PoolParams *p, int nthreads)
{
    int ho = pool_out_dim(h, p->kh, p->stride_h, p->pad_h);
    int wo = pool_out_dim(w, p->kw, p->stride_w, p->pad_w);
    size_t in_plane = (size_t)h * (size_t)w, out_plane = (size_t)ho * (size_t)wo;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * in_plane;
        float *yp = y + (size_t)pl * out_plane;
        int *ap = argmax + (size_t)pl * out_plane;
        for (int oh = 0; oh < ho; oh++) {
            int h0 = oh * p->stride_h - p->pad_h;
            int hs = imax(h0, 0), he = imin(h0 + p->kh, h);
            for (int ow = 0; ow < wo; ow++) {
                int w0 = ow * p->stride_w - p->pad_w;
                int ws = imax(w0, 0), we = imin(w0 + p->kw, w);
                /* pad <= k / 2 guarantees a non-empty window; start at its first element so
                 * an all -inf window still has a valid argmax (as PyTorch) */
                int best_i = hs * w + ws;
                float best = -INFINITY;
                for (int ih = hs; ih < he; ih++)
                    for (int iw = ws; iw < we; iw++) {
                        float v = xp[ih * w + iw];
                        if (v > best || isnan(v)) { /* strict: first max wins ties */
                            best = v;
                            best_i = ih * w + iw;
                        }
                    }
                yp[oh * wo + ow] = best;
                ap[oh * wo + ow] = best_i;
            }
        }
    }
}

void pool_max_backward(float *dx, const float *dy, const int *argmax, int planes, int h, int w,
                       const PoolParams *p, int nthreads)
{
    int ho = pool_out_dim(h, p->kh, p->stride_h, p->pad_h);
    int wo = pool_out_dim(w, p->kw, p->stride_w, p->pad_w);
    size_t in_plane = (size_t)h * (size_t)w, out_plane = (size_t)ho * (size_t)wo;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        float *dxp = dx + (size_t)pl * in_plane;
        const float *dyp = dy + (size_t)pl * out_plane;
        const int *ap = argmax + (size_t)pl * out_plane;
        memset(dxp, 0, in_plane * sizeof(float));
        /* y = x[argmax]: each output's gradient goes to its window's maximum; overlapping
         * windows (stride < k) add up */
        for (size_t o = 0; o < out_plane; o++)
            dxp[ap[o]] += dyp[o];
    }
}

/* ---- average pooling ------------------------------------------------------------------ */

/* PyTorch's count_include_pad divisor: the window clipped to the padded input. */
static int avg_divisor(int h0, int w0, int h, int w, const PoolParams *p)
{
    int hend = imin(h0 + p->kh, h + p->pad_h), wend = imin(w0 + p->kw, w + p->pad_w);
    return (hend - h0) * (wend - w0);
}

void pool_avg_forward(float *y, const float *x, int planes, int h, int w, const PoolParams *p,
                      int nthreads)
{
    int ho = pool_out_dim(h, p->kh, p->stride_h, p->pad_h);
    int wo = pool_out_dim(w, p->kw, p->stride_w, p->pad_w);
    size_t in_plane = (size_t)h * (size_t)w, out_plane = (size_t)ho * (size_t)wo;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * in_plane;
        float *yp = y + (size_t)pl * out_plane;
        for (int oh = 0; oh < ho; oh++) {
            int h0 = oh * p->stride_h - p->pad_h;
            int hs = imax(h0, 0), he = imin(h0 + p->kh, h);
            for (int ow = 0; ow < wo; ow++) {
                int w0 = ow * p->stride_w - p->pad_w;
                int ws = imax(w0, 0), we = imin(w0 + p->kw, w);
                double sum = 0.0;
                for (int ih = hs; ih < he; ih++)
                    for (int iw = ws; iw < we; iw++)
                        sum += (double)xp[ih * w + iw];
                yp[oh * wo + ow] = (float)(sum / (double)avg_divisor(h0, w0, h, w, p));
            }
        }
    }
}

void pool_avg_backward(float *dx, const float *dy, int planes, int h, int w, const PoolParams *p,
                       int nthreads)
{
    int ho = pool_out_dim(h, p->kh, p->stride_h, p->pad_h);
    int wo = pool_out_dim(w, p->kw, p->stride_w, p->pad_w);
    size_t in_plane = (size_t)h * (size_t)w, out_plane = (size_t)ho * (size_t)wo;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        float *dxp = dx + (size_t)pl * in_plane;
        const float *dyp = dy + (size_t)pl * out_plane;
        memset(dxp, 0, in_plane * sizeof(float));
        for (int oh = 0; oh < ho; oh++) {
            int h0 = oh * p->stride_h - p->pad_h;
            int hs = imax(h0, 0), he = imin(h0 + p->kh, h);
            for (int ow = 0; ow < wo; ow++) {
                int w0 = ow * p->stride_w - p->pad_w;
                int ws = imax(w0, 0), we = imin(w0 + p->kw, w);
                /* y = sum(window) / divisor: every input in the window gets dy / divisor */
                float g = (float)((double)dyp[oh * wo + ow] /
                                  (double)avg_divisor(h0, w0, h, w, p));
                for (int ih = hs; ih < he; ih++)
                    for (int iw = ws; iw < we; iw++)
                        dxp[ih * w + iw] += g;
            }
        }
    }
}

/* ---- global average pooling ----------------------------------------------------------- */

void pool_global_avg_forward(float *y, const float *x, int planes, int hw, int nthreads)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * (size_t)hw;
        double sum = 0.0;
        for (int i = 0; i < hw; i++)
            sum += (double)xp[i];
        y[pl] = (float)(sum / (double)hw);
    }
}

void pool_global_avg_backward(float *dx, const float *dy, int planes, int hw, int nthreads)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        /* y = sum(x) / HW: every input gets dy / HW */
        float g = (float)((double)dy[pl] / (double)hw);
        float *dxp = dx + (size_t)pl * (size_t)hw;
        for (int i = 0; i < hw; i++)
            dxp[i] = g;
    }
}

/* ---- modules -------------------------------------------------------------------------- */

/* Checks x (and dy when given) against the module; fills *n. Called first by forward and
 * backward of all three kinds. */
static int pool_check(const Module *m, const Tensor *x, const Tensor *dy, const char *fn,
                      int *n, Err *err)
{
    char buf[64];
    if (x->ndim >= 2 && x->shape[0] >= 1 && tensor_example_shape(x).c != m->in.c)
        return err_set(err, "%s: input has %d channels, expected %d", fn,
                       tensor_example_shape(x).c, m->in.c);
    if (module_check_input(m, x, n, err))
        return -1;
    if (dy && (dy->size != (size_t)*n * shape_size(m->out) ||
               !shape_eq(tensor_example_shape(dy), m->out)))
        return err_set(err, "%s: dy is %s, expected (%d, %d, %d, %d)", fn,
                       tensor_shape_str(dy, buf, sizeof buf), *n, m->out.c, m->out.h, m->out.w);
    return 0;
}

static int pool_setup(Module *m, Err *err)
{
    const PoolParams *p = &((PoolModule *)m)->p;
    if (m->in.h + 2 * p->pad_h < p->kh || m->in.w + 2 * p->pad_w < p->kw)
        return err_set(err, "%s: input is %dx%d, padded by (%d, %d) it is smaller than the "
                            "%dx%d kernel",
                       m->ops->kind, m->in.h, m->in.w, p->pad_h, p->pad_w, p->kh, p->kw);
    m->out = (Shape){m->in.c, pool_out_dim(m->in.h, p->kh, p->stride_h, p->pad_h),
                     pool_out_dim(m->in.w, p->kw, p->stride_w, p->pad_w)};
    m->n_params = m->n_decay = m->n_buffers = m->ws_floats = 0;
    return 0;
}

static void pool_init(Module *m, Rng *rng)
{
    (void)m;
    (void)rng;
}

static int pool_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    PoolModule *pm = (PoolModule *)m;
    int n;
    if (pool_check(m, x, NULL, "pool_forward", &n, err) || module_set_output(m, n, err))
        return -1;
    int planes = n * m->in.c;
    pm->n = 0;
    if (pm->p.mode == POOL_MAX) {
        /* sized once for the output's reserved capacity; a larger batch grows it explicitly */
        size_t need = m->y.cap > m->y.size ? m->y.cap : m->y.size;
        if (need > pm->argmax_cap) {
            int *a = malloc(need * sizeof *a);
            if (!a)
                return err_set(err, "pool_forward: out of memory for %zu argmax entries", need);
            free(pm->argmax);
            pm->argmax = a;
            pm->argmax_cap = need;
        }
        pool_max_forward(m->y.data, pm->argmax, x->data, planes, m->in.h, m->in.w, &pm->p,
                         ctx->nthreads);
    } else {
        pool_avg_forward(m->y.data, x->data, planes, m->in.h, m->in.w, &pm->p, ctx->nthreads);
    }
    pm->n = n;
    return 0;
}

static int pool_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    PoolModule *pm = (PoolModule *)m;
    int n;
    if (pool_check(m, x, dy, "pool_backward", &n, err))
        return -1;
    if (pm->n != n)
        return err_set(err, "pool_backward: last forward had batch %d, backward has %d", pm->n,
                       n);
    if (module_set_dx(m, n, err))
        return -1;
    int planes = n * m->in.c;
    if (pm->p.mode == POOL_MAX)
        pool_max_backward(m->dx.data, dy->data, pm->argmax, planes, m->in.h, m->in.w, &pm->p,
                          ctx->nthreads);
    else
        pool_avg_backward(m->dx.data, dy->data, planes, m->in.h, m->in.w, &pm->p,
                          ctx->nthreads);
    return 0;
}

static void pool_destroy(Module *m)
{
    free(((PoolModule *)m)->argmax);
    free(m);
}

static const ModuleOps maxpool_ops = {"maxpool", pool_setup, pool_init, pool_forward,
                                      pool_backward, pool_destroy};
static const ModuleOps avgpool_ops = {"avgpool", pool_setup, pool_init, pool_forward,
                                      pool_backward, pool_destroy};

Module *pool_module_new(const PoolParams *p, Err *err)
{
    if (p->mode != POOL_MAX && p->mode != POOL_AVG) {
        err_set(err, "pool: mode is %d, expected POOL_MAX (0) or POOL_AVG (1)", (int)p->mode);
        return NULL;
    }
    const char *kind = p->mode == POOL_MAX ? "maxpool" : "avgpool";
    if (p->kh < 1 || p->kw < 1) {
        err_set(err, "%s: kernel is %dx%d, expected >= 1", kind, p->kh, p->kw);
        return NULL;
    }
    if (p->stride_h < 1 || p->stride_w < 1) {
        err_set(err, "%s: stride is (%d, %d), expected >= 1", kind, p->stride_h, p->stride_w);
        return NULL;
    }
    if (p->pad_h < 0 || p->pad_w < 0 || p->pad_h > p->kh / 2 || p->pad_w > p->kw / 2) {
        err_set(err, "%s: padding is (%d, %d), expected 0..(%d, %d): at most half the %dx%d "
                     "kernel (PyTorch's rule)",
                kind, p->pad_h, p->pad_w, p->kh / 2, p->kw / 2, p->kh, p->kw);
        return NULL;
    }
    PoolModule *pm = calloc(1, sizeof *pm);
    if (!pm) {
        err_set(err, "%s: out of memory", kind);
        return NULL;
    }
    pm->base.ops = p->mode == POOL_MAX ? &maxpool_ops : &avgpool_ops;
    pm->p = *p;
    return &pm->base;
}

/* Global average pooling: (N, C, H, W) -> (N, C, 1, 1). */

static int gap_setup(Module *m, Err *err)
{
    (void)err;
    m->out = (Shape){m->in.c, 1, 1};
    m->n_params = m->n_decay = m->n_buffers = m->ws_floats = 0;
    return 0;
}

static int gap_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    int n;
    if (pool_check(m, x, NULL, "pool_global_avg_forward", &n, err) ||
        module_set_output(m, n, err))
        return -1;
    pool_global_avg_forward(m->y.data, x->data, n * m->in.c, m->in.h * m->in.w, ctx->nthreads);
    return 0;
}

static int gap_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    int n;
    if (pool_check(m, x, dy, "pool_global_avg_backward", &n, err) || module_set_dx(m, n, err))
        return -1;
    pool_global_avg_backward(m->dx.data, dy->data, n * m->in.c, m->in.h * m->in.w,
                             ctx->nthreads);
    return 0;
}

static const ModuleOps gap_ops = {"global_avgpool", gap_setup, pool_init, gap_forward,
                                  gap_backward, pool_destroy};

Module *global_avgpool_module_new(Err *err)
{
    /* a PoolModule so that pool_destroy serves both; argmax stays NULL */
    PoolModule *pm = calloc(1, sizeof *pm);
    if (!pm) {
        err_set(err, "global_avgpool: out of memory");
        return NULL;
    }
    pm->base.ops = &gap_ops;
    return &pm->base;
}
