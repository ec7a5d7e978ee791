/*
 * attack.c: FGSM and I-FGSM (see attack.h; the I-FGSM of Kurakin et al. 2017 with the
 * projection onto the eps-ball and the pixel range after every step, as cleverhans'
 * BasicIterativeMethod does it).
 *
 * Per step: forward(x_i, eval) -> z; t = onehot(y); dz = dL/dz (loss_softmax_xent); backward
 * -> dx; x_{i+1}[n,c,..] = clamp(x_i + step_c sign(dx), max(lo_c, x - eps_c), min(hi_c,
 * x + eps_c)), in float32 with eps_c, step_c, lo_c, hi_c rounded once to float. Everything is
 * elementwise after the net's own passes, so the result is bit-identical for a fixed net,
 * batch and thread count.
 */
#include "metrics/attack.h"

#include <math.h>
#include <string.h>

#include "nn/loss.h"

static int attack_check(const Net *net, const Tensor *x_adv, const Tensor *t, const Tensor *dz,
                        const Tensor *x, const int *label, const AttackParams *p, Err *err)
{
    char b1[64], b2[64];
    if (!(p->eps > 0.0 && isfinite(p->eps)))
        return err_set(err, "attack: eps is %g, expected a finite value > 0 (pixel units)",
                       p->eps);
    if (!(p->step > 0.0 && isfinite(p->step)))
        return err_set(err, "attack: step is %g, expected a finite value > 0 (pixel units)",
                       p->step);
    if (p->iters < 1)
        return err_set(err, "attack: iters is %d, expected >= 1 (1: FGSM)", p->iters);
    if (p->quantize != 0 && p->quantize != 1)
        return err_set(err, "attack: quantize is %d, expected 0 or 1", p->quantize);
    if (p->channels < 1 || p->channels > ATTACK_MAX_CHANNELS)
        return err_set(err, "attack: channels is %d, expected 1..%d", p->channels,
                       ATTACK_MAX_CHANNELS);
    for (int c = 0; c < p->channels; c++)
        if (!(p->std[c] > 0.0 && isfinite(p->std[c]) && isfinite(p->mean[c])))
            return err_set(err, "attack: channel %d has mean %g and std %g, expected finite "
                           "values with std > 0", c, p->mean[c], p->std[c]);
    if (x->ndim != 4 || x->shape[1] != p->channels || x->shape[0] < 1)
        return err_set(err, "attack: input is %s, expected (N, %d, H, W)",
                       tensor_shape_str(x, b1, sizeof b1), p->channels);
    int same = x_adv->ndim == 4;
    for (int d = 0; same && d < 4; d++)
        same = x_adv->shape[d] == x->shape[d];
    if (!same)
        return err_set(err, "attack: output is %s, expected the input's shape %s",
                       tensor_shape_str(x_adv, b1, sizeof b1), tensor_shape_str(x, b2, sizeof b2));
    if (x_adv->data == x->data)
        return err_set(err, "attack: output is the input, expected separate buffers");
    const int n = x->shape[0];
    if (t->size != dz->size || t->ndim < 2 || t->shape[0] != n || dz->ndim < 2 ||
        dz->shape[0] != n)
        return err_set(err, "attack: targets %s and gradient %s, expected both (%d, K)",
                       tensor_shape_str(t, b1, sizeof b1), tensor_shape_str(dz, b2, sizeof b2), n);
    if (!label)
        return err_set(err, "attack: labels are NULL, expected %d ints", n);
    const int k = t->shape[1];
    for (int i = 0; i < n; i++)
        if (label[i] < 0 || label[i] >= k)
            return err_set(err, "attack: example %d has label %d, expected 0..%d", i, label[i],
                           k - 1);
    (void)net;
    return 0;
}

/* Per-channel bounds in the net's units, rounded once to float. */
typedef struct Bounds {
    float eps, step, lo, hi;
} Bounds;

static Bounds channel_bounds(const AttackParams *p, int c)
{
    const double s = 255.0 * p->std[c];
    Bounds b = {(float)(p->eps / s), (float)(p->step / s), (float)((0.0 - p->mean[c]) / p->std[c]),
                (float)((1.0 - p->mean[c]) / p->std[c])};
    return b;
}

static float sign_of(float g) { return g > 0.0f ? 1.0f : (g < 0.0f ? -1.0f : 0.0f); }

int attack_run(Net *net, Tensor *x_adv, Tensor *t, Tensor *dz, double *loss, const Tensor *x,
               const int *label, const AttackParams *p, Err *err)
{
    if (attack_check(net, x_adv, t, dz, x, label, p, err))
        return -1;
    const int n = x->shape[0], ch = p->channels, k = t->shape[1];
    const size_t hw = (size_t)x->shape[2] * (size_t)x->shape[3];
    memcpy(x_adv->data, x->data, x->size * sizeof(float));
    memset(t->data, 0, t->size * sizeof(float));
    for (int i = 0; i < n; i++)
        t->data[(size_t)i * k + label[i]] = 1.0f;
    for (int it = 0; it < p->iters; it++) {
        const Tensor *z, *dx;
        double l;
        net_zero_grad(net);
        if (net_forward(net, x_adv, 0, NULL, &z, err) ||
            loss_softmax_xent(&l, dz, z, t, err) || net_backward(net, dz, &dx, err))
            return -1;
        if (loss)
            *loss = l;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < ch; c++) {
                const Bounds b = channel_bounds(p, c);
                const size_t o = ((size_t)i * ch + c) * hw;
                for (size_t j = o; j < o + hw; j++) {
                    const float lo = fmaxf(b.lo, x->data[j] - b.eps);
                    const float hi = fminf(b.hi, x->data[j] + b.eps);
                    const float v = x_adv->data[j] + b.step * sign_of(dx->data[j]);
                    x_adv->data[j] = fminf(fmaxf(v, lo), hi);
                }
            }
    }
    if (p->quantize)
        for (int i = 0; i < n; i++)
            for (int c = 0; c < ch; c++) {
                const size_t o = ((size_t)i * ch + c) * hw;
                for (size_t j = o; j < o + hw; j++) {
                    double px = ((double)x_adv->data[j] * p->std[c] + p->mean[c]) * 255.0;
                    px = fmin(fmax(round(px), 0.0), 255.0);
                    x_adv->data[j] = (float)((px / 255.0 - p->mean[c]) / p->std[c]);
                }
            }
    return 0;
}
