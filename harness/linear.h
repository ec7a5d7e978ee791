/*
 * linear.h: fully connected layer y = x W^T + b, x (N, in) or (N, C, H, W) with C H W = in.
 * w (out, in) as torch.nn.Linear; b (out) or absent. Output shape (N, out, 1, 1).
 */
#ifndef LINEAR_H
#define LINEAR_H

#include "module.h"

typedef struct LinearParams {
    int in, out;
    int bias;
    InitScheme init;   /* INIT_TORCH_DEFAULT: U(-1/sqrt(in), 1/sqrt(in)) for w and b */
} LinearParams;

Module *linear_module_new(const LinearParams *p, Err *err);

#endif
