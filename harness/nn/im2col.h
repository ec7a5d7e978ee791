/*
 * im2col.h: unfolds one image's convolution windows into a column matrix (im2col) and folds a
 * column matrix back onto the image, summing overlaps (its adjoint, col2im), as in Caffe and
 * THNN's SpatialConvolutionMM. Convolution then becomes y = W cols, a single GEMM.
 *
 * Layout: x and dx are one image (C, H, W). cols has C kh kw rows in (c, i, j) order, the
 * order of a conv weight (K, C, kh, kw) flattened per output channel, and Ho Wo columns in
 * (oh, ow) order, so that W (K, C kh kw) times cols gives y (K, Ho Wo) directly. A call may
 * cover a band of output rows [oh0, oh1) only. Consecutive rows are ldc floats apart (ldc at
 * least the columns written), which lets several images sit side by side in one matrix: image
 * b of a chunk starts at column b Ho Wo. Entries that fall into the zero padding are written
 * as 0 (im2col) and dropped (col2im).
 *
 * Non-goals: dilation, channels-last layouts.
 */
#ifndef IM2COL_H
#define IM2COL_H

#include <stddef.h>

/* Geometry of one image's unfolding; ho and wo follow from the others (im2col_geom). */
typedef struct Im2colGeom {
    int c, h, w;      /* input channels and size */
    int kh, kw;       /* window */
    int sh, sw;       /* stride */
    int ph, pw;       /* zero padding on each side */
    int ho, wo;       /* output size: (h + 2 ph - kh) / sh + 1, likewise wo */
} Im2colGeom;

/* Fills g and computes ho, wo. Returns -1 (and leaves ho, wo at 0) when a size, window or
 * stride is < 1, a padding is < 0, or the window is larger than the padded input. */
int im2col_geom(Im2colGeom *g, int c, int h, int w, int kh, int kw, int sh, int sw, int ph,
                int pw);

/* Unfolds output rows [oh0, oh1): cols [OUT]: (c kh kw) rows of ldc floats, of which columns
 * [0, (oh1 - oh0) wo) are written, column (oh - oh0) wo + ow for output pixel (oh, ow);
 * x [IN]: (c, h, w). The whole image is oh0 = 0, oh1 = ho. */
void im2col(float *cols, size_t ldc, const float *x, const Im2colGeom *g, int oh0, int oh1);

/* The adjoint of im2col over the same rows: dx [ACCUMULATED]: (c, h, w), each pixel gains the
 * dcols entries that im2col would have copied from it (the caller zeroes dx once per image,
 * then folds its row blocks in a fixed order); dcols [IN]: as im2col's cols. */
void im2col_col2im(float *dx, const float *dcols, size_t ldc, const Im2colGeom *g, int oh0,
                   int oh1);

#endif
