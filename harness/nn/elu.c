/*
 * elu.c: the ELU activation as a module (elu.h has the definition).
 *
 * Any input shape; y and dx have the shape of x. The negative branch uses expm1f, which keeps
 * full relative precision for x near 0 where exp(x) - 1 would cancel.
 *
 * References: torch.nn.ELU (alpha = 1.0) and ATen's elu_backward (is_result = false), PyTorch
 * 1.13. Non-goals: in-place ELU (which differentiates from y), SELU and CELU.
 */
#include "nn/elu.h"

#include <math.h>
#include <stdlib.h>

typedef struct EluModule {
    Module base;
    float alpha;
} EluModule;

/* ---- kernels -------------------------------------------------------------------------- */

void elu_forward(float *y, const float *x, size_t count, float alpha, int nthreads)
{
    /* written as "x > 0 ? x : ..." so that a NaN takes the second branch and stays NaN */
#pragma omp parallel for simd num_threads(nthreads) schedule(static)
    for (size_t i = 0; i < count; i++)
        y[i] = x[i] > 0.0f ? x[i] : alpha * expm1f(x[i]);
}

void elu_backward(float *dx, const float *dy, const float *x, size_t count, float alpha,
                  int nthreads)
{
    /* y = x > 0 ? x : alpha (exp(x) - 1)  =>  dx = x > 0 ? dy : dy alpha exp(x) */
#pragma omp parallel for simd num_threads(nthreads) schedule(static)
    for (size_t i = 0; i < count; i++)
        dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * alpha * expf(x[i]);
}

/* ---- module --------------------------------------------------------------------------- */

static int elu_module_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    int n;
    if (module_check_elementwise(m, x, NULL, &n, err) || module_set_output(m, n, err))
        return -1;
    elu_forward(m->y.data, x->data, x->size, ((EluModule *)m)->alpha, ctx->nthreads);
    return 0;
}

static int elu_module_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx,
                               Err *err)
{
    int n;
    if (module_check_elementwise(m, x, dy, &n, err) || module_set_dx(m, n, err))
        return -1;
    elu_backward(m->dx.data, dy->data, x->data, x->size, ((EluModule *)m)->alpha,
                 ctx->nthreads);
    return 0;
}

static void elu_destroy(Module *m) { free(m); }

static const ModuleOps elu_ops = {"elu", module_setup_elementwise, module_init_none,
                                  elu_module_forward, elu_module_backward, elu_destroy};

Module *elu_module_new(const EluParams *p, Err *err)
{
    if (!isfinite(p->alpha)) {
        err_set(err, "elu: alpha is %g, expected a finite number", p->alpha);
        return NULL;
    }
    EluModule *em = calloc(1, sizeof *em);
    if (!em) {
        err_set(err, "elu: out of memory");
        return NULL;
    }
    em->base.ops = &elu_ops;
    em->alpha = (float)p->alpha;
    return &em->base;
}
