/*
 * conv.h: 2-D convolution, NCHW, with kernel size, stride, padding, groups and optional bias.
 * Fast path: im2col + one single-threaded SGEMM per image, images spread over threads (measured
 * here 1.5-3x faster than one threaded GEMM on PreAct ResNet-18 shapes); 1x1 stride-1 convs skip
 * im2col. Reference path: conv_forward_direct, a plain loop nest used by the tests.
 *
 * Shapes: x (N, C, H, W); w (K, C/groups, kh, kw); b (K) or NULL; y (N, K, Ho, Wo) with
 * Ho = (H + 2 pad_h - kh) / stride_h + 1, likewise Wo. Dilation is not supported.
 */
#ifndef CONV_H
#define CONV_H

#include "module.h"

typedef struct ConvParams {
    int in_c, out_c;      /* C and K */
    int kh, kw;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int groups;           /* C and K divisible by groups */
    int bias;             /* 1: learn a bias */
    InitScheme init;
} ConvParams;

/* Returns NULL and fills err when the params are invalid (names the value and the rule). */
Module *conv_module_new(const ConvParams *p, Err *err);

#endif
