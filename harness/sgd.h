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

#include "tensor.h"

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

int sgd_state_init(SgdState *s, size_t n, Err *err);
void sgd_state_free(SgdState *s);
/* w, dw, decay_mask: n floats. Updates w and s; dw is read only. */
void sgd_step(float *w, const float *dw, const float *decay_mask, SgdState *s,
              const SgdParams *p, double lr);

#endif
