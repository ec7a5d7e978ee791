/*
 * mix.c: the mix module (see mix.h): latent mixup, Verma et al.'s "manifold mixup" at one
 * fixed layer, as the mixup paper's ablation runs it (one lambda per batch, partners a random
 * permutation of the batch, targets mixed by train/mixup.c with the same lambda and pairs).
 *
 * Backward scatters: the gradient of row j collects its own share a_j dy[j] and the share
 * b_i dy[i] of every row i that took j as partner, added in increasing i (a fixed order, so
 * the result does not depend on the thread count; threads split the elements of a row).
 * Non-goals: drawing lambda or the pairs (train/mixup.c does, with the targets), mixing at a
 * random layer per batch (manifold mixup's schedule).
 */
#include "nn/mix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct MixModule {
    Module base;
    int mixed;   /* 1 when the last forward applied a plan */
} MixModule;

/* ---- kernels -------------------------------------------------------------------------- */

void mix_forward(float *y, const float *x, const double *lam, const int *perm, int n, size_t d,
                 int nthreads)
{
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int i = 0; i < n; i++) {
        const float a = (float)lam[i], b = (float)(1.0 - lam[i]);
        const float *xa = x + (size_t)i * d, *xb = x + (size_t)perm[i] * d;
        float *yi = y + (size_t)i * d;
        for (size_t j = 0; j < d; j++)
            yi[j] = a * xa[j] + b * xb[j];
    }
}

void mix_backward(float *dx, const float *dy, const double *lam, const int *perm, int n,
                  size_t d, int nthreads)
{
    /* own share: dx[j] = a_j dy[j] */
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int i = 0; i < n; i++) {
        const float a = (float)lam[i];
        const float *g = dy + (size_t)i * d;
        float *o = dx + (size_t)i * d;
        for (size_t j = 0; j < d; j++)
            o[j] = a * g[j];
    }
    /* partners' shares: dx[perm[i]] += b_i dy[i], rows in increasing i */
    for (int i = 0; i < n; i++) {
        const float b = (float)(1.0 - lam[i]);
        const float *g = dy + (size_t)i * d;
        float *o = dx + (size_t)perm[i] * d;
#pragma omp parallel for num_threads(nthreads) schedule(static)
        for (size_t j = 0; j < d; j++)
            o[j] += b * g[j];
    }
}

/* ---- module --------------------------------------------------------------------------- */

static int plan_check(const MixPlan *p, int n, Err *err)
{
    if (p->n != n)
        return err_set(err, "mix: the plan is for a batch of %d but the input has %d examples",
                       p->n, n);
    for (int i = 0; i < n; i++) {
        if (p->perm[i] < 0 || p->perm[i] >= n)
            return err_set(err, "mix: example %d has partner %d, expected 0..%d", i, p->perm[i],
                           n - 1);
        if (!isfinite(p->lam[i]))
            return err_set(err, "mix: example %d has lambda %g, expected a finite value", i,
                           p->lam[i]);
    }
    return 0;
}

static int mix_module_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    MixModule *mm = (MixModule *)m;
    int n;
    mm->mixed = 0;
    if (module_check_elementwise(m, x, NULL, &n, err) || module_set_output(m, n, err))
        return -1;
    if (!ctx->train || !ctx->mix) {
        memcpy(m->y.data, x->data, x->size * sizeof(float));
        return 0;
    }
    if (plan_check(ctx->mix, n, err))
        return -1;
    mix_forward(m->y.data, x->data, ctx->mix->lam, ctx->mix->perm, n, x->size / (size_t)n,
                ctx->nthreads);
    mm->mixed = 1;
    return 0;
}

static int mix_module_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    MixModule *mm = (MixModule *)m;
    int n;
    if (module_check_elementwise(m, x, dy, &n, err) || module_set_dx(m, n, err))
        return -1;
    if (!mm->mixed) {
        memcpy(m->dx.data, dy->data, dy->size * sizeof(float));
        return 0;
    }
    if (!ctx->mix)
        return err_set(err, "mix: the last forward mixed but backward has no plan");
    if (plan_check(ctx->mix, n, err))
        return -1;
    mix_backward(m->dx.data, dy->data, ctx->mix->lam, ctx->mix->perm, n, x->size / (size_t)n,
                 ctx->nthreads);
    return 0;
}

static void mix_destroy(Module *m) { free(m); }

static const ModuleOps mix_ops = {"mix", module_setup_elementwise, module_init_none,
                                  mix_module_forward, mix_module_backward, mix_destroy};

Module *mix_module_new(Err *err)
{
    MixModule *mm = calloc(1, sizeof *mm);
    if (!mm) {
        err_set(err, "mix: out of memory");
        return NULL;
    }
    mm->base.ops = &mix_ops;
    return &mm->base;
}
