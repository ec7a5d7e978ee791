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
 */
#ifndef BATCHNORM_H
#define BATCHNORM_H

#include "module.h"

typedef struct BatchNormParams {
    int channels;
    double eps;       /* PyTorch default 1e-5 */
    double momentum;  /* PyTorch default 0.1 (weight of the new batch statistic) */
    int affine;       /* 1: learn gamma and beta */
} BatchNormParams;

Module *batchnorm_module_new(const BatchNormParams *p, Err *err);

#endif
