/*
 * adam.c: Adam reproducing torch.optim.Adam (1.13, _single_tensor_adam, amsgrad, maximize and
 * capturable off) operation for operation in float32:
 *   grad = grad.add(p, alpha=wd)                 fmaf(w, wd, dw)         (only when wd != 0)
 *   exp_avg.mul_(b1).add_(grad, alpha=1-b1)      fmaf(g, 1-b1, m * b1)
 *   exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2)     v * b2 + ((1-b2) * g) * g  (not fused)
 *   step_size = lr / (1 - b1^t)                  double, as Python floats
 *   denom = sqrt(v) / sqrt(1 - b2^t) + eps       sqrtf, float division, float add
 *   p.addcdiv_(m, denom, value=-step_size)       w + ((-step_size) * m) / denom
 * Scalars are computed in double and rounded to float where PyTorch converts a Scalar to the
 * tensor's type. "add with alpha" is fused as in PyTorch's vectorised kernel (vec::fmadd);
 * addcmul and addcdiv are not (their vectorised kernels multiply, divide and add separately).
 * Non-goals: AMSGrad, AdamW's decoupled decay.
 */
#include "train/adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int adam_check(const AdamParams *p, Err *err)
{
    if (!(p->beta1 >= 0.0 && p->beta1 < 1.0))
        return err_set(err, "adam: beta1 is %g, expected 0 <= beta1 < 1", p->beta1);
    if (!(p->beta2 >= 0.0 && p->beta2 < 1.0))
        return err_set(err, "adam: beta2 is %g, expected 0 <= beta2 < 1", p->beta2);
    if (!(p->eps >= 0.0 && isfinite(p->eps)))
        return err_set(err, "adam: eps is %g, expected a finite value >= 0", p->eps);
    if (!(p->weight_decay >= 0.0 && isfinite(p->weight_decay)))
        return err_set(err, "adam: weight_decay is %g, expected a finite value >= 0",
                       p->weight_decay);
    return 0;
}

int adam_state_init(AdamState *s, size_t n, Err *err)
{
    memset(s, 0, sizeof *s);
    s->m = tensor_alloc_floats(n);
    s->v = tensor_alloc_floats(n);
    if (!s->m || !s->v) {
        adam_state_free(s);
        return err_set(err, "adam_state_init: out of memory for 2 x %zu floats", n);
    }
    s->n = n;
    return 0;
}

int adam_state_set(AdamState *s, const float *m, size_t nm, const float *v, size_t nv,
                   long step, Err *err)
{
    if (nm != s->n || nv != s->n)
        return err_set(err, "adam_state_set: m has %zu floats and v %zu, expected %zu each "
                       "(truncated, or saved for another net)", nm, nv, s->n);
    if (step < 0)
        return err_set(err, "adam_state_set: step is %ld, expected >= 0", step);
    for (size_t i = 0; i < nv; i++)
        if (v[i] < 0.0f)
            return err_set(err, "adam_state_set: v[%zu] is %g, expected >= 0 (a garbled state)",
                           i, (double)v[i]);
    memcpy(s->m, m, nm * sizeof *m);
    memcpy(s->v, v, nv * sizeof *v);
    s->step = step;
    return 0;
}

void adam_state_free(AdamState *s)
{
    free(s->m);
    free(s->v);
    memset(s, 0, sizeof *s);
}

void adam_step(float *w, const float *dw, const float *decay_mask, AdamState *s,
               const AdamParams *p, double lr)
{
    const size_t n = s->n;
    s->step++;
    /* PyTorch keeps step as a float tensor and reads it back with .item(): a double. */
    const double t = (double)s->step;
    const double bias_correction1 = 1.0 - pow(p->beta1, t);
    const double bias_correction2 = 1.0 - pow(p->beta2, t);
    const double step_size = lr / bias_correction1;
    const float bc2_sqrt = (float)sqrt(bias_correction2);
    const float neg_step = (float)(-step_size);
    const float wd = (float)p->weight_decay;
    const float b1 = (float)p->beta1, b2 = (float)p->beta2;
    const float a1 = (float)(1.0 - p->beta1), a2 = (float)(1.0 - p->beta2);
    const float eps = (float)p->eps;
    float *m = s->m, *v = s->v;
    for (size_t i = 0; i < n; i++) {
        float g = dw[i];
        if (wd != 0.0f)
            g = fmaf(w[i], decay_mask ? wd * decay_mask[i] : wd, g);
        m[i] = fmaf(g, a1, m[i] * b1);
        v[i] = v[i] * b2 + a2 * g * g;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        w[i] = w[i] + neg_step * m[i] / denom;
    }
}
