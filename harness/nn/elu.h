/*
 * elu.h: the exponential linear unit (Clevert et al. 2016, "Fast and Accurate Deep Network
 * Learning by Exponential Linear Units"), as torch.nn.ELU (PyTorch 1.13):
 *   y = x                      for x > 0
 *   y = alpha (exp(x) - 1)     for x <= 0
 * Shape-preserving. Backward differentiates from the saved input x, as ATen's elu_backward
 * does for a non-in-place ELU: dx = dy for x > 0, dy alpha exp(x) for x <= 0 (so alpha dy at
 * exactly 0). Backward overwrites dx; there are no parameters.
 */
#ifndef ELU_H
#define ELU_H

#include <stddef.h>

#include "nn/module.h"

/* torch.nn.ELU's default alpha. */
#define ELU_DEFAULT_ALPHA 1.0

typedef struct EluParams {
    double alpha; /* scale of the negative saturation, ELU_DEFAULT_ALPHA; must be finite */
} EluParams;

/* Returns NULL and fills err when alpha is not finite. */
Module *elu_module_new(const EluParams *p, Err *err);

/* Kernels (no checks), parallel over elements (no reductions: any thread count gives the same
 * bits). y: (count) out; x: (count) in. NaN inputs give NaN outputs. */
void elu_forward(float *y, const float *x, size_t count, float alpha, int nthreads);
/* dx: (count) overwritten; dy: (count) in; x: (count) the forward's input. */
void elu_backward(float *dx, const float *dy, const float *x, size_t count, float alpha,
                  int nthreads);

#endif
