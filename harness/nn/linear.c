/*
 * linear.c: the fully connected layer, y = x W^T + b (torch.nn.Linear).
 *
 * Layout: x is (N, in) or (N, C, H, W) read as (N, C H W) rows; w is (out, in) row-major as in
 * PyTorch; y is (N, out, 1, 1). The batch is one GEMM (blas_gemm, outside any parallel region
 * so OpenBLAS uses the whole pool); the bias add and the bias gradient are plain loops.
 *
 * Reference: https://pytorch.org/docs/1.13/generated/torch.nn.Linear.html
 * Non-goals: other dtypes, sparse inputs, inputs with more than one non-batch axis laid out
 * other than NCHW.
 */
#include "nn/linear.h"

#include <math.h>
#include <stdlib.h>

#include "core/blas.h"

typedef struct LinearModule {
    Module base;
    LinearParams p;
} LinearModule;

/* ---- kernels -------------------------------------------------------------------------- */

void linear_forward(float *y, const float *x, const float *w, const float *b, int n,
                    const LinearParams *p, int nthreads)
{
    int in = p->in, out = p->out;
    /* y (n, out) = x (n, in) w^T (in, out) */
    blas_gemm(0, 1, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (!b)
        return;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int i = 0; i < n; i++) {
        float *yi = y + (size_t)i * (size_t)out;
        for (int j = 0; j < out; j++)
            yi[j] += b[j];
    }
}

void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                     const float *w, int n, const LinearParams *p, int nthreads)
{
    int in = p->in, out = p->out;
    /* forward: y = x w^T  =>  dx (n, in) = dy (n, out) w (out, in), overwritten */
    if (dx)
        blas_gemm(0, 0, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
    /* forward: y = x w^T  =>  dw (out, in) += dy^T (out, n) x (n, in) */
    blas_gemm(1, 0, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (!db)
        return;
    /* forward: y[i] += b  =>  db += sum over the batch of dy[i], rows in order, in double so
     * the result is independent of the thread count */
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int j = 0; j < out; j++) {
        double s = 0.0;
        for (int i = 0; i < n; i++)
            s += (double)dy[(size_t)i * (size_t)out + (size_t)j];
        db[j] = (float)((double)db[j] + s);
    }
}

/* ---- module --------------------------------------------------------------------------- */

/* x must be (N, in) or (N, C, H, W) with C H W = in, N >= 1; dy (when given) (N, out). */
static int linear_check(const Module *m, const Tensor *x, const Tensor *dy, int *n, Err *err)
{
    const LinearModule *lm = (const LinearModule *)m;
    char buf[64];
    if ((x->ndim != 2 && x->ndim != 4) || x->shape[0] < 1)
        return err_set(err, "linear: input is %s, expected (N, %d) or (N, C, H, W) with "
                            "C*H*W = %d", tensor_shape_str(x, buf, sizeof buf), lm->p.in,
                       lm->p.in);
    size_t per = x->size / (size_t)x->shape[0];
    if (per != (size_t)lm->p.in)
        return err_set(err, "linear: input %s has %zu features per example, weight expects %d",
                       tensor_shape_str(x, buf, sizeof buf), per, lm->p.in);
    *n = x->shape[0];
    if (dy && (dy->ndim < 2 || dy->shape[0] != *n ||
               dy->size != (size_t)*n * (size_t)lm->p.out))
        return err_set(err, "linear: dy is %s, expected (%d, %d)",
                       tensor_shape_str(dy, buf, sizeof buf), *n, lm->p.out);
    return 0;
}

static int linear_setup(Module *m, Err *err)
{
    LinearModule *lm = (LinearModule *)m;
    size_t got = shape_size(m->in);
    if (got != (size_t)lm->p.in)
        return err_set(err, "linear: input has %zu features (%d, %d, %d), weight expects %d",
                       got, m->in.c, m->in.h, m->in.w, lm->p.in);
    size_t nw = (size_t)lm->p.out * (size_t)lm->p.in;
    m->out = (Shape){lm->p.out, 1, 1};
    m->n_params = nw + (lm->p.bias ? (size_t)lm->p.out : 0);
    m->n_decay = nw;
    m->n_buffers = 0;
    m->ws_floats = 0;
    return 0;
}

static void linear_init(Module *m, Rng *rng)
{
    LinearModule *lm = (LinearModule *)m;
    size_t nw = (size_t)lm->p.out * (size_t)lm->p.in;
    size_t nb = lm->p.bias ? (size_t)lm->p.out : 0;
    float *w = m->w, *b = m->w + nw;
    double fan_in = (double)lm->p.in;
    switch (lm->p.init) {
    case INIT_TORCH_DEFAULT: {
        /* kaiming_uniform_(a = sqrt 5): gain sqrt(2 / 6), bound gain sqrt(3 / fan_in) */
        double bound = 1.0 / sqrt(fan_in);
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)(bound * (2.0 * rng_uniform(rng) - 1.0));
        for (size_t i = 0; i < nb; i++)
            b[i] = (float)(bound * (2.0 * rng_uniform(rng) - 1.0));
        break;
    }
    case INIT_HE_NORMAL:
    case INIT_HE_NORMAL_FAN_IN: {
        double std = sqrt(2.0 / fan_in);
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)(std * rng_normal(rng));
        for (size_t i = 0; i < nb; i++)
            b[i] = 0.0f;
        break;
    }
    case INIT_ZERO:
        for (size_t i = 0; i < nw + nb; i++)
            w[i] = 0.0f;
        break;
    case INIT_NORMAL_001:
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)(0.01 * rng_normal(rng));
        for (size_t i = 0; i < nb; i++)
            b[i] = 0.0f;
        break;
    }
}

static int linear_module_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    LinearModule *lm = (LinearModule *)m;
    int n;
    if (linear_check(m, x, NULL, &n, err) || module_set_output(m, n, err))
        return -1;
    const float *b = lm->p.bias ? m->w + (size_t)lm->p.out * (size_t)lm->p.in : NULL;
    linear_forward(m->y.data, x->data, m->w, b, n, &lm->p, ctx->nthreads);
    return 0;
}

static int linear_module_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx,
                                  Err *err)
{
    LinearModule *lm = (LinearModule *)m;
    int n;
    if (linear_check(m, x, dy, &n, err) || module_set_dx(m, n, err))
        return -1;
    float *db = lm->p.bias ? m->dw + (size_t)lm->p.out * (size_t)lm->p.in : NULL;
    linear_backward(ctx->no_dx ? NULL : m->dx.data, m->dw, db, dy->data, x->data, m->w, n,
                    &lm->p, ctx->nthreads);
    return 0;
}

static void linear_destroy(Module *m) { free(m); }

static const ModuleOps linear_ops = {"linear", linear_setup, linear_init, linear_module_forward,
                                     linear_module_backward, linear_destroy};

Module *linear_module_new(const LinearParams *p, Err *err)
{
    if (p->in < 1 || p->out < 1) {
        err_set(err, "linear: in = %d and out = %d, expected both >= 1", p->in, p->out);
        return NULL;
    }
    if (p->bias != 0 && p->bias != 1) {
        err_set(err, "linear: bias is %d, expected 0 or 1", p->bias);
        return NULL;
    }
    if (p->init != INIT_TORCH_DEFAULT && p->init != INIT_HE_NORMAL &&
        p->init != INIT_HE_NORMAL_FAN_IN && p->init != INIT_ZERO && p->init != INIT_NORMAL_001) {
        err_set(err, "linear: init scheme %d is unknown", (int)p->init);
        return NULL;
    }
    LinearModule *lm = calloc(1, sizeof *lm);
    if (!lm) {
        err_set(err, "linear: out of memory");
        return NULL;
    }
    lm->base.ops = &linear_ops;
    lm->p = *p;
    return &lm->base;
}
