/*
 * dropout.c: inverted dropout (Srivastava et al. 2014, scaled at training time as
 * torch.nn.Dropout does), as a module.
 *
 * Any input shape; y and dx have the shape of x. The mask is a float per element holding 0 or
 * 1 / (1 - p), drawn sequentially from ctx->rng (reproducible, thread-count independent) and
 * kept in the module's state for backward. Its memory is reserved for the module's batch
 * capacity on the first training forward, so a steady-state pass allocates nothing.
 *
 * Reference: https://pytorch.org/docs/1.13/generated/torch.nn.Dropout.html (masks differ
 * from PyTorch's, which uses its own generator; the distribution is the same).
 * Non-goals: spatial (channel) dropout, in-place operation.
 */
#include "nn/dropout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct DropoutModule {
    Module base;
    double p;
    Tensor mask;   /* (N, in) of the last training forward: 0 or 1 / (1 - p) */
    int masked;    /* 1 when the last forward applied the mask (training with p > 0) */
} DropoutModule;

/* ---- kernels -------------------------------------------------------------------------- */

void dropout_mask(float *mask, size_t count, double p, Rng *rng)
{
    float scale = (float)(1.0 / (1.0 - p));
    /* sequential on purpose: element i always gets the i-th draw of the stream */
    for (size_t i = 0; i < count; i++)
        mask[i] = rng_uniform(rng) < p ? 0.0f : scale;
}

void dropout_forward(float *y, const float *x, const float *mask, size_t count, int nthreads)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] * mask[i];
}

void dropout_backward(float *dx, const float *dy, const float *mask, size_t count,
                      int nthreads)
{
    if (!mask) {
        memcpy(dx, dy, count * sizeof(float));
        return;
    }
    /* y = x * mask  =>  dx = dy * mask */
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (size_t i = 0; i < count; i++)
        dx[i] = dy[i] * mask[i];
}

/* ---- module --------------------------------------------------------------------------- */

static int dropout_module_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    DropoutModule *dm = (DropoutModule *)m;
    int n;
    dm->masked = 0;
    if (module_check_elementwise(m, x, NULL, &n, err) || module_set_output(m, n, err))
        return -1;
    if (!ctx->train || dm->p == 0.0) {
        memcpy(m->y.data, x->data, x->size * sizeof(float));
        return 0;
    }
    if (!ctx->rng)
        return err_set(err, "dropout: training with p = %g needs an rng, but ctx->rng is NULL",
                       dm->p);
    /* the batch capacity (m->y's), so later batches up to it allocate nothing */
    size_t cap = m->y.cap > x->size ? m->y.cap : x->size;
    if (tensor_reserve(&dm->mask, cap, err) || tensor_reshape(&dm->mask, x->ndim, x->shape, err))
        return err_prefix(err, "dropout");
    dropout_mask(dm->mask.data, x->size, dm->p, ctx->rng);
    dropout_forward(m->y.data, x->data, dm->mask.data, x->size, ctx->nthreads);
    dm->masked = 1;
    return 0;
}

static int dropout_module_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx,
                                   Err *err)
{
    DropoutModule *dm = (DropoutModule *)m;
    int n;
    if (module_check_elementwise(m, x, dy, &n, err))
        return -1;
    if (dm->masked && dm->mask.size != x->size)
        return err_set(err, "dropout: backward for %zu elements but the mask of the last "
                            "forward has %zu", x->size, dm->mask.size);
    if (module_set_dx(m, n, err))
        return -1;
    dropout_backward(m->dx.data, dy->data, dm->masked ? dm->mask.data : NULL, x->size,
                     ctx->nthreads);
    return 0;
}

static void dropout_destroy(Module *m)
{
    tensor_free(&((DropoutModule *)m)->mask);
    free(m);
}

static const ModuleOps dropout_ops = {"dropout", module_setup_elementwise, module_init_none,
                                      dropout_module_forward, dropout_module_backward,
                                      dropout_destroy};

Module *dropout_module_new(double p, Err *err)
{
    if (!(p >= 0.0 && p < 1.0)) {
        err_set(err, "dropout: p is %g, expected 0 <= p < 1", p);
        return NULL;
    }
    DropoutModule *dm = calloc(1, sizeof *dm);
    if (!dm) {
        err_set(err, "dropout: out of memory");
        return NULL;
    }
    dm->base.ops = &dropout_ops;
    dm->p = p;
    return &dm->base;
}
