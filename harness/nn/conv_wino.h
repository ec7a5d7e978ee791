/*
 * conv_wino.h: Winograd F(2x2, 3x3) convolution (Lavin and Gray, "Fast Algorithms for
 * Convolutional Neural Networks", CVPR 2016) for 3x3, stride-1, pad-1 layers whose channel
 * counts are multiples of 16, with AVX-512: y, and dW; dx is the same convolution of dy with
 * the flipped weights (conv.c packs them with flip = 1).
 *
 * Method. The output is cut into 2x2 tiles, tile (i, j) reading the 4x4 input patch d at rows
 * 2i - 1 .. 2i + 2 and columns 2j - 1 .. 2j + 2 (zeros outside the map). Per tile, input
 * channel c and output channel k:
 *     U = G g G^T (4x4, per (c, k))      V = B^T d B (4x4, per (tile, c))
 *     M[xi] = sum over c of U[xi] V[xi], for each of the 16 positions xi of the 4x4
 *     y (2x2) = A^T M A
 * with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 * A^T = [1 1 1 0; 0 1 -1 -1]: 16 multiplies per tile and channel pair instead of 36. The
 * element-wise stage is 16 matrix products (tiles x C) (C x K), one per xi.
 * Weight gradient: y is linear in U, so dU[xi] = sum over tiles of V[xi] dM[xi] with
 * dM = A dy A^T (dy the tile's 2x2 output gradient), and dW = G^T dU G.
 *
 * Layout. The transforms run with 16 channels in a vector, so images are first transposed to
 * NHWC (16x16 register transposes), the input with a zero border; V is (16, tiles, C) and M
 * (16, tiles, K) for a block of CONV_WINO_TBLK tiles; the element-wise products are register
 * tiles of 8 tiles x 32 output channels (16 x 16 when K is an odd multiple of 16), broadcast
 * V times a vector of U; the outputs are transposed back to NCHW.
 *
 * Numerics: the transforms have coefficients 0, +-1 and +-1/2; y differs from the direct sum
 * by a few float roundings (tests/engine/test_conv.c bounds it against the double reference).
 * Each tile's y depends only on its own patch, summed over c in order, so y does not depend on
 * the batch, the chunking or the thread count. dU gains one float sum per call (tiles in
 * order); the caller sums the threads' dW in a fixed order.
 * Without AVX-512, or for other shapes, conv_wino_geom returns -1.
 */
#ifndef CONV_WINO_H
#define CONV_WINO_H

#include <stddef.h>

/* Tiles per block of the element-wise stage: a multiple of 16. */
#define CONV_WINO_TBLK 64

typedef struct ConvWinoGeom {
    int c, k, h, w;      /* input channels, output channels, map (same in and out) */
    int th, tw, tiles;   /* tiles per image: ceil(h / 2), ceil(w / 2), th tw */
    int xh, xw;          /* the NHWC input with its zero border: 2 th + 2 rows, 2 tw + 2 columns */
    int chunk;           /* at most this many images per call */
    size_t x_size, y_size;       /* c h w and k h w: one image, NCHW */
    size_t u_floats;     /* 16 c k: transformed weights (conv_wino_pack) and dU */
    size_t off_yt, off_v, off_m; /* scratch layout (floats): see conv_wino.c */
    size_t ws_floats;    /* per-thread scratch */
} ConvWinoGeom;

/* Fills g for a 3x3 convolution of c to k channels on h x w maps with stride 1 and padding 1;
 * returns -1 (g unusable) without AVX-512, unless c and k are multiples of 16, or for empty
 * maps. */
int conv_wino_geom(ConvWinoGeom *g, int c, int k, int h, int w);

/* Transforms weights for g, input channels [q0, q1) (so that threads can share the work).
 * u [OUT]: g->u_floats floats, (16, c, k). w [IN]: with flip = 0, g's own weights (k, c, 3, 3);
 * with flip = 1, those of the convolution whose input gradient g computes, (c, k, 3, 3): g
 * then uses them with in and out channels swapped and the window reversed. */
void conv_wino_pack(float *u, const float *w, const ConvWinoGeom *g, int flip, int q0, int q1);

/* nb (1 .. g->chunk) images: y [OUT]: (nb, k, h, w); x [IN]: (nb, c, h, w); u [IN]: packed;
 * ws [SCRATCH]: g->ws_floats floats, 64-byte aligned. */
void conv_wino_forward(float *y, const float *x, const float *u, float *ws,
                       const ConvWinoGeom *g, int nb);

/* Weight gradient of nb (1 .. g->chunk) images in the transformed domain: du [ACCUMULATED]:
 * g->u_floats floats, (16, c, k); dy [IN]: (nb, k, h, w); x [IN]: (nb, c, h, w), the
 * forward's input; ws [SCRATCH] as for conv_wino_forward. */
void conv_wino_weight_grad(float *du, const float *dy, const float *x, float *ws,
                           const ConvWinoGeom *g, int nb);

/* dw [ACCUMULATED]: (k, c, 3, 3) += G^T dU G for every (k, c); du [IN]: as
 * conv_wino_weight_grad left it. */
void conv_wino_weight_finish(float *dw, const float *du, const ConvWinoGeom *g);

#endif
