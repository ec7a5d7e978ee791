/*
 * act.h: elementwise activations: ReLU, leaky ReLU, tanh, sigmoid. Shape-preserving.
 * ReLU's derivative at exactly 0 is 0 (PyTorch's convention, threshold_backward); leaky ReLU's
 * is the slope there (leaky_relu_backward: x > 0 ? dy : dy * slope).
 * Backward overwrites dx; ReLU and leaky ReLU differentiate from the saved input x, tanh and
 * sigmoid from the output y (1 - y^2 and y (1 - y)).
 */
#ifndef ACT_H
#define ACT_H

#include <stddef.h>

#include "nn/module.h"

/* torch.nn.LeakyReLU's default negative_slope. */
#define ACT_LEAKY_DEFAULT_SLOPE 0.01

typedef enum { ACT_RELU = 0, ACT_LEAKY_RELU, ACT_TANH, ACT_SIGMOID } ActKind;

/* slope: leaky ReLU's negative slope (ACT_LEAKY_DEFAULT_SLOPE); ignored for the others. */
Module *act_module_new(ActKind kind, double slope, Err *err);

/* Kernels (no checks). y: (count) out; x: (count) in. NaN inputs give NaN outputs. */
void act_forward(float *y, const float *x, size_t count, ActKind kind, float slope,
                 int nthreads);
/* dx: (count) overwritten; dy: (count) in; x, y: (count) the forward's input and output. */
void act_backward(float *dx, const float *dy, const float *x, const float *y, size_t count,
                  ActKind kind, float slope, int nthreads);

#endif
