/*
 * act.h: elementwise activations: ReLU, leaky ReLU, tanh, sigmoid. Shape-preserving.
 * ReLU's derivative at exactly 0 is 0 (PyTorch's convention, threshold_backward).
 */
#ifndef ACT_H
#define ACT_H

#include "module.h"

typedef enum { ACT_RELU = 0, ACT_LEAKY_RELU, ACT_TANH, ACT_SIGMOID } ActKind;

/* slope: leaky ReLU's negative slope (PyTorch default 0.01); ignored for the others. */
Module *act_module_new(ActKind kind, double slope, Err *err);

#endif
