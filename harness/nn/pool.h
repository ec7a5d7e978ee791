/*
 * pool.h: max and average pooling (kernel, stride, padding) and global average pooling.
 * Max pooling pads with -inf and saves the argmax for backward (ties: first index in scan
 * order, as PyTorch's CPU kernel). Average pooling counts padded zeros (PyTorch's default
 * count_include_pad=True) and never uses ceil mode.
 * Global average pooling maps (N, C, H, W) to (N, C, 1, 1).
 */
#ifndef POOL_H
#define POOL_H

#include "nn/module.h"

typedef enum { POOL_MAX = 0, POOL_AVG = 1 } PoolMode;

/* Defaults: torch.nn.MaxPool2d / AvgPool2d's (padding=0; the stride defaults to the kernel
 * size). */
#define POOL_DEFAULT_PAD 0

typedef struct PoolParams {
    PoolMode mode;
    int kh, kw;
    int stride_h, stride_w;
    int pad_h, pad_w;     /* at most half the kernel, as PyTorch requires */
} PoolParams;

/* Returns NULL and fills err when the params are invalid (kernel or stride < 1, padding < 0 or
 * more than half the kernel, unknown mode). Module kinds: "maxpool", "avgpool". */
Module *pool_module_new(const PoolParams *p, Err *err);
/* Module kind "global_avgpool". */
Module *global_avgpool_module_new(Err *err);

/* Output size along one axis: (in + 2 pad - k) / stride + 1 (floor; no ceil mode). */
int pool_out_dim(int in, int k, int stride, int pad);

/* Kernels on raw arrays, parallel over the P = N C planes (no reductions across threads).
 * Shapes: x, dx (P, H, W); y, dy, argmax (P, Ho, Wo) with Ho, Wo from pool_out_dim.
 *
 * pool_max_forward: y [OUT]; argmax [OUT]: index h W + w of each window's maximum within its
 *   plane (first in scan order on ties; NaN wins); x [IN].
 * pool_max_backward: dx [OUT, overwritten]; dy [IN]; argmax [IN]: from the forward.
 * pool_avg_forward: y [OUT] = window sum / (kh kw), padded zeros counted; x [IN].
 * pool_avg_backward: dx [OUT, overwritten]; dy [IN].
 * pool_global_avg_forward: y (P) [OUT] = mean of each plane of x (P, HW) [IN].
 * pool_global_avg_backward: dx (P, HW) [OUT, overwritten] = dy / HW; dy (P) [IN]. */
void pool_max_forward(float *y, int *argmax, const float *x, int planes, int h, int w,
                      const PoolParams *p, int nthreads);
void pool_max_backward(float *dx, const float *dy, const int *argmax, int planes, int h, int w,
                       const PoolParams *p, int nthreads);
void pool_avg_forward(float *y, const float *x, int planes, int h, int w, const PoolParams *p,
                      int nthreads);
void pool_avg_backward(float *dx, const float *dy, int planes, int h, int w, const PoolParams *p,
                       int nthreads);
void pool_global_avg_forward(float *y, const float *x, int planes, int hw, int nthreads);
void pool_global_avg_backward(float *dx, const float *dy, int planes, int hw, int nthreads);

#endif
