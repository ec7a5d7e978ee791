/*
 * mixup.c: mixup on a batch (see mixup.h; Zhang et al. 2018, section 2 and Algorithm 1;
 * hongyi-zhang/mixup and facebookresearch/mixup-cifar10 `mixup_data`).
 *
 * Arithmetic follows the official PyTorch code, `lam * x + (1 - lam) * x[index]` with lam a
 * Python float: both coefficients are rounded to float32 and the products added in float32.
 * Targets are formed in double and rounded once, so each row of t sums to 1 within a float ulp
 * (the official code mixes the two losses instead, which is the same quantity for soft-target
 * cross-entropy since the loss is linear in the targets).
 * Draw order: lambda (or N lambdas with per_example), then the permutation; alpha = 0 draws
 * nothing (and noise > 0 then draws only the noise). Nearest-neighbour partners come from the
 * data layer (data/knn.h, data_cifar_loader_partners) and are mixed by mixup_partners; latent
 * mixing only forms the targets here (nn/mix.h mixes). Non-goals: manifold mixup's random
 * layer, CutMix.
 */
#include "train/mixup.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* in_batch: partners from the batch (mixup_batch), so perm (and work for same-class) are
 * needed when alpha > 0. */
static int mixup_check(const Tensor *xm, const Tensor *t, const double *lam, const int *perm,
                       const int *work, const Tensor *x, const int *label, const MixupParams *p,
                       int in_batch, Err *err)
{
    char b1[64], b2[64];
    if (p->partner != MIXUP_PARTNER_RANDOM && p->partner != MIXUP_PARTNER_SAME_CLASS)
        return err_set(err, "mixup_batch: partner is %d, expected %d (random) or %d (same class)",
                       p->partner, MIXUP_PARTNER_RANDOM, MIXUP_PARTNER_SAME_CLASS);
    if (p->labels != MIXUP_LABELS_MIXED && p->labels != MIXUP_LABELS_HEAVIER)
        return err_set(err, "mixup_batch: labels is %d, expected %d (mixed) or %d (heavier)",
                       p->labels, MIXUP_LABELS_MIXED, MIXUP_LABELS_HEAVIER);
    if (!(p->smoothing >= 0.0 && p->smoothing < 1.0))
        return err_set(err, "mixup_batch: smoothing is %g, expected a value in [0, 1)",
                       p->smoothing);
    if (!(p->noise >= 0.0 && isfinite(p->noise)))
        return err_set(err, "mixup_batch: noise is %g, expected a finite value >= 0", p->noise);
    if (!(p->alpha >= 0.0 && isfinite(p->alpha)))
        return err_set(err, "mixup_batch: alpha is %g, expected a finite value >= 0", p->alpha);
    if (p->per_example != 0 && p->per_example != 1)
        return err_set(err, "mixup_batch: per_example is %d, expected 0 or 1", p->per_example);
    if (p->n_classes < 1)
        return err_set(err, "mixup_batch: n_classes is %d, expected >= 1", p->n_classes);
    if (x->ndim < 1 || x->shape[0] < 1)
        return err_set(err, "mixup_batch: input is %s, expected a batch (N, ...) with N >= 1",
                       tensor_shape_str(x, b1, sizeof b1));
    const int n = x->shape[0];
    int same = xm->ndim == x->ndim && xm->size == x->size;
    for (int d = 0; same && d < x->ndim; d++)
        same = xm->shape[d] == x->shape[d];
    if (!same)
        return err_set(err, "mixup_batch: output is %s, expected the input's shape %s",
                       tensor_shape_str(xm, b1, sizeof b1), tensor_shape_str(x, b2, sizeof b2));
    uintptr_t xa = (uintptr_t)x->data, xe = (uintptr_t)(x->data + x->size);
    uintptr_t ma = (uintptr_t)xm->data, me = (uintptr_t)(xm->data + xm->size);
    if (x->size > 0 && ma < xe && xa < me)
        return err_set(err, "mixup_batch: output overlaps the input, expected separate buffers");
    if (t->ndim < 2 || t->shape[0] != n || t->shape[1] != p->n_classes ||
        t->size != (size_t)n * (size_t)p->n_classes)
        return err_set(err, "mixup_batch: targets are %s, expected (%d, %d)",
                       tensor_shape_str(t, b1, sizeof b1), n, p->n_classes);
    if (p->latent != 0 && p->latent != 1)
        return err_set(err, "mixup_batch: latent is %d, expected 0 or 1", p->latent);
    if (in_batch && p->alpha > 0.0 && !perm)
        return err_set(err, "mixup_batch: perm is NULL, expected %d ints when alpha > 0", n);
    if (p->alpha > 0.0 && p->per_example && !lam)
        return err_set(err, "mixup_batch: lam is NULL, expected %d doubles with per_example", n);
    if (in_batch && p->alpha > 0.0 && p->partner == MIXUP_PARTNER_SAME_CLASS && !work)
        return err_set(err, "mixup_batch: work is NULL, expected %d ints for same-class "
                       "partners", 2 * n);
    if (!label)
        return err_set(err, "mixup_batch: labels are NULL, expected %d ints", n);
    for (int i = 0; i < n; i++)
        if (label[i] < 0 || label[i] >= p->n_classes)
            return err_set(err, "mixup_batch: example %d has label %d, expected 0..%d", i,
                           label[i], p->n_classes - 1);
    return 0;
}

/* Partners within each class: classes in label order, each class's examples (in batch order)
 * shuffled by rng_shuffle; perm[member j] = shuffled member j. */
static void same_class_perm(int *perm, int *work, const int *label, int n, int k, Rng *rng)
{
    int *members = work, *shuffled = work + n;
    for (int c = 0; c < k; c++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (label[i] == c)
                members[m++] = i;
        if (m == 0)
            continue;
        memcpy(shuffled, members, (size_t)m * sizeof *members);
        rng_shuffle(rng, shuffled, m);
        for (int j = 0; j < m; j++)
            perm[members[j]] = shuffled[j];
    }
}

/* Row i of the targets: weight w_a on ya and 1 - w_a on yb (or the heavier one's one-hot),
 * then smoothing, formed in double and rounded once (equal labels give exactly 1 unsmoothed). */
static void target_row(float *ti, int k, int ya, int yb, double l, const MixupParams *p)
{
    double wa = l, wb = 1.0 - l;
    if (p->labels == MIXUP_LABELS_HEAVIER) {
        if (l >= 0.5)
            yb = ya;
        else
            ya = yb;
    }
    const double eps = p->smoothing, keep = 1.0 - eps, base = eps / k;
    if (eps > 0.0)
        for (int c = 0; c < k; c++)
            ti[c] = (float)base;
    if (ya == yb) {
        ti[ya] = (float)(keep * 1.0 + base);
    } else {
        ti[ya] = (float)(keep * wa + base);
        ti[yb] = (float)(keep * wb + base);
    }
}

static void add_noise(Tensor *xm, double sigma, Rng *rng)
{
    for (size_t j = 0; j < xm->size; j++)
        xm->data[j] += (float)(sigma * rng_normal(rng));
}

/* Draws the lambda(s): one per batch, or one per example into lam (then required). Returns the
 * batch's lambda (unused with per_example). */
static double draw_lambdas(double *lam, int n, const MixupParams *p, Rng *rng)
{
    if (p->per_example) {
        for (int i = 0; i < n; i++)
            lam[i] = rng_beta(rng, p->alpha, p->alpha);
        return 0.0;
    }
    double l = rng_beta(rng, p->alpha, p->alpha);
    if (lam)
        for (int i = 0; i < n; i++)
            lam[i] = l;
    return l;
}

/* x~ and t~ for pairs (i, partner row perm[i] of xb / lb; perm NULL: row i), then the noise.
 * With p->latent the inputs are copied unmixed (the net's mix layer mixes). */
static void mix_rows(Tensor *xm, Tensor *t, const Tensor *x, const int *label, const float *xb,
                     const int *lb, const int *perm, const double *lam, double batch_lam,
                     const MixupParams *p, Rng *rng)
{
    const int n = x->shape[0], k = p->n_classes;
    const size_t d = x->size / (size_t)n;
    if (p->latent)
        memcpy(xm->data, x->data, x->size * sizeof(float));
    for (int i = 0; i < n; i++) {
        const int j = perm ? perm[i] : i;
        const double l = p->per_example ? lam[i] : batch_lam;
        if (!p->latent) {
            const float a = (float)l, b = (float)(1.0 - l);
            const float *xa = x->data + (size_t)i * d, *xp = xb + (size_t)j * d;
            float *out = xm->data + (size_t)i * d;
            for (size_t e = 0; e < d; e++)
                out[e] = a * xa[e] + b * xp[e];
        }
        target_row(t->data + (size_t)i * k, k, label[i], lb[j], l, p);
    }
    if (p->noise > 0.0)
        add_noise(xm, p->noise, rng);
}

/* ERM (alpha = 0): x~ = x, one-hot (or smoothed) targets, lambda 1, perm the identity, no
 * pair draws, so the rng stream is the same as without mixup; then the noise, if any. */
static void erm_rows(Tensor *xm, Tensor *t, double *lam, int *perm, const Tensor *x,
                     const int *label, const MixupParams *p, Rng *rng)
{
    const int n = x->shape[0], k = p->n_classes;
    memcpy(xm->data, x->data, x->size * sizeof(float));
    for (int i = 0; i < n; i++) {
        target_row(t->data + (size_t)i * k, k, label[i], label[i], 1.0, p);
        if (lam)
            lam[i] = 1.0;
        if (perm)
            perm[i] = i;
    }
    if (p->noise > 0.0)
        add_noise(xm, p->noise, rng);
}

int mixup_batch(Tensor *xm, Tensor *t, double *lam, int *perm, int *work, const Tensor *x,
                const int *label, const MixupParams *p, Rng *rng, Err *err)
{
    if (mixup_check(xm, t, lam, perm, work, x, label, p, 1, err))
        return -1;
    const int n = x->shape[0];
    const int k = p->n_classes;
    memset(t->data, 0, t->size * sizeof(float));
    if (p->alpha == 0.0) {
        erm_rows(xm, t, lam, perm, x, label, p, rng);
        return 0;
    }
    /* Lambdas first, then the partners. */
    double batch_lam = draw_lambdas(lam, n, p, rng);
    if (p->partner == MIXUP_PARTNER_SAME_CLASS)
        same_class_perm(perm, work, label, n, k, rng);
    else
        rng_permutation(rng, perm, n);
    mix_rows(xm, t, x, label, x->data, label, perm, lam, batch_lam, p, rng);
    return 0;
}

int mixup_partners(Tensor *xm, Tensor *t, double *lam, const Tensor *x, const int *label,
                   const Tensor *x2, const int *label2, const MixupParams *p, Rng *rng, Err *err)
{
    char b1[64], b2[64];
    if (p->latent)
        return err_set(err, "mixup_partners: latent is set, expected input mixing (a partner "
                            "from outside the batch has no hidden representation here)");
    if (!x2 || !label2)
        return err_set(err, "mixup_partners: the partner batch is NULL, expected inputs and "
                            "labels");
    if (mixup_check(xm, t, lam, NULL, NULL, x, label, p, 0, err))
        return err_prefix(err, "mixup_partners");
    int same = x2->ndim == x->ndim && x2->size == x->size;
    for (int d = 0; same && d < x->ndim; d++)
        same = x2->shape[d] == x->shape[d];
    if (!same)
        return err_set(err, "mixup_partners: the partner batch is %s, expected the input's "
                       "shape %s", tensor_shape_str(x2, b1, sizeof b1),
                       tensor_shape_str(x, b2, sizeof b2));
    const int n = x->shape[0];
    for (int i = 0; i < n; i++)
        if (label2[i] < 0 || label2[i] >= p->n_classes)
            return err_set(err, "mixup_partners: partner %d has label %d, expected 0..%d", i,
                           label2[i], p->n_classes - 1);
    memset(t->data, 0, t->size * sizeof(float));
    if (p->alpha == 0.0) {
        erm_rows(xm, t, lam, NULL, x, label, p, rng); /* the partners take no part */
        return 0;
    }
    double batch_lam = draw_lambdas(lam, n, p, rng);
    mix_rows(xm, t, x, label, x2->data, label2, NULL, lam, batch_lam, p, rng);
    return 0;
}
