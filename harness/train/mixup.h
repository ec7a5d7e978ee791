/*
 * mixup.h: mixup as a batch operation (Zhang et al. 2018, section 2; both official codes):
 *   lambda ~ Beta(alpha, alpha), one per batch (per example as an option);
 *   perm = random permutation of the batch;
 *   x~[n] = lambda x[n] + (1 - lambda) x[perm[n]]
 *   t~[n] = lambda onehot(y[n]) + (1 - lambda) onehot(y[perm[n]])
 * alpha = 0 is ERM: lambda = 1, no permutation is drawn, t~ is one-hot and x~ = x.
 * Draw order from rng (fixed, so runs repeat): lambda(s) first, then the permutation.
 */
#ifndef MIXUP_H
#define MIXUP_H

#include "core/rng.h"
#include "core/tensor.h"

typedef struct MixupParams {
    double alpha;        /* >= 0 */
    int per_example;     /* 1: one lambda per example */
    int n_classes;
} MixupParams;

/* x: (N, ...) inputs; label: N ints in [0, n_classes); xm: same shape as x, overwritten
 * (must not alias x); t: (N, n_classes) (or (N, n_classes, 1, 1)) soft targets, overwritten;
 * lam: N doubles out, the lambda used per example, for logging (optional, except with
 * per_example and alpha > 0); perm: N ints out, the partner of each example (optional when
 * alpha = 0; then the identity). Fails, naming the example and value, on a label out of range.
 * rng: the mixup stream; untouched when alpha = 0. */
int mixup_batch(Tensor *xm, Tensor *t, double *lam, int *perm, const Tensor *x, const int *label,
                const MixupParams *p, Rng *rng, Err *err);

#endif
