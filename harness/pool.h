/*
 * pool.h: max and average pooling (kernel, stride, padding) and global average pooling.
 * Max pooling pads with -inf and saves the argmax for backward (ties: first index in scan
 * order, as PyTorch's CPU kernel). Average pooling counts padded zeros (PyTorch's default
 * count_include_pad=True) and never uses ceil mode.
 * Global average pooling maps (N, C, H, W) to (N, C, 1, 1).
 */
#ifndef POOL_H
#define POOL_H

#include "module.h"

typedef enum { POOL_MAX = 0, POOL_AVG = 1 } PoolMode;

typedef struct PoolParams {
    PoolMode mode;
    int kh, kw;
    int stride_h, stride_w;
    int pad_h, pad_w;     /* at most half the kernel, as PyTorch requires */
} PoolParams;

Module *pool_module_new(const PoolParams *p, Err *err);
Module *global_avgpool_module_new(Err *err);

#endif
