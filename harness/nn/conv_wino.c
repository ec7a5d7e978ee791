/*
 * conv_wino.c: Winograd F(2x2, 3x3) convolution with AVX-512. See conv_wino.h for the method
 * and the numerics.
 *
 * Scratch (per thread, floats, each region a multiple of 16):
 *   xt  [0, off_yt)        the chunk's input, NHWC, zero border: (nb, xh, xw, c)
 *   yt  [off_yt, off_v)    the chunk's output (forward) or dy (weight gradient), NHWC on the
 *                          tile grid: (nb, 2 th, 2 tw, k)
 *   v   [off_v, off_m)     V of a block of tiles: (16, CONV_WINO_TBLK, c)
 *   m   [off_m, ...)       M (forward) or dM (weight gradient) of the block: (16, TBLK, k)
 * Tile t of a call is image t / tiles, tile row (t % tiles) / tw, tile column (t % tiles) % tw.
 *
 * Intrinsics for the same reason as conv_simd.c: -std=c11 turns off FMA contraction.
 */
#include "nn/conv_wino.h"

#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* Floats per vector. */
#define WV 16
/* Images per call: enough for a block of tiles (one image from 16x16 maps up). */
#define CONV_WINO_MIN_TILES CONV_WINO_TBLK

static size_t round16(size_t n) { return (n + WV - 1) / WV * WV; }

int conv_wino_geom(ConvWinoGeom *g, int c, int k, int h, int w)
{
    memset(g, 0, sizeof *g);
#ifndef __AVX512F__
    (void)c, (void)k, (void)h, (void)w, (void)round16;
    return -1;
#else
    if (c < WV || k < WV || c % WV || k % WV || h < 1 || w < 1)
        return -1;
    *g = (ConvWinoGeom){.c = c, .k = k, .h = h, .w = w, .th = (h + 1) / 2, .tw = (w + 1) / 2};
    g->tiles = g->th * g->tw;
    g->xh = 2 * g->th + 2;
    g->xw = 2 * g->tw + 2;
    g->chunk = (CONV_WINO_MIN_TILES + g->tiles - 1) / g->tiles;
    g->x_size = (size_t)c * (size_t)h * (size_t)w;
    g->y_size = (size_t)k * (size_t)h * (size_t)w;
    g->u_floats = 16 * (size_t)c * (size_t)k;
    const size_t xt = (size_t)g->chunk * (size_t)g->xh * (size_t)g->xw * (size_t)c;
    const size_t yt = (size_t)g->chunk * (size_t)(2 * g->th) * (size_t)(2 * g->tw) * (size_t)k;
    g->off_yt = round16(xt);
    g->off_v = g->off_yt + round16(yt);
    g->off_m = g->off_v + 16 * (size_t)CONV_WINO_TBLK * (size_t)c;
    g->ws_floats = g->off_m + 16 * (size_t)CONV_WINO_TBLK * (size_t)k;
    return 0;
#endif
}

/* U = G g G^T of one 3x3 window, in double: rows of G g, then its columns times G^T. */
static void filter_transform(double u[4][4], const double gw[3][3])
{
    double f[4][3];
    for (int j = 0; j < 3; j++) {
        f[0][j] = gw[0][j];
        f[1][j] = 0.5 * (gw[0][j] + gw[1][j] + gw[2][j]);
        f[2][j] = 0.5 * (gw[0][j] - gw[1][j] + gw[2][j]);
        f[3][j] = gw[2][j];
    }
    for (int r = 0; r < 4; r++) {
        u[r][0] = f[r][0];
        u[r][1] = 0.5 * (f[r][0] + f[r][1] + f[r][2]);
        u[r][2] = 0.5 * (f[r][0] - f[r][1] + f[r][2]);
        u[r][3] = f[r][2];
    }
}

void conv_wino_pack(float *u, const float *w, const ConvWinoGeom *g, int flip, int q0, int q1)
{
    const size_t c = (size_t)g->c, k = (size_t)g->k;
    for (size_t q = (size_t)q0; q < (size_t)q1; q++) {
        for (size_t o = 0; o < k; o++) {
            double gw[3][3], uu[4][4];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    gw[i][j] = flip ? w[(q * k + o) * 9 + (size_t)((2 - i) * 3 + (2 - j))]
                                    : w[(o * c + q) * 9 + (size_t)(i * 3 + j)];
            filter_transform(uu, gw);
            for (size_t xi = 0; xi < 16; xi++)
                u[(xi * c + q) * k + o] = (float)uu[xi / 4][xi % 4];
        }
    }
}

void conv_wino_weight_finish(float *dw, const float *du, const ConvWinoGeom *g)
{
    const size_t c = (size_t)g->c, k = (size_t)g->k;
    /* q outer: du is read along its rows (o), dw's 9-float windows stay in cache across q */
    for (size_t q = 0; q < c; q++) {
        for (size_t o = 0; o < k; o++) {
            double s[4][4], h[3][4];
            for (size_t xi = 0; xi < 16; xi++)
                s[xi / 4][xi % 4] = (double)du[(xi * c + q) * k + o];
            /* forward: U = G g G^T  =>  dg = G^T dU G: rows of G^T dU, then times G */
            for (int j = 0; j < 4; j++) {
                h[0][j] = s[0][j] + 0.5 * (s[1][j] + s[2][j]);
                h[1][j] = 0.5 * (s[1][j] - s[2][j]);
                h[2][j] = 0.5 * (s[1][j] + s[2][j]) + s[3][j];
            }
            float *d = dw + (o * c + q) * 9;
            for (int i = 0; i < 3; i++) {
                d[i * 3 + 0] += (float)(h[i][0] + 0.5 * (h[i][1] + h[i][2]));
                d[i * 3 + 1] += (float)(0.5 * (h[i][1] - h[i][2]));
                d[i * 3 + 2] += (float)(0.5 * (h[i][1] + h[i][2]) + h[i][3]);
            }
        }
    }
}

#ifdef __AVX512F__
/* Transposes the 16x16 block r[row][lane] in registers: unpack pairs of rows, shuffle to
 * groups of four, then exchange 128-bit lanes. After the second stage s[4 i + m] holds, in its
 * lane L, rows 4 i .. 4 i + 3 at column 4 L + m. */
static inline void transpose16(__m512 r[16])
{
    __m512 t[16], s[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        s[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        s[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
        s[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        s[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
    }
    for (int m = 0; m < 4; m++) {
        const __m512 a = _mm512_shuffle_f32x4(s[m], s[4 + m], 0x88);
        const __m512 b = _mm512_shuffle_f32x4(s[8 + m], s[12 + m], 0x88);
        const __m512 c = _mm512_shuffle_f32x4(s[m], s[4 + m], 0xdd);
        const __m512 d = _mm512_shuffle_f32x4(s[8 + m], s[12 + m], 0xdd);
        r[m] = _mm512_shuffle_f32x4(a, b, 0x88);
        r[8 + m] = _mm512_shuffle_f32x4(a, b, 0xdd);
        r[4 + m] = _mm512_shuffle_f32x4(c, d, 0x88);
        r[12 + m] = _mm512_shuffle_f32x4(c, d, 0xdd);
    }
}

static __mmask16 lanes(int n) { return (__mmask16)(n >= WV ? 0xffffu : (1u << n) - 1u); }

/* NCHW x (nb, ch, h, w) into NHWC dst (nb, dh, dw, ch) at offset (o, o): pixel (ih, iw) of
 * image n lands at ((n dh + ih + o) dw + iw + o) ch. The rest of dst is left as it is. */
static void to_nhwc(float *dst, const float *x, int ch, int h, int w, int dh, int dw, int o,
                    int nb)
{
    const int hw = h * w;
    for (int n = 0; n < nb; n++) {
        const float *xn = x + (size_t)n * (size_t)ch * (size_t)hw;
        float *dn = dst + (size_t)n * (size_t)dh * (size_t)dw * (size_t)ch;
        for (int c0 = 0; c0 < ch; c0 += WV) {
            for (int p0 = 0; p0 < hw; p0 += WV) {
                const int np = hw - p0 < WV ? hw - p0 : WV;
                const __mmask16 m = lanes(np);
                __m512 r[WV];
                for (int i = 0; i < WV; i++)
                    r[i] = _mm512_maskz_loadu_ps(m, xn + (size_t)(c0 + i) * (size_t)hw +
                                                        (size_t)p0);
                transpose16(r);
                for (int j = 0; j < np; j++) {
                    const int ih = (p0 + j) / w, iw = (p0 + j) % w;
                    _mm512_storeu_ps(dn + ((size_t)(ih + o) * (size_t)dw + (size_t)(iw + o)) *
                                              (size_t)ch + (size_t)c0, r[j]);
                }
            }
        }
    }
}

/* NHWC src (nb, dh, dw, ch), pixel (oh, ow) at (n dh + oh) dw + ow, into NCHW y (nb, ch, h, w). */
static void from_nhwc(float *y, const float *src, int ch, int h, int w, int dh, int dw, int nb)
{
    const int hw = h * w;
    for (int n = 0; n < nb; n++) {
        float *yn = y + (size_t)n * (size_t)ch * (size_t)hw;
        const float *sn = src + (size_t)n * (size_t)dh * (size_t)dw * (size_t)ch;
        for (int c0 = 0; c0 < ch; c0 += WV) {
            for (int p0 = 0; p0 < hw; p0 += WV) {
                const int np = hw - p0 < WV ? hw - p0 : WV;
                __m512 r[WV];
                for (int j = 0; j < WV; j++) {
                    const int oh = (p0 + j) / w, ow = (p0 + j) % w;
                    r[j] = j < np ? _mm512_loadu_ps(sn + ((size_t)oh * (size_t)dw +
                                                          (size_t)ow) * (size_t)ch + (size_t)c0)
                                  : _mm512_setzero_ps();
                }
                transpose16(r);
                for (int i = 0; i < WV; i++)
                    _mm512_mask_storeu_ps(yn + (size_t)(c0 + i) * (size_t)hw + (size_t)p0,
                                          lanes(np), r[i]);
            }
        }
    }
}

/* Offset of pixel (2 i, 2 j) of tile t = (image, i, j) in an NHWC array of dh rows of rw
 * pixels of ch channels per image: in xt the top-left of the tile's 4x4 patch (the border
 * shifts it by one), on the tile grid its first output. */
static size_t tile_at(const ConvWinoGeom *g, int t, int dh, int rw, int ch)
{
    const int n = t / g->tiles, r = t % g->tiles, ti = r / g->tw, tj = r % g->tw;
    return (((size_t)n * (size_t)dh + (size_t)(2 * ti)) * (size_t)rw + (size_t)(2 * tj)) *
           (size_t)ch;
}

/* V = B^T d B of tiles [t0, t0 + nt) into v (16, TBLK, c): d from xt (the border makes every
 * patch whole). B^T d: e0 = d0 - d2, e1 = d1 + d2, e2 = d2 - d1, e3 = d1 - d3 down the rows;
 * the same along the columns. */
static void input_transform(float *v, const float *xt, const ConvWinoGeom *g, int t0, int nt)
{
    const size_t c = (size_t)g->c, rs = (size_t)g->xw * c, plane = CONV_WINO_TBLK * c;
    for (int tt = 0; tt < nt; tt++) {
        const float *base = xt + tile_at(g, t0 + tt, g->xh, g->xw, g->c);
        for (size_t c0 = 0; c0 < c; c0 += WV) {
            __m512 d[4][4], e[4][4];
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++)
                    d[a][b] = _mm512_loadu_ps(base + (size_t)a * rs + (size_t)b * c + c0);
            for (int b = 0; b < 4; b++) {
                e[0][b] = _mm512_sub_ps(d[0][b], d[2][b]);
                e[1][b] = _mm512_add_ps(d[1][b], d[2][b]);
                e[2][b] = _mm512_sub_ps(d[2][b], d[1][b]);
                e[3][b] = _mm512_sub_ps(d[1][b], d[3][b]);
            }
            float *vo = v + (size_t)tt * c + c0;
            for (size_t a = 0; a < 4; a++) {
                _mm512_storeu_ps(vo + (4 * a + 0) * plane, _mm512_sub_ps(e[a][0], e[a][2]));
                _mm512_storeu_ps(vo + (4 * a + 1) * plane, _mm512_add_ps(e[a][1], e[a][2]));
                _mm512_storeu_ps(vo + (4 * a + 2) * plane, _mm512_sub_ps(e[a][2], e[a][1]));
                _mm512_storeu_ps(vo + (4 * a + 3) * plane, _mm512_sub_ps(e[a][1], e[a][3]));
            }
        }
    }
}

/* y = A^T M A of tiles [t0, t0 + nt) from m (16, TBLK, k) into yt (the tile grid, so every
 * tile's 2x2 lands). A^T M: o0 = M0 + M1 + M2, o1 = M1 - M2 - M3 down the rows; the same
 * along the columns. */
static void output_transform(float *yt, const float *m, const ConvWinoGeom *g, int t0, int nt)
{
    const size_t k = (size_t)g->k, plane = CONV_WINO_TBLK * k, rs = (size_t)(2 * g->tw) * k;
    for (int tt = 0; tt < nt; tt++) {
        float *base = yt + tile_at(g, t0 + tt, 2 * g->th, 2 * g->tw, g->k);
        for (size_t k0 = 0; k0 < k; k0 += WV) {
            const float *mo = m + (size_t)tt * k + k0;
            __m512 o[2][4];
            for (size_t b = 0; b < 4; b++) {
                const __m512 m0 = _mm512_loadu_ps(mo + b * plane);
                const __m512 m1 = _mm512_loadu_ps(mo + (4 + b) * plane);
                const __m512 m2 = _mm512_loadu_ps(mo + (8 + b) * plane);
                const __m512 m3 = _mm512_loadu_ps(mo + (12 + b) * plane);
                o[0][b] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                o[1][b] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            for (size_t a = 0; a < 2; a++) {
                _mm512_storeu_ps(base + a * rs + k0,
                                 _mm512_add_ps(_mm512_add_ps(o[a][0], o[a][1]), o[a][2]));
                _mm512_storeu_ps(base + a * rs + k + k0,
                                 _mm512_sub_ps(_mm512_sub_ps(o[a][1], o[a][2]), o[a][3]));
            }
        }
    }
}

/* dM = A dy A^T of tiles [t0, t0 + nt) from dyt (the tile grid) into dm (16, TBLK, k):
 * A dy: p0 = q0, p1 = q0 + q1, p2 = q0 - q1, p3 = -q1 down the rows; the same along the
 * columns. */
static void grad_transform(float *dm, const float *dyt, const ConvWinoGeom *g, int t0, int nt)
{
    const size_t k = (size_t)g->k, plane = CONV_WINO_TBLK * k, rs = (size_t)(2 * g->tw) * k;
    const __m512 zero = _mm512_setzero_ps();
    for (int tt = 0; tt < nt; tt++) {
        const float *base = dyt + tile_at(g, t0 + tt, 2 * g->th, 2 * g->tw, g->k);
        for (size_t k0 = 0; k0 < k; k0 += WV) {
            __m512 p[4][2];
            for (size_t b = 0; b < 2; b++) {
                const __m512 q0 = _mm512_loadu_ps(base + b * k + k0);
                const __m512 q1 = _mm512_loadu_ps(base + rs + b * k + k0);
                p[0][b] = q0;
                p[1][b] = _mm512_add_ps(q0, q1);
                p[2][b] = _mm512_sub_ps(q0, q1);
                p[3][b] = _mm512_sub_ps(zero, q1);
            }
            float *d = dm + (size_t)tt * k + k0;
            for (size_t a = 0; a < 4; a++) {
                _mm512_storeu_ps(d + (4 * a + 0) * plane, p[a][0]);
                _mm512_storeu_ps(d + (4 * a + 1) * plane, _mm512_add_ps(p[a][0], p[a][1]));
                _mm512_storeu_ps(d + (4 * a + 2) * plane, _mm512_sub_ps(p[a][0], p[a][1]));
                _mm512_storeu_ps(d + (4 * a + 3) * plane, _mm512_sub_ps(zero, p[a][1]));
            }
        }
    }
}

/* m (8 rows, 32 columns; row stride k) = v (8 rows of c; row stride c) u (c rows of 32; row
 * stride k): 16 accumulators, a broadcast of v times two vectors of u per step. */
static void mul_8x32(float *m, const float *v, const float *u, size_t c, size_t k)
{
    __m512 a0[8], a1[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        a0[i] = a1[i] = _mm512_setzero_ps();
    for (size_t q = 0; q < c; q++) {
        const __m512 u0 = _mm512_loadu_ps(u + q * k), u1 = _mm512_loadu_ps(u + q * k + WV);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            const __m512 b = _mm512_set1_ps(v[(size_t)i * c + q]);
            a0[i] = _mm512_fmadd_ps(b, u0, a0[i]);
            a1[i] = _mm512_fmadd_ps(b, u1, a1[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        _mm512_storeu_ps(m + (size_t)i * k, a0[i]);
        _mm512_storeu_ps(m + (size_t)i * k + WV, a1[i]);
    }
}

/* The same for 16 rows and 16 columns (k an odd multiple of 16). */
static void mul_16x16(float *m, const float *v, const float *u, size_t c, size_t k)
{
    __m512 a[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        a[i] = _mm512_setzero_ps();
    for (size_t q = 0; q < c; q++) {
        const __m512 u0 = _mm512_loadu_ps(u + q * k);
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            a[i] = _mm512_fmadd_ps(_mm512_set1_ps(v[(size_t)i * c + q]), u0, a[i]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        _mm512_storeu_ps(m + (size_t)i * k, a[i]);
}

/* M[xi] = V[xi] U[xi] for the 16 xi, over ntr tile rows (a multiple of 16). */
static void multiply(float *m, const float *v, const float *u, const ConvWinoGeom *g, int ntr)
{
    const size_t c = (size_t)g->c, k = (size_t)g->k;
    for (size_t xi = 0; xi < 16; xi++) {
        const float *vx = v + xi * CONV_WINO_TBLK * c, *ux = u + xi * c * k;
        float *mx = m + xi * CONV_WINO_TBLK * k;
        if (k % (2 * WV) == 0) {
            for (size_t k0 = 0; k0 < k; k0 += 2 * WV)
                for (size_t t = 0; t < (size_t)ntr; t += 8)
                    mul_8x32(mx + t * k + k0, vx + t * c, ux + k0, c, k);
        } else {
            for (size_t k0 = 0; k0 < k; k0 += WV)
                for (size_t t = 0; t < (size_t)ntr; t += 16)
                    mul_16x16(mx + t * k + k0, vx + t * c, ux + k0, c, k);
        }
    }
}

/* du (8 rows of c, 32 columns; row stride k) += sum over nt tiles of v[t] (8 values, row
 * stride c) times d[t] (32 values, row stride k). */
static void acc_8x32(float *du, const float *v, const float *d, int nt, size_t c, size_t k)
{
    __m512 a0[8], a1[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        a0[i] = a1[i] = _mm512_setzero_ps();
    for (size_t t = 0; t < (size_t)nt; t++) {
        const __m512 d0 = _mm512_loadu_ps(d + t * k), d1 = _mm512_loadu_ps(d + t * k + WV);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            const __m512 b = _mm512_set1_ps(v[t * c + (size_t)i]);
            a0[i] = _mm512_fmadd_ps(b, d0, a0[i]);
            a1[i] = _mm512_fmadd_ps(b, d1, a1[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        float *r = du + (size_t)i * k;
        _mm512_storeu_ps(r, _mm512_add_ps(_mm512_loadu_ps(r), a0[i]));
        _mm512_storeu_ps(r + WV, _mm512_add_ps(_mm512_loadu_ps(r + WV), a1[i]));
    }
}

/* The same for 16 rows and 16 columns. */
static void acc_16x16(float *du, const float *v, const float *d, int nt, size_t c, size_t k)
{
    __m512 a[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        a[i] = _mm512_setzero_ps();
    for (size_t t = 0; t < (size_t)nt; t++) {
        const __m512 d0 = _mm512_loadu_ps(d + t * k);
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            a[i] = _mm512_fmadd_ps(_mm512_set1_ps(v[t * c + (size_t)i]), d0, a[i]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) {
        float *r = du + (size_t)i * k;
        _mm512_storeu_ps(r, _mm512_add_ps(_mm512_loadu_ps(r), a[i]));
    }
}

/* dU[xi] += V[xi]^T dM[xi] for the 16 xi over nt tiles. */
static void accumulate(float *du, const float *v, const float *dm, const ConvWinoGeom *g, int nt)
{
    const size_t c = (size_t)g->c, k = (size_t)g->k;
    for (size_t xi = 0; xi < 16; xi++) {
        const float *vx = v + xi * CONV_WINO_TBLK * c, *dx = dm + xi * CONV_WINO_TBLK * k;
        float *ux = du + xi * c * k;
        if (k % (2 * WV) == 0) {
            for (size_t c0 = 0; c0 < c; c0 += 8)
                for (size_t k0 = 0; k0 < k; k0 += 2 * WV)
                    acc_8x32(ux + c0 * k + k0, vx + c0, dx + k0, nt, c, k);
        } else {
            for (size_t c0 = 0; c0 < c; c0 += 16)
                for (size_t k0 = 0; k0 < k; k0 += WV)
                    acc_16x16(ux + c0 * k + k0, vx + c0, dx + k0, nt, c, k);
        }
    }
}

/* The chunk's input, transposed into xt with its zero border. */
static void load_input(float *xt, const float *x, const ConvWinoGeom *g, int nb)
{
    memset(xt, 0, (size_t)nb * (size_t)g->xh * (size_t)g->xw * (size_t)g->c * sizeof(float));
    to_nhwc(xt, x, g->c, g->h, g->w, g->xh, g->xw, 1, nb);
}
#endif

void conv_wino_forward(float *y, const float *x, const float *u, float *ws,
                       const ConvWinoGeom *g, int nb)
{
#ifndef __AVX512F__
    (void)y, (void)x, (void)u, (void)ws, (void)g, (void)nb;
#else
    float *xt = ws, *yt = ws + g->off_yt, *v = ws + g->off_v, *m = ws + g->off_m;
    load_input(xt, x, g, nb);
    const int total = nb * g->tiles;
    const size_t plane = CONV_WINO_TBLK * (size_t)g->c;
    for (int t0 = 0; t0 < total; t0 += CONV_WINO_TBLK) {
        const int nt = total - t0 < CONV_WINO_TBLK ? total - t0 : CONV_WINO_TBLK;
        const int ntr = (int)round16((size_t)nt);
        input_transform(v, xt, g, t0, nt);
        /* the kernels' last register tile may reach past nt: rows of zeros, never stored */
        for (size_t xi = 0; xi < 16 && ntr > nt; xi++)
            memset(v + xi * plane + (size_t)nt * (size_t)g->c, 0,
                   (size_t)(ntr - nt) * (size_t)g->c * sizeof(float));
        multiply(m, v, u, g, ntr);
        output_transform(yt, m, g, t0, nt);
    }
    from_nhwc(y, yt, g->k, g->h, g->w, 2 * g->th, 2 * g->tw, nb);
#endif
}

void conv_wino_weight_grad(float *du, const float *dy, const float *x, float *ws,
                           const ConvWinoGeom *g, int nb)
{
#ifndef __AVX512F__
    (void)du, (void)dy, (void)x, (void)ws, (void)g, (void)nb;
#else
    float *xt = ws, *dyt = ws + g->off_yt, *v = ws + g->off_v, *dm = ws + g->off_m;
    load_input(xt, x, g, nb);
    /* dy on the tile grid: the rows and columns past an odd map are zeros */
    memset(dyt, 0, (size_t)nb * (size_t)(2 * g->th) * (size_t)(2 * g->tw) * (size_t)g->k *
                       sizeof(float));
    to_nhwc(dyt, dy, g->k, g->h, g->w, 2 * g->th, 2 * g->tw, 0, nb);
    const int total = nb * g->tiles;
    for (int t0 = 0; t0 < total; t0 += CONV_WINO_TBLK) {
        const int nt = total - t0 < CONV_WINO_TBLK ? total - t0 : CONV_WINO_TBLK;
        input_transform(v, xt, g, t0, nt);
        grad_transform(dm, dyt, g, t0, nt);
        accumulate(du, v, dm, g, nt);
    }
#endif
}
