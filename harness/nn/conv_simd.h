/*
 * conv_simd.h: direct convolution (no im2col) for stride-1 "same" convolutions (output as large
 * as the input: 2 pad = window - 1, e.g. 3x3 with padding 1, the bulk of a ResNet), with
 * AVX-512 register tiles. conv.c uses it, where it pays, for y, for dx (itself a "same"
 * convolution of dy with the flipped weights) and for dW; everything else stays on im2col + GEMM.
 *
 * Method (y): a tile of the output is CONV_SIMD_KB output channels by two 16-pixel vectors of
 * the flattened map (p = oh W + ow), held in 16 accumulators. For each input channel and window
 * tap (i, j) the tile loads the two input vectors at p + (i - ph) W + (j - pw) from a zero-padded
 * copy of the image (ph rows of zeros above and below, and slack), zeroes the lanes whose column
 * wrapped into the neighbouring row (a mask per vector and j), and adds one broadcast weight
 * times each vector to each accumulator with a fused multiply-add. Weights are packed per call
 * as (groups, K-blocks, C/groups, kh, kw, CONV_SIMD_KB). Any map size works: a vector may span
 * several rows (8x8 and 4x4 maps); when an image has an odd number of vectors a tile's two
 * vectors may come from consecutive images, so calls take g->chunk images.
 * Method (dW): a tile is CONV_SIMD_KB output channels by one input channel, one window row and
 * CONV_SIMD_JB window columns (24 accumulators), summed over the pixels of g->wchunk images as
 * dy vector times shifted input vector, then reduced across lanes into dW.
 *
 * Numerics: each y is the sum over (c, i, j) in that order, in float32 with one rounding per
 * fused multiply-add, so it depends neither on the thread count nor on the batch; each dW call
 * adds one float per element (lane-wise sums in a fixed order, then a fixed lane tree).
 * Without AVX-512 conv_simd_geom returns -1 and conv.c keeps im2col + GEMM everywhere.
 * Reference: the "direct convolution" of Georganas et al., "Anatomy of High-Performance Deep
 * Learning Convolutions on SIMD Architectures" (SC 2018), here on NCHW without relayout.
 * Non-goals: strides other than 1, dilation, other vector widths.
 */
#ifndef CONV_SIMD_H
#define CONV_SIMD_H

#include <stddef.h>

/* Output channels per register tile; two 16-float vectors of pixels each. */
#define CONV_SIMD_KB 8

/* One "same" convolution: x (c, h, w) -> y (k, h, w) per image. */
typedef struct ConvSimdGeom {
    int c, k, h, w, kh, kw, groups;
    int ph, pw;          /* (kh - 1) / 2, (kw - 1) / 2 */
    int cg, kg;          /* channels per group, in and out */
    int kblocks;         /* K-blocks per group: ceil(kg / CONV_SIMD_KB) */
    int nv;              /* 16-pixel vectors per image: ceil(h w / 16) */
    int chunk;           /* images per conv_simd_forward call: 2 when nv is odd, else 1 */
    int wchunk;          /* at most this many images per conv_simd_weight_grad call */
    size_t front;        /* zeros before pixel 0 in a padded channel */
    size_t plane;        /* floats per padded channel, a multiple of 16 */
    size_t x_size, y_size;         /* c h w and k h w: one image */
    int pack_blocks;     /* groups kblocks: conv_simd_pack's unit of work */
    size_t pack_floats;  /* conv_simd_pack's output */
    size_t off_dyp, off_masks; /* scratch layout: padded images, packed dy, lane masks */
    size_t ws_floats;    /* per-thread scratch */
} ConvSimdGeom;

/* Fills g for a stride-1 convolution with the given window and padding; returns -1 (g unusable)
 * unless the build has AVX-512, 2 ph = kh - 1, 2 pw = kw - 1, and the sizes are >= 1. */
int conv_simd_geom(ConvSimdGeom *g, int c, int k, int h, int w, int kh, int kw, int ph, int pw,
                   int groups);

/* Packs weights for g, blocks [b0, b1) of g->pack_blocks (so that threads can share the work).
 * wp [OUT]: g->pack_floats floats. w [IN]: with flip = 0, g's own weights (k, c/groups, kh, kw);
 * with flip = 1, those of the convolution whose input gradient g computes, (c, k/groups, kh, kw):
 * g then uses them with in and out channels swapped and both window axes reversed. */
void conv_simd_pack(float *wp, const float *w, const ConvSimdGeom *g, int flip, int b0, int b1);

/* Fills the lane masks in a thread's scratch ws (g->ws_floats floats, 64-byte aligned); once
 * per call of the caller, before that thread's conv_simd_forward calls with the same g. */
void conv_simd_prepare(float *ws, const ConvSimdGeom *g);

/* nb (1 .. g->chunk) images: y [OUT]: (nb, k, h, w); x [IN]: (nb, c, h, w); wp [IN]: packed;
 * ws [SCRATCH]: as conv_simd_prepare left it. */
void conv_simd_forward(float *y, const float *x, const float *wp, float *ws,
                       const ConvSimdGeom *g, int nb);

/* Weight gradient of nb (1 .. g->wchunk) images: dw [ACCUMULATED]: (k, c/groups, kh, kw);
 * dy [IN]: (nb, k, h, w); x [IN]: (nb, c, h, w), the forward's input; ws [SCRATCH]: as
 * conv_simd_prepare left it. Each dw element gains one float sum per call: per lane, the
 * products over (image, pixel) in order, then the 16 lanes added in a fixed tree. */
void conv_simd_weight_grad(float *dw, const float *dy, const float *x, float *ws,
                           const ConvSimdGeom *g, int nb);

#endif
