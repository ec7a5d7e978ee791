/*
 * act.c: elementwise activations (ReLU, leaky ReLU, tanh, sigmoid) as modules.
 *
 * Any input shape; y and dx have the shape of x. Each kind has its own ModuleOps so that the
 * kind name ("relu", "leaky_relu", "tanh", "sigmoid") shows in error messages and in Lua.
 * Loops are OpenMP parallel over elements; no reductions, so the thread count never changes
 * the result.
 *
 * References: torch.nn.ReLU, LeakyReLU (negative_slope = 0.01), Tanh, Sigmoid (PyTorch 1.13);
 * backward conventions from ATen's threshold_backward and leaky_relu_backward.
 * Non-goals: in-place activations, PReLU's learnable slope.
 */
#include "nn/act.h"

#include <math.h>
#include <stdlib.h>

typedef struct ActModule {
    Module base;
    ActKind kind;
    float slope;
} ActModule;

/* ---- kernels -------------------------------------------------------------------------- */

void act_forward(float *y, const float *x, size_t count, ActKind kind, float slope,
                 int nthreads)
{
    switch (kind) {
    case ACT_RELU:
        /* written as "x <= 0" so that a NaN passes through (a divergence stays visible) */
#pragma omp parallel for simd num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] <= 0.0f ? 0.0f : x[i];
        break;
    case ACT_LEAKY_RELU:
#pragma omp parallel for simd num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < count; i++)
            y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
        break;
    case ACT_TANH:
#pragma omp parallel for simd num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < count; i++)
            y[i] = tanhf(x[i]);
        break;
    case ACT_SIGMOID:
        /* exp of a non-positive argument only, so large |x| neither overflows nor gives
         * inf / inf */
#pragma omp parallel for simd num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < count; i++) {
            float v = x[i];
            if (v >= 0.0f) {
                y[i] = 1.0f / (1.0f + expf(-v));
            } else {
                float e = expf(v);
                y[i] = e / (1.0f + e);
            }
        }
        break;
    }
}

void act_backward(float *dx, const float *dy, const float *x, const float *y, size_t count,
                  ActKind kind, float slope, int nthreads)
{
    switch (kind) {
    case ACT_RELU:
        /* y = max(x, 0)  =>  dx = dy where x > 0, else 0 (also at x = 0) */
#pragma omp parallel for simd num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < count; i++)
            dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case ACT_LEAKY_RELU:
        /* y = x > 0 ? x : slope x  =>  dx = x > 0 ? dy : slope dy */
#pragma omp parallel for simd num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < count; i++)
            dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * slope;
        break;
    case ACT_TANH:
        /* y = tanh x  =>  dx = dy (1 - y^2) */
#pragma omp parallel for simd num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < count; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case ACT_SIGMOID:
        /* y = 1 / (1 + exp(-x))  =>  dx = dy y (1 - y) */
#pragma omp parallel for simd num_threads(nthreads) schedule(static)
        for (size_t i = 0; i < count; i++)
            dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    }
}

/* ---- module --------------------------------------------------------------------------- */

static int act_module_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    ActModule *am = (ActModule *)m;
    int n;
    if (module_check_elementwise(m, x, NULL, &n, err))
        return -1;
    if (m->inplace) {
        int shape[4] = {n, m->out.c, m->out.h, m->out.w};
        m->y = tensor_view(x->data, 4, shape); /* net.c: the input is ours to overwrite */
    } else if (module_set_output(m, n, err)) {
        return -1;
    }
    act_forward(m->y.data, x->data, x->size, am->kind, am->slope, ctx->nthreads);
    return 0;
}

static int act_module_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    ActModule *am = (ActModule *)m;
    int n;
    if (module_check_elementwise(m, x, dy, &n, err))
        return -1;
    if (m->y.size != x->size)
        return err_set(err, "%s: backward for %zu elements but the last forward gave %zu",
                       m->ops->kind, x->size, m->y.size);
    if (module_set_dx(m, n, err))
        return -1;
    act_backward(m->dx.data, dy->data, x->data, m->y.data, x->size, am->kind, am->slope,
                 ctx->nthreads);
    return 0;
}

static void act_destroy(Module *m) { free(m); }

#define ACT_OPS(kind)                                                                           \
    {kind, module_setup_elementwise, module_init_none, act_module_forward, act_module_backward,  \
     act_destroy}
static const ModuleOps act_ops[] = {ACT_OPS("relu"), ACT_OPS("leaky_relu"), ACT_OPS("tanh"),
                                    ACT_OPS("sigmoid")};
#undef ACT_OPS

Module *act_module_new(ActKind kind, double slope, Err *err)
{
    if ((int)kind < (int)ACT_RELU || (int)kind > (int)ACT_SIGMOID) {
        err_set(err, "act: kind is %d, expected %d..%d (relu, leaky_relu, tanh, sigmoid)",
                (int)kind, (int)ACT_RELU, (int)ACT_SIGMOID);
        return NULL;
    }
    if (kind == ACT_LEAKY_RELU && !isfinite(slope)) {
        err_set(err, "leaky_relu: slope is %g, expected a finite number", slope);
        return NULL;
    }
    ActModule *am = calloc(1, sizeof *am);
    if (!am) {
        err_set(err, "%s: out of memory", act_ops[kind].kind);
        return NULL;
    }
    am->base.ops = &act_ops[kind];
    am->kind = kind;
    am->slope = kind == ACT_LEAKY_RELU ? (float)slope : 0.0f;
    return &am->base;
}
