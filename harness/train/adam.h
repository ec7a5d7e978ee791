/*
 * adam.h: Adam with PyTorch's exact semantics (torch.optim.Adam, 1.13, amsgrad off):
 *   g = dw + wd * w
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   w = w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * Defaults (PyTorch): lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.
 */
#ifndef ADAM_H
#define ADAM_H

#include <stddef.h>

#include "core/tensor.h"

typedef struct AdamParams {
    double beta1, beta2, eps, weight_decay;
} AdamParams;

typedef struct AdamState {
    float *m, *v;   /* n floats each, owned */
    size_t n;
    long step;
} AdamState;

/* PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0. */
#define ADAM_LR_DEFAULT 1e-3
#define ADAM_BETA1_DEFAULT 0.9
#define ADAM_BETA2_DEFAULT 0.999
#define ADAM_EPS_DEFAULT 1e-8

/* Rejects betas outside [0, 1), negative eps or weight decay, non-finite values (PyTorch's own
 * checks). */
int adam_check(const AdamParams *p, Err *err);
/* Allocates zeroed m and v of n floats each; s must be zeroed or freed. */
int adam_state_init(AdamState *s, size_t n, Err *err);
void adam_state_free(AdamState *s);
/* Restores a saved state (a checkpoint's): m (in, nm floats), v (in, nv floats) and step
 * (>= 0, the steps taken). Refuses lengths other than s->n and a v with a negative entry (v is
 * a mean of squares, so one means a garbled state), leaving s as it was. */
int adam_state_set(AdamState *s, const float *m, size_t nm, const float *v, size_t nv,
                   long step, Err *err);
/* w: n floats, updated; dw: n floats, read only; decay_mask: n floats or NULL (all decay);
 * s: state of n floats, updated (s->step counts from 1 after the first call). p was checked by
 * adam_check; lr >= 0. */
void adam_step(float *w, const float *dw, const float *decay_mask, AdamState *s,
               const AdamParams *p, double lr);

#endif
