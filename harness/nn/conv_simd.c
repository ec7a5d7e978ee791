/*
 * conv_simd.c: direct AVX-512 convolution for stride-1 "same" convolutions. See conv_simd.h for
 * the method and the layouts.
 *
 * Why intrinsics: the project compiles with -std=c11, under which GCC does not contract a * b + c
 * into a fused multiply-add (-ffp-contract=off), and a register tile without FMAs ran at half the
 * speed (measured here: 73 vs 128 GFLOP/s on the 16-channel 32x32 layer of a ResNet). The
 * intrinsics make the FMAs explicit, and the kernel exists only where they exist.
 */
#include "nn/conv_simd.h"

#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* Floats per vector, and the alignment of each padded channel. */
#define CONV_SIMD_VEC 16
/* Weight-gradient tiles: window columns per tile (a 3-wide window in one), and the pixel vectors
 * summed before the tile's 24 horizontal sums (64 and 128 measured no faster). */
#define CONV_SIMD_JB 3
#define CONV_SIMD_WGRAD_VECS 32

#ifdef __AVX512F__
static size_t round_vec(size_t n)
{
    return (n + CONV_SIMD_VEC - 1) / CONV_SIMD_VEC * CONV_SIMD_VEC;
}
#endif

int conv_simd_geom(ConvSimdGeom *g, int c, int k, int h, int w, int kh, int kw, int ph, int pw,
                   int groups)
{
    memset(g, 0, sizeof *g);
#ifndef __AVX512F__
    (void)c, (void)k, (void)h, (void)w, (void)kh, (void)kw, (void)ph, (void)pw, (void)groups;
    return -1;
#else
    if (c < 1 || k < 1 || h < 1 || w < 1 || kh < 1 || kw < 1 || groups < 1 || c % groups ||
        k % groups || 2 * ph != kh - 1 || 2 * pw != kw - 1)
        return -1;
    *g = (ConvSimdGeom){.c = c, .k = k, .h = h, .w = w, .kh = kh, .kw = kw, .groups = groups,
                        .ph = ph, .pw = pw, .cg = c / groups, .kg = k / groups};
    const size_t hw = (size_t)h * (size_t)w, reach = (size_t)ph * (size_t)w + (size_t)pw;
    g->kblocks = (g->kg + CONV_SIMD_KB - 1) / CONV_SIMD_KB;
    g->nv = (int)((hw + CONV_SIMD_VEC - 1) / CONV_SIMD_VEC);
    /* an odd vector count would leave every image's last tile half empty */
    g->chunk = g->nv % 2 ? 2 : 1;
    /* enough vectors per weight-gradient call that the horizontal sums at its end are cheap */
    g->wchunk = (CONV_SIMD_WGRAD_VECS + g->nv - 1) / g->nv;
    if (g->wchunk < g->chunk)
        g->wchunk = g->chunk;
    /* a tap reads up to reach floats before pixel 0 and after the last vector's end */
    g->front = round_vec(reach);
    g->plane = round_vec(g->front + (size_t)g->nv * CONV_SIMD_VEC + reach);
    g->x_size = (size_t)c * hw;
    g->y_size = (size_t)k * hw;
    g->pack_blocks = groups * g->kblocks;
    g->pack_floats = (size_t)g->pack_blocks * (size_t)g->cg * (size_t)kh * (size_t)kw *
                     CONV_SIMD_KB;
    /* padded images, dy packed for conv_simd_weight_grad, one 16-bit lane mask per (vector, j) */
    g->off_dyp = (size_t)g->wchunk * (size_t)c * g->plane;
    g->off_masks = g->off_dyp + (size_t)g->wchunk * (size_t)g->nv * CONV_SIMD_KB * CONV_SIMD_VEC;
    g->ws_floats = g->off_masks + round_vec(((size_t)g->nv * (size_t)kw + 1) / 2);
    return 0;
#endif
}

void conv_simd_pack(float *wp, const float *w, const ConvSimdGeom *g, int flip, int b0, int b1)
{
    const size_t win = (size_t)g->kh * (size_t)g->kw, cg = (size_t)g->cg, kg = (size_t)g->kg;
    for (int blk = b0; blk < b1; blk++) {
        const size_t gr = (size_t)(blk / g->kblocks), kb = (size_t)(blk % g->kblocks);
        float *dst = wp + (size_t)blk * cg * win * CONV_SIMD_KB;
        for (size_t q = 0; q < cg; q++) {
            for (size_t t = 0; t < win; t++) {
                for (size_t a = 0; a < CONV_SIMD_KB; a++) {
                    const size_t o = kb * CONV_SIMD_KB + a; /* output channel in the group */
                    float v = 0.0f;                         /* rows past kg stay zero */
                    if (o < kg && !flip)
                        v = w[((gr * kg + o) * cg + q) * win + t];
                    else if (o < kg)
                        v = w[((gr * cg + q) * kg + o) * win + (win - 1 - t)];
                    dst[(q * win + t) * CONV_SIMD_KB + a] = v;
                }
            }
        }
    }
}

#ifdef __AVX512F__
/* Zero-padded copies of nb images x (nb, c, h, w) into xp: per channel, front zeros, the map,
 * zeros to the plane's end. */
static void pad_images(float *xp, const float *x, const ConvSimdGeom *g, int nb)
{
    const size_t hw = (size_t)g->h * (size_t)g->w;
    for (size_t ch = 0; ch < (size_t)nb * (size_t)g->c; ch++) {
        float *d = xp + ch * g->plane;
        memset(d, 0, g->front * sizeof(float));
        memcpy(d + g->front, x + ch * hw, hw * sizeof(float));
        memset(d + g->front + hw, 0, (g->plane - g->front - hw) * sizeof(float));
    }
}

/* One tile: CONV_SIMD_KB output channels of two pixel vectors. x0, x1: the vectors' first pixel
 * in the group's first input channel (padded copies); m0, m1: their lane masks per j; wk: the
 * block's packed weights; y0, y1: the vectors' first output in the block's first channel (y1
 * NULL: the tile has one vector); n_out: channels of the block that exist; sm0, sm1: the lanes
 * inside the map. */
static void tile(float *y0, float *y1, const float *x0, const float *x1, const __mmask16 *m0,
                 const __mmask16 *m1, const float *wk, const ConvSimdGeom *g, size_t hw,
                 int n_out, __mmask16 sm0, __mmask16 sm1)
{
    __m512 acc0[CONV_SIMD_KB], acc1[CONV_SIMD_KB];
    /* constant trip counts throughout, so that the accumulators stay in registers */
#pragma GCC unroll 8
    for (int a = 0; a < CONV_SIMD_KB; a++) {
        acc0[a] = _mm512_setzero_ps();
        acc1[a] = _mm512_setzero_ps();
    }
    for (int q = 0; q < g->cg; q++, x0 += g->plane, x1 += g->plane) {
        for (int i = 0; i < g->kh; i++) {
            const ptrdiff_t row = (ptrdiff_t)(i - g->ph) * g->w - g->pw;
            for (int j = 0; j < g->kw; j++, wk += CONV_SIMD_KB) {
                const __m512 v0 = _mm512_maskz_loadu_ps(m0[j], x0 + row + j);
                const __m512 v1 = _mm512_maskz_loadu_ps(m1[j], x1 + row + j);
#pragma GCC unroll 8
                for (int a = 0; a < CONV_SIMD_KB; a++) {
                    const __m512 wv = _mm512_set1_ps(wk[a]);
                    acc0[a] = _mm512_fmadd_ps(wv, v0, acc0[a]);
                    acc1[a] = _mm512_fmadd_ps(wv, v1, acc1[a]);
                }
            }
        }
    }
#pragma GCC unroll 8
    for (int a = 0; a < CONV_SIMD_KB; a++) {
        if (a < n_out)
            _mm512_mask_storeu_ps(y0 + (size_t)a * hw, sm0, acc0[a]);
        if (a < n_out && y1)
            _mm512_mask_storeu_ps(y1 + (size_t)a * hw, sm1, acc1[a]);
    }
}
#endif

void conv_simd_prepare(float *ws, const ConvSimdGeom *g)
{
#ifndef __AVX512F__
    (void)ws, (void)g;
#else
    __mmask16 *masks = (__mmask16 *)(void *)(ws + g->off_masks);
    /* lane l of vector v is pixel p = 16 v + l in column p mod w; tap j reads column
     * p mod w + j - pw, which must lie in the row (else it is the neighbouring row's pixel) */
    int col0 = 0; /* column of the vector's lane 0 */
    for (int v = 0; v < g->nv; v++) {
        for (int j = 0; j < g->kw; j++) {
            unsigned m = 0;
            for (int l = 0, col = col0; l < CONV_SIMD_VEC; l++, col = col + 1 < g->w ? col + 1 : 0)
                if (col + j - g->pw >= 0 && col + j - g->pw < g->w)
                    m |= 1u << l;
            masks[(size_t)v * (size_t)g->kw + (size_t)j] = (__mmask16)m;
        }
        col0 = (int)(((size_t)col0 + CONV_SIMD_VEC) % (size_t)g->w);
    }
#endif
}

void conv_simd_forward(float *y, const float *x, const float *wp, float *ws,
                       const ConvSimdGeom *g, int nb)
{
#ifndef __AVX512F__
    (void)y, (void)x, (void)wp, (void)ws, (void)g, (void)nb;
#else
    const size_t hw = (size_t)g->h * (size_t)g->w, win = (size_t)g->kh * (size_t)g->kw;
    float *xp = ws;
    const __mmask16 *masks = (const __mmask16 *)(const void *)(ws + g->off_masks);
    pad_images(xp, x, g, nb);
    const int nvec = nb * g->nv; /* the chunk's vectors, image by image */
    for (int gr = 0; gr < g->groups; gr++) {
        for (int kb = 0; kb < g->kblocks; kb++) {
            const float *wblk = wp + (size_t)(gr * g->kblocks + kb) * (size_t)g->cg * win *
                                         CONV_SIMD_KB;
            const int k0 = gr * g->kg + kb * CONV_SIMD_KB;
            const int n_out = g->kg - kb * CONV_SIMD_KB < CONV_SIMD_KB
                                  ? g->kg - kb * CONV_SIMD_KB : CONV_SIMD_KB;
            for (int t = 0; t < nvec; t += 2) {
                const int t1 = t + 1 < nvec ? t + 1 : t; /* a lone last vector pairs itself */
                const int b0 = t / g->nv, v0 = t % g->nv, b1 = t1 / g->nv, v1 = t1 % g->nv;
                const size_t p0 = (size_t)v0 * CONV_SIMD_VEC, p1 = (size_t)v1 * CONV_SIMD_VEC;
                const __mmask16 sm0 = (__mmask16)(hw - p0 >= CONV_SIMD_VEC
                                                      ? 0xffffu : (1u << (hw - p0)) - 1u);
                const __mmask16 sm1 = (__mmask16)(hw - p1 >= CONV_SIMD_VEC
                                                      ? 0xffffu : (1u << (hw - p1)) - 1u);
                const size_t c0 = (size_t)(gr * g->cg);
                tile(y + ((size_t)b0 * (size_t)g->k + (size_t)k0) * hw + p0,
                     t1 != t ? y + ((size_t)b1 * (size_t)g->k + (size_t)k0) * hw + p1 : NULL,
                     xp + ((size_t)b0 * (size_t)g->c + c0) * g->plane + g->front + p0,
                     xp + ((size_t)b1 * (size_t)g->c + c0) * g->plane + g->front + p1,
                     masks + (size_t)v0 * (size_t)g->kw, masks + (size_t)v1 * (size_t)g->kw, wblk,
                     g, hw, n_out, sm0, sm1);
            }
        }
    }
#endif
}

#ifdef __AVX512F__
/* dy of output channels [k0, k0 + n_out) of nb images (nb, k, h, w) into dyp, vector by vector:
 * dyp[(n nv + v) CONV_SIMD_KB + a][16] holds channel k0 + a, pixels [16 v, 16 v + 16) of image n,
 * with zeros past the map and for a >= n_out. One pointer then reaches a tile's 8 dy vectors. */
static void pack_dy(float *dyp, const float *dy, const ConvSimdGeom *g, int nb, int k0,
                    int n_out)
{
    const size_t hw = (size_t)g->h * (size_t)g->w;
    for (int n = 0; n < nb; n++) {
        for (int v = 0; v < g->nv; v++) {
            const size_t p = (size_t)v * CONV_SIMD_VEC;
            const __mmask16 sm = (__mmask16)(hw - p >= CONV_SIMD_VEC ? 0xffffu
                                                                      : (1u << (hw - p)) - 1u);
            for (int a = 0; a < CONV_SIMD_KB; a++, dyp += CONV_SIMD_VEC) {
                const float *src = dy + ((size_t)n * (size_t)g->k + (size_t)(k0 + a)) * hw + p;
                _mm512_store_ps(dyp, a < n_out ? _mm512_maskz_loadu_ps(sm, src)
                                               : _mm512_setzero_ps());
            }
        }
    }
}

/* Weight-gradient tile: dW at (k0 + a, c, i, j0 + jj) for a < n_out, jj < CONV_SIMD_JB (columns
 * >= kw masked off) gains the sum over nb images and their pixels of dy (from pack_dy) times
 * the input shifted by the tap. xq: input channel c's padded plane of image 0 at pixel 0
 * (image stride xs); dwk: dW at (k0, c, i, j0). */
static void wgrad_tile(float *dwk, const float *dyp, const float *xq, const __mmask16 *masks,
                       const ConvSimdGeom *g, int nb, size_t xs, int i, int j0, int n_out)
{
    const size_t cwin = (size_t)g->cg * (size_t)g->kh * (size_t)g->kw; /* dW channel stride */
    __m512 acc[CONV_SIMD_KB][CONV_SIMD_JB];
#pragma GCC unroll 8
    for (int a = 0; a < CONV_SIMD_KB; a++)
#pragma GCC unroll 3
        for (int jj = 0; jj < CONV_SIMD_JB; jj++)
            acc[a][jj] = _mm512_setzero_ps();
    const ptrdiff_t row = (ptrdiff_t)(i - g->ph) * g->w + j0 - g->pw;
    const int n_j = g->kw - j0 < CONV_SIMD_JB ? g->kw - j0 : CONV_SIMD_JB;
    for (int n = 0; n < nb; n++) {
        const float *xn = xq + (size_t)n * xs + row;
        const __mmask16 *mv = masks + j0;
        for (int v = 0; v < g->nv; v++, xn += CONV_SIMD_VEC, mv += g->kw) {
            __m512 xv[CONV_SIMD_JB];
#pragma GCC unroll 3
            for (int jj = 0; jj < CONV_SIMD_JB; jj++)
                xv[jj] = _mm512_maskz_loadu_ps(jj < n_j ? mv[jj] : 0, xn + (jj < n_j ? jj : 0));
#pragma GCC unroll 8
            for (int a = 0; a < CONV_SIMD_KB; a++, dyp += CONV_SIMD_VEC) {
                const __m512 d = _mm512_load_ps(dyp);
#pragma GCC unroll 3
                for (int jj = 0; jj < CONV_SIMD_JB; jj++)
                    acc[a][jj] = _mm512_fmadd_ps(d, xv[jj], acc[a][jj]);
            }
        }
    }
#pragma GCC unroll 8
    for (int a = 0; a < CONV_SIMD_KB; a++)
#pragma GCC unroll 3
        for (int jj = 0; jj < CONV_SIMD_JB; jj++)
            if (a < n_out && jj < n_j)
                dwk[(size_t)a * cwin + (size_t)jj] += _mm512_reduce_add_ps(acc[a][jj]);
}
#endif

void conv_simd_weight_grad(float *dw, const float *dy, const float *x, float *ws,
                           const ConvSimdGeom *g, int nb)
{
#ifndef __AVX512F__
    (void)dw, (void)dy, (void)x, (void)ws, (void)g, (void)nb;
#else
    const size_t win = (size_t)g->kh * (size_t)g->kw;
    float *xp = ws, *dyp = ws + g->off_dyp;
    const __mmask16 *masks = (const __mmask16 *)(const void *)(ws + g->off_masks);
    pad_images(xp, x, g, nb);
    for (int gr = 0; gr < g->groups; gr++) {
        for (int kb = 0; kb < g->kblocks; kb++) {
            const int k0 = gr * g->kg + kb * CONV_SIMD_KB;
            const int n_out = g->kg - kb * CONV_SIMD_KB < CONV_SIMD_KB
                                  ? g->kg - kb * CONV_SIMD_KB : CONV_SIMD_KB;
            pack_dy(dyp, dy, g, nb, k0, n_out);
            for (int q = 0; q < g->cg; q++) {
                const int c = gr * g->cg + q;
                for (int i = 0; i < g->kh; i++)
                    for (int j0 = 0; j0 < g->kw; j0 += CONV_SIMD_JB)
                        wgrad_tile(dw + ((size_t)k0 * (size_t)g->cg + (size_t)q) * win +
                                       (size_t)i * (size_t)g->kw + (size_t)j0,
                                   dyp, xp + (size_t)c * g->plane + g->front, masks, g, nb,
                                   (size_t)g->c * g->plane, i, j0, n_out);
            }
        }
    }
#endif
}
