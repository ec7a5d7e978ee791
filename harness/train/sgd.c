/*
 * sgd.c: SGD with momentum, weight decay and Nesterov, reproducing torch.optim.SGD (1.13,
 * _single_tensor_sgd, dampening 0, maximize off) operation for operation in float32:
 *   d_p = d_p.add(p, alpha=wd)            fmaf(w, wd, dw)        (only when wd != 0)
 *   buf = clone(d_p)                      on the first step
 *   buf.mul_(momentum).add_(d_p)          fmaf(g, 1, buf * m)  = buf * m + g
 *   d_p = d_p.add(buf, alpha=momentum)    fmaf(buf, m, g)        (nesterov) else d_p = buf
 *   p.add_(d_p, alpha=-lr)                fmaf(g, -lr, w)
 * Scalars are rounded to float first (PyTorch's Scalar.to<float>()), and "add with alpha" is a
 * fused multiply-add as in PyTorch's vectorised CPU kernel (ATen ufunc add: vec::fmadd), so
 * the results equal PyTorch's bit for bit on the vectorised path. momentum = 0 keeps no buffer
 * (PyTorch skips it too).
 *
 * Layout: one loop over the flat parameter buffer (net.h); decay_mask scales the weight decay
 * per element. Non-goals: dampening, maximize, weight decay applied decoupled (SGDW).
 */
#include "train/sgd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sgd_check(const SgdParams *p, Err *err)
{
    if (!(p->momentum >= 0.0 && p->momentum < 1.0))
        return err_set(err, "sgd: momentum is %g, expected 0 <= momentum < 1", p->momentum);
    if (!(p->weight_decay >= 0.0 && isfinite(p->weight_decay)))
        return err_set(err, "sgd: weight_decay is %g, expected a finite value >= 0",
                       p->weight_decay);
    if (p->nesterov != 0 && p->nesterov != 1)
        return err_set(err, "sgd: nesterov is %d, expected 0 or 1", p->nesterov);
    if (p->nesterov && p->momentum == 0.0)
        return err_set(err, "sgd: nesterov needs momentum > 0, momentum is 0");
    return 0;
}

int sgd_state_init(SgdState *s, size_t n, Err *err)
{
    memset(s, 0, sizeof *s);
    s->buf = tensor_alloc_floats(n);
    if (!s->buf)
        return err_set(err, "sgd_state_init: out of memory for %zu floats", n);
    s->n = n;
    return 0;
}

int sgd_state_set(SgdState *s, const float *buf, size_t n, long step, Err *err)
{
    if (n != s->n)
        return err_set(err, "sgd_state_set: momentum buffer has %zu floats, expected %zu "
                       "(truncated, or saved for another net)", n, s->n);
    if (step < 0)
        return err_set(err, "sgd_state_set: step is %ld, expected >= 0", step);
    memcpy(s->buf, buf, n * sizeof *buf);
    s->step = step;
    return 0;
}

void sgd_state_free(SgdState *s)
{
    free(s->buf);
    memset(s, 0, sizeof *s);
}

void sgd_step(float *w, const float *dw, const float *decay_mask, SgdState *s,
              const SgdParams *p, double lr)
{
    const size_t n = s->n;
    const float wd = (float)p->weight_decay;
    const float mom = (float)p->momentum;
    const float neg_lr = (float)(-lr);
    const int first = s->step == 0;
    const int use_buf = p->momentum != 0.0;
    float *buf = s->buf;
    for (size_t i = 0; i < n; i++) {
        float g = dw[i];
        if (wd != 0.0f)
            g = fmaf(w[i], decay_mask ? wd * decay_mask[i] : wd, g);
        if (use_buf) {
            buf[i] = first ? g : buf[i] * mom + g;
            g = p->nesterov ? fmaf(buf[i], mom, g) : buf[i];
        }
        w[i] = fmaf(g, neg_lr, w[i]);
    }
    s->step++;
}
