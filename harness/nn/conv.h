/*
 * conv.h: 2-D convolution, NCHW, with kernel size, stride, padding, groups and optional bias.
 * Fast paths, images spread over threads: direct AVX-512 register tiles (conv_simd.h) for
 * stride-1 "same" convolutions such as 3x3 pad 1, where they pay; otherwise im2col + one
 * single-threaded SGEMM per block of pixels (measured here 1.5-3x faster than one threaded GEMM
 * on PreAct ResNet-18 shapes), 1x1 stride-1 convs skipping im2col. conv.c says which path
 * computes what. Reference path: conv_forward_direct, a plain loop nest used by the tests.
 *
 * Shapes: x (N, C, H, W); w (K, C/groups, kh, kw); b (K) or NULL; y (N, K, Ho, Wo) with
 * Ho = (H + 2 pad_h - kh) / stride_h + 1, likewise Wo. Dilation is not supported.
 */
#ifndef CONV_H
#define CONV_H

#include "nn/module.h"

/* Defaults: torch.nn.Conv2d's (stride=1, padding=0, groups=1, bias=True). */
#define CONV_DEFAULT_STRIDE 1
#define CONV_DEFAULT_PAD 0
#define CONV_DEFAULT_GROUPS 1
#define CONV_DEFAULT_BIAS 1

/* Which kernels a layer runs (conv.c says what each computes):
 *   DEFAULT    the measured rule: Winograd (conv_wino.h) on the 3x3 layers it applies to
 *              where it ran faster here, else DIRECT's choice
 *   DIRECT     conv_simd's direct kernels where they pay, else im2col + GEMM (no Winograd)
 *   IM2COL     im2col + GEMM everywhere
 *   WINOGRAD   Winograd wherever it applies (3x3, stride 1, pad 1, groups 1, C and K multiples
 *              of 16, AVX-512), else DIRECT's choice
 * The algorithm changes the float roundings, hence the bits of a training run. */
typedef enum ConvAlgo {
    CONV_ALGO_DEFAULT,
    CONV_ALGO_DIRECT,
    CONV_ALGO_IM2COL,
    CONV_ALGO_WINOGRAD,
    CONV_ALGO_COUNT
} ConvAlgo;

/* "default", "direct", "im2col", "winograd"; NULL out of range. */
const char *conv_algo_name(ConvAlgo a);

typedef struct ConvParams {
    int in_c, out_c;      /* C and K */
    int kh, kw;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int groups;           /* C and K divisible by groups */
    int bias;             /* 1: learn a bias */
    InitScheme init;
    ConvAlgo algo;
} ConvParams;

/* Returns NULL and fills err when the params are invalid (names the value and the rule). */
Module *conv_module_new(const ConvParams *p, Err *err);
/* Whether m is a conv module that runs Winograd on its input shape (set up by the net). */
int conv_module_winograd(const Module *m);

/* ---- kernels on raw arrays (the module calls these; tests call them directly) ----
 * Shapes: x, dx (n, C, in_h, in_w); y, dy (n, K, Ho, Wo); w, dw (K, C/groups, kh, kw);
 * b, db (K). p must be valid (conv_module_new's rules) and the window must fit the padded
 * input. ws: nthreads slices of ws_stride floats, 64-byte aligned, each of at least
 * conv_ws_floats(p, in_h, in_w) floats; its contents are scratch.
 *
 * Threads: images are spread over nthreads OpenMP threads, each running conv_simd tiles or
 * single-threaded GEMMs on blocks of output pixels (row bands of one image, or several small
 * images side by side; see conv.c). y and dx do not depend on the thread count; dw and db are
 * summed per thread and then over threads in thread order, so they are bit-identical for a
 * given thread count only. */

/* Ho and Wo for an in_h x in_w input; 0 when the window does not fit the padded input. */
int conv_out_h(const ConvParams *p, int in_h);
int conv_out_w(const ConvParams *p, int in_w);
/* Per-thread workspace floats that conv_forward and conv_backward need. */
size_t conv_ws_floats(const ConvParams *p, int in_h, int in_w);
/* Whether p on an in_h x in_w input runs Winograd (forward and input gradient). */
int conv_uses_winograd(const ConvParams *p, int in_h, int in_w);

/* y [OUT]; x [IN]; w [IN]; b [IN, OPTIONAL: NULL when p->bias is 0]; ws [SCRATCH]. */
void conv_forward(float *y, const float *x, const float *w, const float *b, float *ws,
                  size_t ws_stride, const ConvParams *p, int n, int in_h, int in_w,
                  int nthreads);
/* dx [OUT, overwritten; OPTIONAL: NULL skips the input gradient]; dw [ACCUMULATED];
 * db [ACCUMULATED, OPTIONAL: NULL when p->bias is 0]; dy [IN]; x [IN]: the forward's input;
 * w [IN]; ws [SCRATCH]. */
void conv_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                   const float *w, float *ws, size_t ws_stride, const ConvParams *p, int n,
                   int in_h, int in_w, int nthreads);
/* Reference: the plain seven-deep loop nest, summing in double, single-threaded.
 * y [OUT]; x [IN]; w [IN]; b [IN, OPTIONAL]. */
void conv_forward_direct(float *y, const float *x, const float *w, const float *b,
                         const ConvParams *p, int n, int in_h, int in_w);

#endif
