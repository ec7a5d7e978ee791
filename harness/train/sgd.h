/*
 * sgd.h: stochastic gradient descent with PyTorch's exact semantics (torch.optim.SGD, 1.13):
 *   g = dw + wd * w                       (weight decay added to the gradient, L2 style)
 *   buf = momentum * buf + g              (dampening 0; on the first step buf = g)
 *   g = nesterov ? g + momentum * buf : buf
 *   w = w - lr * g
 * One loop over the flat parameter buffer. decay_mask (optional) scales wd per element
 * (1 = decay, 0 = exempt); NULL decays every parameter, as the official mixup code does.
 */
#ifndef SGD_H
#define SGD_H

#include <stddef.h>

#include "core/tensor.h"

typedef struct SgdParams {
    double momentum;
    double weight_decay;
    int nesterov;
} SgdParams;

typedef struct SgdState {
    float *buf;      /* momentum buffer, n floats, owned */
    size_t n;
    long step;       /* steps taken; 0 means buf is not yet initialised */
} SgdState;

/* Rejects momentum outside [0, 1), negative or non-finite weight decay, and nesterov without
 * momentum (PyTorch's own checks). */
int sgd_check(const SgdParams *p, Err *err);
/* Allocates the zeroed momentum buffer of n floats; s must be zeroed or freed. */
int sgd_state_init(SgdState *s, size_t n, Err *err);
void sgd_state_free(SgdState *s);
/* Restores a saved state (a checkpoint's): buf (in, n floats, the momentum buffer) and step
 * (>= 0; 0 means buf is not yet initialised). Refuses a buffer of another length than s->n,
 * leaving s as it was. */
int sgd_state_set(SgdState *s, const float *buf, size_t n, long step, Err *err);
/* w: n floats, updated; dw: n floats, read only (zeroing it is the caller's next step);
 * decay_mask: n floats or NULL (all decay); s: state of n floats, updated. p was checked by
 * sgd_check; lr >= 0. */
void sgd_step(float *w, const float *dw, const float *decay_mask, SgdState *s,
              const SgdParams *p, double lr);

#endif
