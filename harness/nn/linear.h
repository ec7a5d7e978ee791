/*
 * linear.h: fully connected layer y = x W^T + b, x (N, in) or (N, C, H, W) with C H W = in.
 * w (out, in) as torch.nn.Linear; b (out) or absent. Output shape (N, out, 1, 1).
 *
 * Parameters, in PyTorch's parameters() order: w (out x in) then b (out); the first out * in
 * (w) take weight decay under exclusion. Initialisation, drawn weight first, then bias, each in
 * element order:
 *   INIT_TORCH_DEFAULT: w, b ~ U(-1/sqrt(in), 1/sqrt(in)) (nn.Linear.reset_parameters:
 *                       kaiming_uniform_(a = sqrt 5) reduces to this bound);
 *   INIT_HE_NORMAL, INIT_HE_NORMAL_FAN_IN: w ~ N(0, sqrt(2 / in)), b = 0 (fan-in for both:
 *                       a classifier's fan-out is the class count, too small to scale by);
 *   INIT_ZERO:          w = b = 0;
 *   INIT_NORMAL_001:    w ~ N(0, 0.01), b = 0 (Goyal et al. 2017's final FC).
 * Backward overwrites dx and accumulates into dw and db.
 */
#ifndef LINEAR_H
#define LINEAR_H

#include "nn/module.h"

/* torch.nn.Linear's default bias=True. */
#define LINEAR_DEFAULT_BIAS 1

typedef struct LinearParams {
    int in, out;
    int bias;
    InitScheme init;   /* INIT_TORCH_DEFAULT: U(-1/sqrt(in), 1/sqrt(in)) for w and b */
} LinearParams;

Module *linear_module_new(const LinearParams *p, Err *err);

/* Kernels (no checks). y: (n, out) out; x: (n, in) in; w: (out, in); b: (out) or NULL.
 * One GEMM over the batch; call outside a parallel region so that OpenBLAS uses the pool. */
void linear_forward(float *y, const float *x, const float *w, const float *b, int n,
                    const LinearParams *p, int nthreads);
/* dx: (n, in) overwritten with dy w, or NULL (not wanted); dw: (out, in) accumulated with
 * dy^T x; db: (out) accumulated with the column sums of dy (double, fixed order), or NULL;
 * dy: (n, out) in; x: (n, in) the forward's input; w: (out, in). */
void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                     const float *w, int n, const LinearParams *p, int nthreads);

#endif
