/*
 * mix.h: latent mixup as a layer (the ICLR version's ablation, "mixing in higher layers": the
 * hidden representation before a residual stage, or before the final pooling, is mixed
 * instead of the input; /work/shared/paper/PAPER_FACTS.md section 9). For a batch of n
 * examples with the plan (lam, perm) of ctx->mix:
 *   y[i] = a_i h[i] + b_i h[perm[i]],   a_i = (float)lam[i], b_i = (float)(1 - lam[i])
 *   dh[j] = a_j dy[j] + sum over i with perm[i] = j, in increasing i, of b_i dy[i]
 * with the arithmetic of input mixup (train/mixup.c: float coefficients, float products), so
 * a mix module in front of a net is input mixup bit for bit. perm need not be a permutation.
 * In evaluation, or in training without a plan (ERM), it is the identity (a copy).
 * The plan's n must equal the batch's; a backward must follow its own forward (the module
 * remembers whether it mixed).
 */
#ifndef MIX_H
#define MIX_H

#include <stddef.h>

#include "nn/module.h"

Module *mix_module_new(Err *err);

/* Kernels (no checks). y, x: (n, d); lam, perm: n. */
void mix_forward(float *y, const float *x, const double *lam, const int *perm, int n, size_t d,
                 int nthreads);
/* dx, dy: (n, d); dx overwritten. */
void mix_backward(float *dx, const float *dy, const double *lam, const int *perm, int n,
                  size_t d, int nthreads);

#endif
