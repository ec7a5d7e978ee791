/*
 * dropout.h: inverted dropout: in training, each element is zeroed with probability p and the
 * survivors are scaled by 1 / (1 - p); in evaluation it is the identity. The mask comes from
 * ctx->rng (the run's dropout stream) and is saved for backward.
 *
 * p must be in [0, 1); p = 0 is the identity (and draws nothing). Training with p > 0 needs
 * ctx->rng. One uniform draw per element, in element order, on one thread, so that a mask
 * depends only on the rng state (never on the thread count): element i is dropped when
 * rng_uniform(rng) < p. Backward overwrites dx with dy times the saved mask.
 */
#ifndef DROPOUT_H
#define DROPOUT_H

#include <stddef.h>

#include "nn/module.h"

/* torch.nn.Dropout's default p. */
#define DROPOUT_DEFAULT_P 0.5

Module *dropout_module_new(double p, Err *err);

/* Kernels (no checks). mask: (count) out, 0 or 1 / (1 - p); draws count uniforms from rng. */
void dropout_mask(float *mask, size_t count, double p, Rng *rng);
/* y: (count) out = x * mask; x, mask: (count) in. */
void dropout_forward(float *y, const float *x, const float *mask, size_t count, int nthreads);
/* dx: (count) overwritten with dy * mask; mask NULL means the identity (eval or p = 0). */
void dropout_backward(float *dx, const float *dy, const float *mask, size_t count,
                      int nthreads);

#endif
