/*
 * batchnorm.c: batch normalisation (Ioffe and Szegedy 2015) with PyTorch's BatchNorm2d /
 * BatchNorm1d semantics; see batchnorm.h for the formulas.
 *
 * Layout: x and y are (N, C, HW); statistics are per channel over the M = N HW values.
 * Each channel is reduced by one thread, with double accumulators in a fixed order, so the
 * result is bit-identical for any thread count. The mean is taken first and the variance as
 * the mean of squared deviations (two passes), which stays accurate when |mean| >> std.
 *
 * Saved state (BNState): the per-channel mean and inv_std used by the last forward, in double
 * (one row per group with groups). Backward recomputes xhat = (x - mean) inv_std from the
 * forward's x instead of storing it.
 *
 * References: PyTorch aten/src/ATen/native/Normalization.cpp (batch_norm_cpu,
 * batch_norm_backward_cpu); nn's BatchNormalization.lua.
 * Non-goals: track_running_stats=False, cumulative moving average (momentum=None).
 */
#include "nn/batchnorm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct BNState {
    double *mean;     /* (groups, C) statistics of the last forward (batch in train, running in
                       * eval: one group) */
    double *inv_std;  /* (groups, C) 1 / sqrt(var + eps) of the last forward */
    int cap_groups;   /* groups the two arrays hold */
    double *run_sum;  /* (2 C) the groups' running-statistic updates, summed (groups only) */
    float *run_tmp;   /* (2 C) one group's update */
    int n;            /* batch of the last forward; 0 before any */
    int train;        /* mode of the last forward */
} BNState;

typedef struct BNModule {
    Module base;
    BatchNormParams p;
    BNState s;
} BNModule;

/* ---- kernels -------------------------------------------------------------------------- */

/* One channel's batch statistics: mu = sum(x) / M and sq = sum((x - mu)^2), M = n plane. xc is
 * the channel's plane of the first example, the next example's is `stride` floats on. */
static void channel_stats(const float *xc, size_t stride, int n, size_t plane, double m_count,
                          double *mu_out, double *sq_out)
{
    /* mean_B = sum(x) / M */
    double sum = 0.0;
    for (int k = 0; k < n; k++) {
        const float *xi = xc + (size_t)k * stride;
        double s = 0.0;
        /* simd: a fixed vector-lane order (deterministic) instead of one serial chain of
         * dependent double adds, which ran 4x slower than memory */
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < plane; i++)
            s += (double)xi[i];
        sum += s;
    }
    double mu = sum / m_count;
    /* var_B = sum((x - mean_B)^2) / M (biased, used to normalise) */
    double sq = 0.0;
    for (int k = 0; k < n; k++) {
        const float *xi = xc + (size_t)k * stride;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < plane; i++) {
            double d = (double)xi[i] - mu;
            s += d * d;
        }
        sq += s;
    }
    *mu_out = mu;
    *sq_out = sq;
}

/* One channel's mean and inv_std for the pass (train: from its batch statistics mu, sq, and
 * the running statistics move; eval: the running ones). */
static void channel_finish(double *mean, double *inv_std, float *running_mean,
                           float *running_var, double mu, double sq, double m_count, int train,
                           double eps, double momentum)
{
    if (train) {
        double var = sq / m_count;
        *mean = mu;
        *inv_std = 1.0 / sqrt(var + eps);
        /* running stats take the unbiased variance, as PyTorch does */
        double unbiased = sq / (m_count - 1.0);
        *running_mean = (float)((1.0 - momentum) * (double)*running_mean + momentum * mu);
        *running_var = (float)((1.0 - momentum) * (double)*running_var + momentum * unbiased);
    } else {
        *mean = (double)*running_mean;
        *inv_std = 1.0 / sqrt((double)*running_var + eps);
    }
}

/* y = (x - mean) * (gamma inv_std) + beta for one channel, then max(., 0) when relu (as
 * act.c's ReLU writes it: a NaN passes); y's examples are `ystride` apart, x's `xstride`. */
static void channel_apply(float *yc, size_t ystride, const float *xc, size_t xstride, int n,
                          size_t plane, double mean, double inv_std, const float *gamma,
                          const float *beta, int ch, int relu)
{
    double g = gamma ? (double)gamma[ch] : 1.0;
    float mf = (float)mean;
    float scale = (float)(g * inv_std);
    float shift = beta ? beta[ch] : 0.0f;
    for (int k = 0; k < n; k++) {
        const float *xi = xc + (size_t)k * xstride;
        float *yi = yc + (size_t)k * ystride;
        if (relu) {
#pragma omp simd
            for (size_t i = 0; i < plane; i++) {
                float v = (xi[i] - mf) * scale + shift;
                yi[i] = v <= 0.0f ? 0.0f : v;
            }
        } else {
#pragma omp simd
            for (size_t i = 0; i < plane; i++)
                yi[i] = (xi[i] - mf) * scale + shift;
        }
    }
}

void batchnorm_forward(float *y, const float *x, const float *gamma, const float *beta,
                       double *mean, double *inv_std, float *running_mean, float *running_var,
                       int n, int c, int hw, int train, double eps, double momentum,
                       int nthreads)
{
    size_t plane = (size_t)hw, stride = (size_t)c * plane;
    double m_count = (double)n * (double)hw;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int ch = 0; ch < c; ch++) {
        const float *xc = x + (size_t)ch * plane;
        double mu = 0.0, sq = 0.0;
        if (train)
            channel_stats(xc, stride, n, plane, m_count, &mu, &sq);
        channel_finish(&mean[ch], &inv_std[ch], &running_mean[ch], &running_var[ch], mu, sq,
                       m_count, train, eps, momentum);
        channel_apply(y + (size_t)ch * plane, stride, xc, stride, n, plane, mean[ch],
                      inv_std[ch], gamma, beta, ch, 0);
    }
}

void batchnorm_stats(double *mu, double *sq, const float *x, size_t x_stride, int n, int c,
                     int hw, int nthreads)
{
    size_t plane = (size_t)hw;
    double m_count = (double)n * (double)hw;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int ch = 0; ch < c; ch++)
        channel_stats(x + (size_t)ch * plane, x_stride, n, plane, m_count, &mu[ch], &sq[ch]);
}

void batchnorm_finish(double *mean, double *inv_std, float *running_mean, float *running_var,
                      const double *mu, const double *sq, int n, int c, int hw, int train,
                      double eps, double momentum)
{
    double m_count = (double)n * (double)hw;
    for (int ch = 0; ch < c; ch++)
        channel_finish(&mean[ch], &inv_std[ch], &running_mean[ch], &running_var[ch],
                       train ? mu[ch] : 0.0, train ? sq[ch] : 0.0, m_count, train, eps,
                       momentum);
}

void batchnorm_apply(float *y, const float *x, size_t x_stride, const float *gamma,
                     const float *beta, const double *mean, const double *inv_std, int n,
                     int c, int hw, int relu, int nthreads)
{
    size_t plane = (size_t)hw;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int ch = 0; ch < c; ch++)
        channel_apply(y + (size_t)ch * plane, (size_t)c * plane, x + (size_t)ch * plane,
                      x_stride, n, plane, mean[ch], inv_std[ch], gamma, beta, ch, relu);
}

/* The backward of one channel. dy counts only where relu_out > 0 when relu_out is given (the
 * gradient through a ReLU that followed the BN, as act.c's backward masks it); dy, relu_out
 * and dx have examples `stride` apart, x `xstride`. dx may be dy (each value is read before
 * it is written). */
static void channel_backward(float *dxc, const float *dyc, const float *rc, size_t stride,
                             const float *xc, size_t xstride, float *dgamma, float *dbeta,
                             const float *gamma, double mean, double is, int ch, int n,
                             size_t plane, int train)
{
    if (rc) {
        /* y = max(bn, 0)  =>  d bn = dy where y > 0, else 0, into dx first: the channel then
         * stays in cache for the passes below (a select inside their double reductions
         * kept them from vectorising) */
        for (int k = 0; k < n; k++) {
            const float *dyi = dyc + (size_t)k * stride, *ri = rc + (size_t)k * stride;
            float *dxi = dxc + (size_t)k * stride;
#pragma omp simd
            for (size_t i = 0; i < plane; i++)
                dxi[i] = ri[i] > 0.0f ? dyi[i] : 0.0f;
        }
        dyc = dxc;
    }
    double m_count = (double)n * (double)plane;
    float mf = (float)mean;
    /* y = xhat gamma + beta  =>  dbeta = sum(dy), dgamma = sum(dy xhat) */
    double sum_dy = 0.0, sum_dy_xc = 0.0;
    for (int k = 0; k < n; k++) {
        const float *xi = xc + (size_t)k * xstride;
        const float *dyi = dyc + (size_t)k * stride;
        double s1 = 0.0, s2 = 0.0;
#pragma omp simd reduction(+ : s1, s2)
        for (size_t i = 0; i < plane; i++) {
            s1 += (double)dyi[i];
            s2 += (double)dyi[i] * (double)(xi[i] - mf);
        }
        sum_dy += s1;
        sum_dy_xc += s2;
    }
    double sum_dy_xhat = sum_dy_xc * is;
    if (dgamma)
        dgamma[ch] += (float)sum_dy_xhat;
    if (dbeta)
        dbeta[ch] += (float)sum_dy;
    double g = gamma ? (double)gamma[ch] : 1.0;
    float k1 = (float)(g * is);
    if (train) {
        /* xhat = (x - mean_B) inv_std, with mean_B and var_B functions of x:
         * dx = gamma inv_std / M * (M dy - sum(dy) - xhat sum(dy xhat)) */
        float mean_dy = (float)(sum_dy / m_count);
        float k2 = (float)(is * sum_dy_xhat / m_count); /* xhat's inv_std folded in */
        for (int k = 0; k < n; k++) {
            const float *xi = xc + (size_t)k * xstride;
            const float *dyi = dyc + (size_t)k * stride;
            float *dxi = dxc + (size_t)k * stride;
#pragma omp simd
            for (size_t i = 0; i < plane; i++)
                dxi[i] = k1 * (dyi[i] - mean_dy - (xi[i] - mf) * k2);
        }
    } else {
        /* eval: mean and inv_std are constants, so y is affine in x: dx = dy gamma inv_std */
        for (int k = 0; k < n; k++) {
            const float *dyi = dyc + (size_t)k * stride;
            float *dxi = dxc + (size_t)k * stride;
#pragma omp simd
            for (size_t i = 0; i < plane; i++)
                dxi[i] = k1 * dyi[i];
        }
    }
}

void batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                        const float *gamma, const double *mean, const double *inv_std, int n,
                        int c, int hw, int train, int nthreads)
{
    size_t plane = (size_t)hw, stride = (size_t)c * plane;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int ch = 0; ch < c; ch++) {
        size_t o = (size_t)ch * plane;
        channel_backward(dx + o, dy + o, NULL, stride, x + o, stride, dgamma, dbeta, gamma,
                         mean[ch], inv_std[ch], ch, n, plane, train);
    }
}

void batchnorm_backward_relu(float *dx, float *dgamma, float *dbeta, const float *dy,
                             const float *relu_out, const float *x, size_t x_stride,
                             const float *gamma, const double *mean, const double *inv_std,
                             int n, int c, int hw, int train, int nthreads)
{
    size_t plane = (size_t)hw, stride = (size_t)c * plane;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int ch = 0; ch < c; ch++) {
        size_t o = (size_t)ch * plane;
        channel_backward(dx + o, dy + o, relu_out + o, stride, x + o, x_stride, dgamma, dbeta,
                         gamma, mean[ch], inv_std[ch], ch, n, plane, train);
    }
}

/* ---- module --------------------------------------------------------------------------- */

/* Checks x (and dy when given) against the module; fills *n. Called first by forward and
 * backward. */
static int batchnorm_check(const Module *m, const Tensor *x, const Tensor *dy, const char *fn,
                           int *n, Err *err)
{
    const BNModule *bn = (const BNModule *)m;
    char buf[64];
    if (x->ndim >= 2 && x->shape[0] >= 1) {
        Shape s = tensor_example_shape(x);
        if (s.c != bn->p.channels)
            return err_set(err, "%s: input has %d channels, expected %d", fn, s.c,
                           bn->p.channels);
    }
    if (module_check_input(m, x, n, err))
        return -1;
    if (dy && (dy->size != x->size || !shape_eq(tensor_example_shape(dy), m->out)))
        return err_set(err, "%s: dy is %s, expected (%d, %d, %d, %d)", fn,
                       tensor_shape_str(dy, buf, sizeof buf), *n, m->out.c, m->out.h, m->out.w);
    return 0;
}

static int bn_setup(Module *m, Err *err)
{
    BNModule *bn = (BNModule *)m;
    if (m->in.c != bn->p.channels)
        return err_set(err, "batchnorm: input has %d channels, expected %d", m->in.c,
                       bn->p.channels);
    size_t c = (size_t)bn->p.channels;
    m->out = m->in;
    m->n_params = bn->p.affine ? 2 * c : 0;
    m->n_decay = 0; /* gamma and beta are exempt under decay exclusion */
    m->n_buffers = 2 * c;
    m->ws_floats = 0;
    return 0;
}

static void bn_init(Module *m, Rng *rng)
{
    (void)rng;
    const BNModule *bn = (const BNModule *)m;
    size_t c = (size_t)bn->p.channels;
    for (size_t i = 0; i < c; i++) {
        if (m->w) {
            m->w[i] = bn->p.zero_gamma ? 0.0f : 1.0f;
            m->w[c + i] = 0.0f;
        }
        m->buf[i] = 0.0f;
        m->buf[c + i] = 1.0f;
    }
}

/* Groups of a training batch of n (1 in evaluation or without groups). */
static int bn_groups(const BNModule *bn, int n, int train)
{
    int g = bn->p.group;
    return (train && g > 0 && g < n) ? (n + g - 1) / g : 1;
}

/* Examples in group g of `groups` over a batch of n (the last one holds the rest). */
static int bn_group_size(const BNModule *bn, int g, int groups, int n)
{
    return groups == 1 ? n : g < groups - 1 ? bn->p.group : n - g * bn->p.group;
}

/* Grows the saved statistics to `groups` rows of C (only past the largest batch seen). */
static int bn_reserve(BNModule *bn, int groups, Err *err)
{
    if (groups <= bn->s.cap_groups)
        return 0;
    size_t c = (size_t)bn->p.channels;
    double *mean = realloc(bn->s.mean, (size_t)groups * c * sizeof(double));
    if (mean)
        bn->s.mean = mean;
    double *inv = mean ? realloc(bn->s.inv_std, (size_t)groups * c * sizeof(double)) : NULL;
    if (inv)
        bn->s.inv_std = inv;
    if (!mean || !inv)
        return err_set(err, "batchnorm: out of memory for %d groups of %zu channels", groups, c);
    bn->s.cap_groups = groups;
    return 0;
}

static int bn_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    BNModule *bn = (BNModule *)m;
    int n, c = bn->p.channels, hw = m->in.h * m->in.w;
    if (batchnorm_check(m, x, NULL, "batchnorm_forward", &n, err))
        return -1;
    char buf[64];
    int groups = bn_groups(bn, n, ctx->train);
    int last = bn_group_size(bn, groups - 1, groups, n);
    if (ctx->train && (long long)last * hw <= 1)
        return err_set(err, "batchnorm_forward: expected more than 1 value per channel %swhen "
                            "training, got input %s", groups > 1 ? "in every group " : "",
                       tensor_shape_str(x, buf, sizeof buf));
    if (module_set_output(m, n, err) || bn_reserve(bn, groups, err))
        return -1;
    const float *gamma = m->w, *beta = m->w ? m->w + c : NULL;
    bn->s.n = 0; /* invalid until the forward completes */
    if (groups == 1) {
        batchnorm_forward(m->y.data, x->data, gamma, beta, bn->s.mean, bn->s.inv_std, m->buf,
                          m->buf + c, n, c, hw, ctx->train, bn->p.eps, bn->p.momentum,
                          ctx->nthreads);
    } else {
        /* each group from the same running statistics; they then move by the mean update */
        size_t ex = (size_t)c * (size_t)hw;
        memset(bn->s.run_sum, 0, 2 * (size_t)c * sizeof(double));
        for (int g = 0; g < groups; g++) {
            int ng = bn_group_size(bn, g, groups, n);
            size_t off = (size_t)g * (size_t)bn->p.group * ex;
            memcpy(bn->s.run_tmp, m->buf, 2 * (size_t)c * sizeof(float));
            batchnorm_forward(m->y.data + off, x->data + off, gamma, beta,
                              bn->s.mean + (size_t)g * c, bn->s.inv_std + (size_t)g * c,
                              bn->s.run_tmp, bn->s.run_tmp + c, ng, c, hw, 1, bn->p.eps,
                              bn->p.momentum, ctx->nthreads);
            for (int i = 0; i < 2 * c; i++)
                bn->s.run_sum[i] += (double)bn->s.run_tmp[i];
        }
        for (int i = 0; i < 2 * c; i++)
            m->buf[i] = (float)(bn->s.run_sum[i] / groups);
    }
    bn->s.n = n;
    bn->s.train = ctx->train;
    return 0;
}

static int bn_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx, Err *err)
{
    BNModule *bn = (BNModule *)m;
    int n, c = bn->p.channels, hw = m->in.h * m->in.w;
    if (batchnorm_check(m, x, dy, "batchnorm_backward", &n, err))
        return -1;
    if (bn->s.n != n)
        return err_set(err, "batchnorm_backward: last forward had batch %d, backward has %d",
                       bn->s.n, n);
    if (bn->s.train != ctx->train)
        return err_set(err, "batchnorm_backward: forward ran in %s mode, backward in %s mode",
                       bn->s.train ? "train" : "eval", ctx->train ? "train" : "eval");
    if (module_set_dx(m, n, err))
        return -1;
    float *dgamma = m->dw, *dbeta = m->dw ? m->dw + c : NULL;
    int groups = bn_groups(bn, n, bn->s.train);
    size_t ex = (size_t)c * (size_t)hw;
    for (int g = 0; g < groups; g++) {
        int ng = bn_group_size(bn, g, groups, n);
        size_t off = groups == 1 ? 0 : (size_t)g * (size_t)bn->p.group * ex;
        batchnorm_backward(m->dx.data + off, dgamma, dbeta, dy->data + off, x->data + off, m->w,
                           bn->s.mean + (size_t)g * c, bn->s.inv_std + (size_t)g * c, ng, c, hw,
                           bn->s.train, ctx->nthreads);
    }
    return 0;
}

static void bn_destroy(Module *m)
{
    BNModule *bn = (BNModule *)m;
    free(bn->s.mean);
    free(bn->s.inv_std);
    free(bn->s.run_sum);
    free(bn->s.run_tmp);
    free(bn);
}

static const ModuleOps bn_ops = {"batchnorm", bn_setup, bn_init, bn_forward, bn_backward,
                                 bn_destroy};

Module *batchnorm_module_new(const BatchNormParams *p, Err *err)
{
    if (p->channels < 1) {
        err_set(err, "batchnorm: channels is %d, expected >= 1", p->channels);
        return NULL;
    }
    if (!(p->eps > 0.0) || !isfinite(p->eps)) {
        err_set(err, "batchnorm: eps is %g, expected a finite value > 0", p->eps);
        return NULL;
    }
    if (!(p->momentum >= 0.0 && p->momentum <= 1.0)) {
        err_set(err, "batchnorm: momentum is %g, expected 0..1", p->momentum);
        return NULL;
    }
    if (p->affine != 0 && p->affine != 1) {
        err_set(err, "batchnorm: affine is %d, expected 0 or 1", p->affine);
        return NULL;
    }
    if (p->group < 0) {
        err_set(err, "batchnorm: group is %d, expected >= 0 (0: the whole batch)", p->group);
        return NULL;
    }
    if ((p->zero_gamma != 0 && p->zero_gamma != 1) || (p->zero_gamma && !p->affine)) {
        err_set(err, "batchnorm: zero_gamma is %d with affine %d, expected 0, or 1 with affine",
                p->zero_gamma, p->affine);
        return NULL;
    }
    BNModule *bn = calloc(1, sizeof *bn);
    if (bn) {
        bn->s.mean = calloc((size_t)p->channels, sizeof(double));
        bn->s.inv_std = calloc((size_t)p->channels, sizeof(double));
        bn->s.cap_groups = 1;
        bn->s.run_sum = calloc(2 * (size_t)p->channels, sizeof(double));
        bn->s.run_tmp = calloc(2 * (size_t)p->channels, sizeof(float));
    }
    if (!bn || !bn->s.mean || !bn->s.inv_std || !bn->s.run_sum || !bn->s.run_tmp) {
        if (bn)
            bn_destroy(&bn->base);
        err_set(err, "batchnorm: out of memory for %d channels", p->channels);
        return NULL;
    }
    bn->base.ops = &bn_ops;
    bn->p = *p;
    return &bn->base;
}
