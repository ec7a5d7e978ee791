/*
 * batchnorm.h: batch normalisation over (N, H, W) per channel, training and evaluation modes.
 *
 * PyTorch semantics (torch.nn.BatchNorm2d / BatchNorm1d on (N, C)):
 *   train: y = (x - mean_B) / sqrt(var_B + eps) * gamma + beta with the biased batch variance;
 *          running = (1 - momentum) * running + momentum * stat, where the running variance
 *          takes the UNBIASED batch variance (var_B * M / (M - 1), M = N H W).
 *   eval:  y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
 * Initial state: gamma 1, beta 0, running mean 0, running variance 1.
 * Params: [gamma (C), beta (C)]; buffers: [running_mean (C), running_var (C)].
 *
 * Groups (group = G > 0): in training the batch is cut into consecutive groups of G examples
 * (the last one may be smaller), each normalised by its own statistics, as G examples per
 * worker in data-parallel training (Goyal et al. 2017: 32 per worker); the running statistics
 * move by the mean over the groups of what each group's update would be, which is what
 * averaging the workers' running statistics gives (the update is linear). Backward is each
 * group's own; dgamma and dbeta add the groups' sums in group order. G = 0, or G >= N, is the
 * whole batch. Evaluation does not depend on G.
 */
#ifndef BATCHNORM_H
#define BATCHNORM_H

#include "nn/module.h"

/* Defaults: torch.nn.BatchNorm2d's (eps=1e-5, momentum=0.1, affine=True). */
#define BN_DEFAULT_EPS 1e-5
#define BN_DEFAULT_MOMENTUM 0.1
#define BN_DEFAULT_AFFINE 1

typedef struct BatchNormParams {
    int channels;
    double eps;       /* BN_DEFAULT_EPS */
    double momentum;  /* BN_DEFAULT_MOMENTUM (weight of the new batch statistic) */
    int affine;       /* 1: learn gamma and beta */
    int group;        /* examples per normalisation group in training; 0: the whole batch */
    int zero_gamma;   /* 1: gamma starts at 0 instead of 1 (Goyal et al.'s last BN of each
                       * residual block, so that every block starts as its shortcut) */
} BatchNormParams;

/* Returns NULL and fills err when the params are invalid (channels < 1, eps <= 0, momentum
 * outside [0, 1], affine or zero_gamma not 0/1, zero_gamma without affine, group < 0). The
 * input's channel count must equal p->channels. */
Module *batchnorm_module_new(const BatchNormParams *p, Err *err);

/* Kernels on raw arrays, parallel over channels (each channel is reduced by one thread, in a
 * fixed order and in double, so results do not depend on the thread count).
 * Shapes: x, y, dx, dy (N, C, HW) with HW = H W (1 for BatchNorm1d on (N, C));
 * gamma, beta, dgamma, dbeta, running_mean, running_var, mean, inv_std (C).
 *
 * batchnorm_forward: y [OUT]; x [IN]; gamma, beta [IN, OPTIONAL: NULL when affine is off];
 *   mean, inv_std [OUT]: the statistics used, saved for backward (train: batch mean and
 *   1 / sqrt(biased batch variance + eps); eval: the running ones);
 *   running_mean, running_var [IN/OUT]: updated in training, read in evaluation.
 *   Training requires N HW > 1 (the unbiased variance divides by N HW - 1).
 * batchnorm_backward: dx [OUT, overwritten]; dgamma, dbeta [ACCUMULATED, OPTIONAL]; dy [IN];
 *   x [IN]: the forward's input; gamma [IN, OPTIONAL]; mean, inv_std [IN]: from the forward;
 *   train: the forward's mode (train: full batch-statistics gradient; eval: dy gamma inv_std). */
void batchnorm_forward(float *y, const float *x, const float *gamma, const float *beta,
                       double *mean, double *inv_std, float *running_mean, float *running_var,
                       int n, int c, int hw, int train, double eps, double momentum,
                       int nthreads);
void batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                        const float *gamma, const double *mean, const double *inv_std, int n,
                        int c, int hw, int train, int nthreads);

/* The same passes one by one, for a caller that normalises channels of a larger buffer and
 * shares statistics between layers (dense.c: every layer of a dense block normalises the
 * block's earlier channels, whose batch statistics are the same for all of them). Each gives
 * the bits that batchnorm_forward / batchnorm_backward give on the same values. x may be a
 * channel prefix of a wider batch: its examples are x_stride floats apart (c HW when it is
 * the whole of (N, C, HW)); y, dx, dy and relu_out are (N, C, HW).
 * batchnorm_stats: mu, sq [OUT] (C): per channel the batch mean and the sum of squared
 *   deviations from it (N HW > 1 values).
 * batchnorm_finish: mean, inv_std [OUT] (C) as batchnorm_forward saves them; train: from mu
 *   and sq, the running statistics updated; eval: from the running statistics (mu, sq unread,
 *   may be NULL).
 * batchnorm_apply: y = (x - mean) gamma inv_std + beta, then y = max(y, 0) when relu (act.h's
 *   ReLU: a NaN passes).
 * batchnorm_backward_relu: batchnorm_backward of the BN whose output went through a ReLU:
 *   the upstream gradient is dy where relu_out > 0 and 0 elsewhere (act.h's ReLU backward);
 *   dx may be dy. */
void batchnorm_stats(double *mu, double *sq, const float *x, size_t x_stride, int n, int c,
                     int hw, int nthreads);
void batchnorm_finish(double *mean, double *inv_std, float *running_mean, float *running_var,
                      const double *mu, const double *sq, int n, int c, int hw, int train,
                      double eps, double momentum);
void batchnorm_apply(float *y, const float *x, size_t x_stride, const float *gamma,
                     const float *beta, const double *mean, const double *inv_std, int n,
                     int c, int hw, int relu, int nthreads);
void batchnorm_backward_relu(float *dx, float *dgamma, float *dbeta, const float *dy,
                             const float *relu_out, const float *x, size_t x_stride,
                             const float *gamma, const double *mean, const double *inv_std,
                             int n, int c, int hw, int train, int nthreads);

#endif
