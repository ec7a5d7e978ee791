/*
 * loss.c: soft-target softmax cross-entropy, classification errors and binary cross-entropy
 * with logits. See loss.h for the formulas.
 *
 * Layout: z and t are (N, K) row-major (or (N, K, 1, 1)); one row per example. Every sum is
 * in double and runs in a fixed order on one thread (N K is at most ~10^5 per batch, small
 * next to the network), so the loss is bit-identical for any thread count.
 * Stability: log-sum-exp subtracts the row maximum; BCE uses max(z, 0) + log1p(exp(-|z|)) and
 * a sigmoid that only takes exp of non-positive numbers, so |z| = 1000 is fine.
 *
 * References: torch.nn.functional.cross_entropy with probability targets (PyTorch >= 1.10),
 * torch.nn.BCEWithLogitsLoss (reduction "mean"); mixup (Zhang et al. 2018) trains with CE on
 * mixed one-hot targets.
 * Non-goals: label smoothing and class weights (build them into t), other reductions.
 */
#include "nn/loss.h"

#include <math.h>
#include <stddef.h>

/* ---- shared checks -------------------------------------------------------------------- */

/* z must be (N, K) or (N, K, 1, 1) with N, K >= 1; fills *n and *k. */
static int loss_check_logits(const char *fn, const Tensor *z, int *n, int *k, Err *err)
{
    char buf[64];
    int ok = z->ndim == 2 || (z->ndim == 4 && z->shape[2] == 1 && z->shape[3] == 1);
    if (!ok || z->shape[0] < 1 || z->shape[1] < 1)
        return err_set(err, "%s: logits are %s, expected (N, K) or (N, K, 1, 1) with N, K >= 1",
                       fn, tensor_shape_str(z, buf, sizeof buf));
    *n = z->shape[0];
    *k = z->shape[1];
    return 0;
}

/* t must have z's size; dz (optional) is reshaped to z's shape when its size differs. */
static int loss_check_pair(const char *fn, Tensor *dz, const Tensor *z, const Tensor *t,
                           Err *err)
{
    char bz[64], bt[64];
    if (t->size != z->size)
        return err_set(err, "%s: targets are %s with %zu elements, logits %s have %zu", fn,
                       tensor_shape_str(t, bt, sizeof bt), t->size,
                       tensor_shape_str(z, bz, sizeof bz), z->size);
    if (dz && (dz->size != z->size || dz->ndim != z->ndim) &&
        tensor_reshape(dz, z->ndim, z->shape, err))
        return err_set(err, "%s: dz is %s with room for %zu elements, logits %s need %zu", fn,
                       tensor_shape_str(dz, bt, sizeof bt), dz->owner ? dz->cap : dz->size,
                       tensor_shape_str(z, bz, sizeof bz), z->size);
    return 0;
}

/* The error for a non-finite loss at example `row`: z and t point at that example's count
 * logits and targets, which name the culprit. */
static int loss_not_finite(const char *fn, double value, size_t row, const float *z,
                           const float *t, size_t count, Err *err)
{
    int bad_z = 0, bad_t = 0;
    for (size_t i = 0; i < count; i++) {
        bad_z |= !isfinite(z[i]);
        bad_t |= !isfinite(t[i]);
    }
    const char *what = bad_z   ? "logits not finite"
                       : bad_t ? "targets not finite"
                               : "overflow with finite logits and targets";
    return err_set(err, "%s: loss is %s at example %zu (%s); lower the learning rate or check "
                        "the input", fn, isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf"),
                   row, what);
}

/* ---- softmax cross-entropy ------------------------------------------------------------ */

int loss_softmax_xent(double *loss, Tensor *dz, const Tensor *z, const Tensor *t, Err *err)
{
    static const char fn[] = "loss_softmax_xent";
    int n, k;
    *loss = 0.0;
    if (loss_check_logits(fn, z, &n, &k, err) || loss_check_pair(fn, dz, z, t, err))
        return -1;
    double total = 0.0, inv_n = 1.0 / (double)n;
    for (int i = 0; i < n; i++) {
        const float *zi = z->data + (size_t)i * (size_t)k;
        const float *ti = t->data + (size_t)i * (size_t)k;
        /* log-sum-exp around the row maximum: no exp overflows */
        double m = zi[0];
        for (int j = 1; j < k; j++)
            if (zi[j] > m)
                m = zi[j];
        double se = 0.0;
        for (int j = 0; j < k; j++)
            se += exp((double)zi[j] - m);
        double lse = m + log(se);
        /* -sum_k t_k log softmax_k = sum_k t_k (lse - z_k) */
        double row = 0.0, tsum = 0.0;
        for (int j = 0; j < k; j++) {
            row += (double)ti[j] * (lse - (double)zi[j]);
            tsum += (double)ti[j];
        }
        if (!isfinite(row))
            return loss_not_finite(fn, row, (size_t)i, zi, ti, (size_t)k, err);
        total += row;
        if (dz) {
            /* d/dz_k of sum_k' t_k' (lse - z_k') = softmax_k sum_k' t_k' - t_k */
            float *di = dz->data + (size_t)i * (size_t)k;
            for (int j = 0; j < k; j++)
                di[j] = (float)((exp((double)zi[j] - lse) * tsum - (double)ti[j]) * inv_n);
        }
    }
    *loss = total * inv_n;
    return 0;
}

int loss_count_errors(int *errors, const Tensor *z, const int *label, Err *err)
{
    static const char fn[] = "loss_count_errors";
    int n, k;
    *errors = 0;
    if (loss_check_logits(fn, z, &n, &k, err))
        return -1;
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (label[i] < 0 || label[i] >= k)
            return err_set(err, "%s: label[%d] is %d, expected 0..%d", fn, i, label[i], k - 1);
        const float *zi = z->data + (size_t)i * (size_t)k;
        int best = 0, has_nan = 0;
        for (int j = 0; j < k; j++) {
            if (isnan(zi[j]))
                has_nan = 1;
            else if (zi[j] > zi[best] || isnan(zi[best]))
                best = j;
        }
        if (has_nan || best != label[i])
            count++;
    }
    *errors = count;
    return 0;
}

int loss_count_topk_errors(int *errors, const Tensor *z, const int *label, int k_top,
                           Err *err)
{
    static const char fn[] = "loss_count_topk_errors";
    int n, k;
    *errors = 0;
    if (loss_check_logits(fn, z, &n, &k, err))
        return -1;
    if (k_top < 1)
        return err_set(err, "%s: k is %d, expected >= 1", fn, k_top);
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (label[i] < 0 || label[i] >= k)
            return err_set(err, "%s: label[%d] is %d, expected 0..%d", fn, i, label[i], k - 1);
        const float *zi = z->data + (size_t)i * (size_t)k;
        float zl = zi[label[i]];
        int above = 0, has_nan = isnan(zl);
        for (int j = 0; j < k; j++) {
            if (isnan(zi[j]))
                has_nan = 1;
            else if (zi[j] > zl)
                above++;
        }
        if (has_nan || above >= k_top)
            count++;
    }
    *errors = count;
    return 0;
}

/* ---- binary cross-entropy with logits ------------------------------------------------- */

int loss_bce_logits(double *loss, Tensor *dz, const Tensor *z, const Tensor *t, Err *err)
{
    static const char fn[] = "loss_bce_logits";
    char buf[64];
    *loss = 0.0;
    if (z->ndim < 1 || z->shape[0] < 1 || z->size < 1)
        return err_set(err, "%s: logits are %s, expected a non-empty (N, ...) tensor", fn,
                       tensor_shape_str(z, buf, sizeof buf));
    if (loss_check_pair(fn, dz, z, t, err))
        return -1;
    size_t count = z->size, per = count / (size_t)z->shape[0];
    double total = 0.0, inv = 1.0 / (double)count;
    for (size_t i = 0; i < count; i++) {
        double zi = z->data[i], ti = t->data[i];
        /* log(1 + exp(z)) - z t, rewritten so that exp never sees a positive argument */
        double e = exp(-fabs(zi));
        double l = (zi > 0.0 ? zi : 0.0) - zi * ti + log1p(e);
        if (!isfinite(l)) {
            size_t row = i / per;
            return loss_not_finite(fn, l, row, z->data + row * per, t->data + row * per, per,
                                   err);
        }
        total += l;
        if (dz) {
            double s = zi >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            dz->data[i] = (float)((s - ti) * inv);
        }
    }
    *loss = total * inv;
    return 0;
}
