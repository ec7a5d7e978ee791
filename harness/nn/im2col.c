/*
 * im2col.c: im2col and its adjoint col2im for one image. See im2col.h for the layout.
 *
 * Each cols row is one (c, i, j) window offset; along a row, output pixel (oh, ow) reads input
 * (oh sh - ph + i, ow sw - pw + j). The output rows and columns that read inside the image form
 * intervals (valid_range), computed once per (i, j), so the inner loops carry no bounds tests
 * and the padding is written as runs of zeros. Stride-1 "same" convs (wo == w) copy each
 * (c, i, j) row as one run. Inner loops are `omp simd` loops rather than libc calls.
 * Reference: Chellapilla et al., "High performance convolutional neural networks for
 * document processing" (2006); Caffe's im2col_cpu.
 */
#include "nn/im2col.h"

#include <string.h>

int im2col_geom(Im2colGeom *g, int c, int h, int w, int kh, int kw, int sh, int sw, int ph,
                int pw)
{
    *g = (Im2colGeom){c, h, w, kh, kw, sh, sw, ph, pw, 0, 0};
    if (c < 1 || h < 1 || w < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 ||
        h + 2 * ph < kh || w + 2 * pw < kw)
        return -1;
    g->ho = (h + 2 * ph - kh) / sh + 1;
    g->wo = (w + 2 * pw - kw) / sw + 1;
    return 0;
}

/* The output indices o in [*lo, *hi) of an axis of n_out outputs whose input index
 * o s - pad + j lies in [0, n_in). Used for columns (ow) and for rows (oh). */
static void valid_range(int n_in, int n_out, int s, int pad, int j, int *lo, int *hi)
{
    int first = pad - j;            /* need o s >= pad - j */
    int last = n_in - 1 + pad - j;  /* need o s <= n_in - 1 + pad - j */
    int a = first <= 0 ? 0 : (first + s - 1) / s;
    int b = last < 0 ? 0 : last / s + 1;
    if (b > n_out)
        b = n_out;
    if (a > b)
        a = b;
    *lo = a;
    *hi = b;
}

/* Plain loops rather than memset/memcpy: the segments are one output row (4 to 32 floats on
 * CIFAR), where a libc call per segment cost more than the copy; `omp simd` vectorises them
 * under the project's -O2 (whose cost model would not). */
static void zero_floats(float *dst, size_t n)
{
#pragma omp simd
    for (size_t k = 0; k < n; k++)
        dst[k] = 0.0f;
}

static void copy_floats(float *restrict dst, const float *restrict src, size_t n)
{
#pragma omp simd
    for (size_t k = 0; k < n; k++)
        dst[k] = src[k];
}

static void add_floats(float *restrict dst, const float *restrict src, size_t n)
{
#pragma omp simd
    for (size_t k = 0; k < n; k++)
        dst[k] += src[k];
}

void im2col(float *cols, size_t ldc, const float *x, const Im2colGeom *g, int oh0, int oh1)
{
    const int w = g->w, wo = g->wo, sh = g->sh, sw = g->sw;
    /* stride 1 with wo == w: a cols row (over output rows) is the input plane shifted by a
     * constant offset, so the valid rows copy as one run; only the padding columns at each
     * row's ends (which the run fills with the neighbouring row's pixels) are zeroed after. */
    const int run = sh == 1 && sw == 1 && wo == w;
    size_t row = 0;
    for (int c = 0; c < g->c; c++) {
        const float *xc = x + (size_t)c * (size_t)g->h * (size_t)w;
        for (int i = 0; i < g->kh; i++) {
            int a, b; /* output rows whose input row is inside the image */
            valid_range(g->h, g->ho, sh, g->ph, i, &a, &b);
            a = a < oh0 ? oh0 : a > oh1 ? oh1 : a;
            b = b > oh1 ? oh1 : b < a ? a : b;
            for (int j = 0; j < g->kw; j++, row++) {
                float *dst = cols + row * ldc; /* output row oh0 */
                int lo, hi;
                const int shift = j - g->pw; /* input column = ow sw + shift */
                valid_range(w, wo, sw, g->pw, j, &lo, &hi);
                zero_floats(dst, (size_t)(a - oh0) * (size_t)wo);
                zero_floats(dst + (size_t)(b - oh0) * (size_t)wo, (size_t)(oh1 - b) * (size_t)wo);
                if (a == b)
                    continue;
                if (lo == hi) {
                    zero_floats(dst + (size_t)(a - oh0) * (size_t)wo, (size_t)(b - a) * (size_t)wo);
                    continue;
                }
                if (run) {
                    /* from (row a, column lo) to (row b - 1, column hi - 1) */
                    const size_t ih_a = (size_t)(a - g->ph + i);
                    copy_floats(dst + (size_t)(a - oh0) * (size_t)wo + lo,
                                xc + ih_a * (size_t)w + lo + shift,
                                (size_t)(b - a - 1) * (size_t)wo + (size_t)(hi - lo));
                    for (int oh = a; oh < b; oh++) {
                        float *d = dst + (size_t)(oh - oh0) * (size_t)wo;
                        zero_floats(d, (size_t)lo);
                        zero_floats(d + hi, (size_t)(wo - hi));
                    }
                    continue;
                }
                for (int oh = a; oh < b; oh++) {
                    float *d = dst + (size_t)(oh - oh0) * (size_t)wo;
                    const float *src = xc + (size_t)(oh * sh - g->ph + i) * (size_t)w;
                    zero_floats(d, (size_t)lo);
                    if (sw == 1) {
                        copy_floats(d + lo, src + lo + shift, (size_t)(hi - lo));
                    } else {
                        for (int ow = lo; ow < hi; ow++)
                            d[ow] = src[ow * sw + shift];
                    }
                    zero_floats(d + hi, (size_t)(wo - hi));
                }
            }
        }
    }
}

void im2col_col2im(float *dx, const float *dcols, size_t ldc, const Im2colGeom *g, int oh0,
                   int oh1)
{
    const int w = g->w, wo = g->wo, sh = g->sh, sw = g->sw;
    size_t row = 0;
    for (int c = 0; c < g->c; c++) {
        float *dxc = dx + (size_t)c * (size_t)g->h * (size_t)w;
        for (int i = 0; i < g->kh; i++) {
            int a, b;
            valid_range(g->h, g->ho, sh, g->ph, i, &a, &b);
            a = a < oh0 ? oh0 : a > oh1 ? oh1 : a;
            b = b > oh1 ? oh1 : b < a ? a : b;
            for (int j = 0; j < g->kw; j++, row++) {
                /* forward: cols[row][oh wo + ow] = x[c][oh sh - ph + i][ow sw - pw + j];
                 * backward: that pixel gathers the gradient of every column that read it,
                 * and padding columns are dropped. */
                const float *src = dcols + row * ldc;
                int lo, hi;
                const int shift = j - g->pw;
                valid_range(w, wo, sw, g->pw, j, &lo, &hi);
                for (int oh = a; oh < b; oh++) {
                    const float *s = src + (size_t)(oh - oh0) * (size_t)wo;
                    float *d = dxc + (size_t)(oh * sh - g->ph + i) * (size_t)w;
                    if (sw == 1) {
                        add_floats(d + lo + shift, s + lo, (size_t)(hi - lo));
                    } else {
                        for (int ow = lo; ow < hi; ow++)
                            d[ow * sw + shift] += s[ow];
                    }
                }
            }
        }
    }
}
