/*
 * mixup.h: mixup as a batch operation (Zhang et al. 2018, section 2; both official codes):
 *   lambda ~ Beta(alpha, alpha), one per batch (per example as an option);
 *   perm = random permutation of the batch;
 *   x~[n] = lambda x[n] + (1 - lambda) x[perm[n]]
 *   t~[n] = lambda onehot(y[n]) + (1 - lambda) onehot(y[perm[n]])
 * alpha = 0 is ERM: lambda = 1, no permutation is drawn, t~ is one-hot and x~ = x.
 * Draw order from rng (fixed, so runs repeat): lambda(s) first, then the permutation.
 *
 * The ablation's variants (the ICLR version's ablation table; defaults give the above, bit for
 * bit and draw for draw):
 *   partner   MIXUP_PARTNER_RANDOM: perm is a random permutation of the batch (RP);
 *             MIXUP_PARTNER_SAME_CLASS: a random permutation within each class of the batch
 *             (SC + RP): classes in label order, each shuffled with rng_shuffle; an example
 *             alone in its class is its own partner. Needs work (2 N ints).
 *   labels    MIXUP_LABELS_MIXED: t~ as above; MIXUP_LABELS_HEAVIER: t~[n] = onehot of the
 *             label of the input with the larger weight (y[n] when lambda >= 1/2, else
 *             y[perm[n]]): "mixing inputs only" (with SC and nearest neighbours, SMOTE).
 *   smoothing eps in [0, 1): t~ <- (1 - eps) t~ + eps / K (label smoothing, Szegedy et al.
 *             2016: 1 - eps + eps/K on the true class, eps/K on the others), alone (alpha = 0)
 *             or after mixing.
 *   noise     sigma >= 0: x~ <- x~ + sigma z, z ~ N(0, 1) per element, drawn after the pairs
 *             in example then element order (Gaussian input noise; alpha = 0 for the noise
 *             alone, which then draws only z).
 *   latent    1: x~ = x (a copy); lambda, the pairs and t~ as above, for a mix layer inside the
 *             net (nn/mix.h, net_set_mix) to mix the hidden representation ("layer k").
 * Nearest-neighbour partners (AC + KNN, SC + KNN = SMOTE) are drawn by the data layer
 * (data_cifar_loader_partners): mixup_partners mixes with them.
 */
#ifndef MIXUP_H
#define MIXUP_H

#include "core/rng.h"
#include "core/tensor.h"

enum { MIXUP_PARTNER_RANDOM = 0, MIXUP_PARTNER_SAME_CLASS = 1 };
enum { MIXUP_LABELS_MIXED = 0, MIXUP_LABELS_HEAVIER = 1 };

typedef struct MixupParams {
    double alpha;        /* >= 0 */
    int per_example;     /* 1: one lambda per example */
    int n_classes;
    int partner;         /* MIXUP_PARTNER_* (0: random) */
    int labels;          /* MIXUP_LABELS_* (0: mixed) */
    double smoothing;    /* eps in [0, 1) (0: none) */
    double noise;        /* sigma >= 0 (0: none) */
    int latent;          /* 1: inputs copied unmixed, for a mix layer (nn/mix.h) to mix */
} MixupParams;

/* x: (N, ...) inputs; label: N ints in [0, n_classes); xm: same shape as x, overwritten
 * (must not alias x); t: (N, n_classes) (or (N, n_classes, 1, 1)) soft targets, overwritten;
 * lam: N doubles out, the lambda used per example, for logging (optional, except with
 * per_example and alpha > 0); perm: N ints out, the partner of each example (optional when
 * alpha = 0; then the identity). Fails, naming the example and value, on a label out of range.
 * rng: the mixup stream; untouched when alpha = 0 and noise = 0. work: 2 N ints of scratch for
 * same-class partners (NULL otherwise). */
int mixup_batch(Tensor *xm, Tensor *t, double *lam, int *perm, int *work, const Tensor *x,
                const int *label, const MixupParams *p, Rng *rng, Err *err);

/* As mixup_batch, with example n's partner given: x2[n] (shape of x) and label2[n]. Draws
 * only the lambda(s) (no permutation); p->partner is not used; latent is refused. */
int mixup_partners(Tensor *xm, Tensor *t, double *lam, const Tensor *x, const int *label,
                   const Tensor *x2, const int *label2, const MixupParams *p, Rng *rng,
                   Err *err);

#endif
