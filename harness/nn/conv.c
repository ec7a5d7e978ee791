/*
 * conv.c: 2-D convolution (torch.nn.Conv2d without dilation), NCHW, float32.
 *
 * Three fast paths, chosen per layer from its shape and its ConvAlgo (plan_new), images spread
 * over OpenMP threads:
 *
 * 0. conv_wino (conv_wino.c): Winograd F(2x2, 3x3) for 3x3, stride-1, pad-1 layers of C and K
 *    multiples of 16, for y, dx (dy with the flipped weights) and dW, with CONV_ALGO_WINOGRAD,
 *    or by default where wino_pays says (measured; see there).
 *
 * 1. conv_simd (conv_simd.c): direct AVX-512 register tiles, no im2col, for stride-1 "same"
 *    convolutions with a window larger than 1x1 (the 3x3 pad-1 layers that make up most of a
 *    ResNet). It computes y always; dx as the same kind of convolution of dy with the flipped
 *    weights when C / groups >= CONV_SIMD_KB and K / groups kh kw <= CONV_SIMD_DX_MAX_CRS; and
 *    dW on maps of >= 256 pixels for layers with C / groups kh kw <= CONV_SIMD_WGRAD_MAX_CRS.
 *    Measured on the PreAct ResNet-18 shapes (batch 128, one thread): forward 1.05-1.6x faster
 *    than path 2, dx up to 1.5x and dW up to 1.4x on thin layers but slower on the widest,
 *    hence the limits.
 * 2. im2col + single-threaded SGEMM, for everything else. Per group g, with Kg = K / groups
 *    output channels and CRS = C / groups kh kw weights per output channel, on a block of
 *    output columns:
 *      forward   y_g (Kg, cols)       = W_g (Kg, CRS) cols_g (CRS, cols)          [+ b]
 *      backward  dW_g (Kg, CRS)      += dy_g (Kg, cols) cols_g^T                  [db += sum dy]
 *                dcols_g (CRS, cols)  = W_g^T dy_g, then col2im into dx
 *    where cols is the im2col matrix of the block. For thin layers (Kg <= CONV_DWT_MAX_KG and
 *    Kg < CRS) the weight gradient is computed transposed, dW_g^T += cols_g dy_g^T with dy_g^T
 *    copied out per block: with both GEMM operands untransposed OpenBLAS ran it up to 2.5x
 *    faster. Blocks hold about CONV_BLOCK_COLS output pixels: on a large map a block is a band
 *    of output rows of one
 *    image, so that its columns stay in the L2 cache between im2col and the GEMM; on a small
 *    map (4x4 at the end of a CIFAR ResNet) a block is several whole images side by side, so
 *    that the GEMM's inner dimension is long enough for the BLAS kernel. A 1x1, stride-1,
 *    unpadded conv on a large map uses x_n itself as the column matrix (no im2col).
 *
 * Threads: the GEMMs run inside the parallel loop over image chunks, so OpenBLAS (OpenMP
 * build) runs them single-threaded; measured here 1.5-3x faster than one threaded GEMM over
 * the batch. The paths and block layouts depend only on the shapes, and y and dx of an image
 * are computed by one thread alone, so they do not depend on the thread count. dW and db are
 * accumulated per thread in the workspace and then summed over threads in thread order (in
 * double), so they are bit-identical for a given thread count.
 *
 * Workspace per thread (all offsets 64-byte aligned):
 *   cols  (C kh kw, block cols)   im2col of the block, reused for dcols in backward
 *   buf   (K, block cols)         multi-image blocks only: GEMM output (forward) or dy gathered
 *                                 into one matrix (backward)
 *   dyt   (block cols, K)         a block's dy transposed, for the dW^T GEMM
 *   dw    (K C/groups kh kw)      this thread's weight gradient (dW^T when transposed)
 *   db    (K) doubles             this thread's bias gradient
 *   simd  conv_simd's scratch     padded images, packed dy, lane masks
 *   wp    packed weights          conv_simd's, used from thread 0's slice by every thread
 * Backward recomputes cols rather than caching them from forward: caching would cost the
 * whole batch's cols (9x the input for 3x3 kernels) per layer.
 *
 * Reference: conv_forward_direct (a loop nest, conv_ref.c); tests/engine/ref.c (double
 * precision) and PyTorch fixtures in tests/. Non-goals: dilation, transposed convolution,
 * padding modes other than zeros.
 */
#include "nn/conv.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "nn/conv_simd.h"
#include "nn/conv_wino.h"
#include "nn/im2col.h"

/* Output pixels per GEMM block. Measured here on the CIFAR PreAct ResNet-18 shapes (batch 128,
 * one thread, CPU time): 64 to 512 are within 10% of each other and 256 was best; it keeps the
 * block's cols of a 64-channel 3x3 layer (590 KB) inside the 2 MB L2 and the workspace small. */
#define CONV_BLOCK_COLS 256
/* conv_simd's dW: maps of at least this many 16-pixel vectors (16x16 and up; on the 8x8 and 4x4
 * maps the GEMM path was faster), and at most this many weights per output channel (64 input
 * channels of a 3x3 window: 1.1x faster there, 1.2x slower at 128). */
#define CONV_SIMD_WGRAD_MIN_VECS 16
#define CONV_SIMD_WGRAD_MAX_CRS 576
/* conv_simd's dx: at most this many weights per input channel, K / groups kh kw (256 channels
 * of a 3x3 window); with 512 channels on 4x4 maps W^T dy + col2im was 1.1x faster. */
#define CONV_SIMD_DX_MAX_CRS 2304
/* The GEMM path computes dW transposed for at most this many output channels per group (1.1x
 * faster on the 32-channel stride-2 layer; at 64 and 128 channels the measurements were within
 * their noise, at 256 and 512 up to 1.1x slower). */
#define CONV_DWT_MAX_KG 32
/* Workspace regions start on a cache line: 16 floats = TENSOR_ALIGN bytes. */
#define CONV_WS_ALIGN_FLOATS ((size_t)TENSOR_ALIGN / sizeof(float))

/* ---- geometry ------------------------------------------------------------------------- */

/* The GEMM path's shapes and block layout. */
typedef struct ConvGeom {
    Im2colGeom im;   /* one whole image: c = C, all groups */
    int groups, out_c;
    int kg;          /* output channels per group */
    size_t hw;       /* Ho Wo */
    size_t crs;      /* C / groups kh kw: one group's rows of cols, one output channel's weights */
    size_t x_size;   /* C H W, one input image */
    size_t y_size;   /* K Ho Wo, one output image */
    size_t w_size;   /* K crs */
    int chunk;       /* images per block (> 1 only on small maps) */
    int rows;        /* output rows per block (all of them when chunk > 1) */
    int direct;      /* 1: x_n is already the column matrix (1x1, stride 1, no pad, chunk 1) */
    int dwt;         /* 1: backward accumulates dW^T (see weight_grad_block) */
    size_t block;    /* output pixels of the largest block: chunk rows Wo */
} ConvGeom;

/* Everything conv_forward and conv_backward derive from (p, in_h, in_w). */
typedef struct ConvPlan {
    ConvGeom f;      /* the GEMM path (its sizes are used by every path) */
    ConvSimdGeom sf; /* conv_simd: the layer */
    ConvSimdGeom st; /* conv_simd: dx = conv(dy, flipped weights) */
    ConvWinoGeom wf, wt; /* conv_wino: the layer, and dx */
    int simd_y, simd_dx, simd_dw; /* which outputs conv_simd computes */
    int wino;        /* conv_wino computes y, dx and dW */
    size_t off_buf, off_dyt, off_dwt, off_db, off_simd, off_wp, off_du, ws_floats; /* floats */
} ConvPlan;

static size_t align_up(size_t n)
{
    return (n + CONV_WS_ALIGN_FLOATS - 1) / CONV_WS_ALIGN_FLOATS * CONV_WS_ALIGN_FLOATS;
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static int geom_new(ConvGeom *g, const ConvParams *p, int in_h, int in_w)
{
    memset(g, 0, sizeof *g);
    if (im2col_geom(&g->im, p->in_c, in_h, in_w, p->kh, p->kw, p->stride_h, p->stride_w,
                    p->pad_h, p->pad_w))
        return -1;
    const int ho = g->im.ho, wo = g->im.wo;
    g->groups = p->groups;
    g->out_c = p->out_c;
    g->kg = p->out_c / p->groups;
    g->hw = (size_t)ho * (size_t)wo;
    g->crs = (size_t)(p->in_c / p->groups) * (size_t)p->kh * (size_t)p->kw;
    g->x_size = (size_t)p->in_c * (size_t)in_h * (size_t)in_w;
    g->y_size = (size_t)p->out_c * g->hw;
    g->w_size = (size_t)p->out_c * g->crs;
    if (g->hw >= CONV_BLOCK_COLS) {
        g->chunk = 1;
        g->direct = p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 &&
                    p->pad_h == 0 && p->pad_w == 0;
        g->rows = g->direct ? ho : (CONV_BLOCK_COLS + wo - 1) / wo;
        if (g->rows > ho)
            g->rows = ho;
    } else {
        g->chunk = (int)((CONV_BLOCK_COLS + g->hw - 1) / g->hw);
        g->rows = ho;
    }
    g->block = (size_t)g->chunk * (size_t)g->rows * (size_t)wo;
    /* dW_g (Kg, CRS) += dy_g cols_g^T, B transposed, ran up to 2.5x slower in OpenBLAS than
     * dW_g^T += cols_g dy_g^T with dy_g^T copied out, for thin Kg < CRS (3x3 layers); with
     * Kg >= CRS (1x1 projections) or Kg > 32 the copy cost as much as it saved or more. */
    g->dwt = g->kg <= CONV_DWT_MAX_KG && g->kg < (int)g->crs;
    return 0;
}

/* CONV_ALGO_DEFAULT's rule for a layer conv_wino can run: whether it ran faster than the
 * other paths here (the same shapes won forward and backward). Measured 2026-12-05 on the idle
 * 2-core EPYC (AVX-512), one thread, batch 128 (`./mixup --threads 1 tools/bench_conv.lua`),
 * direct time over Winograd time, forward / backward (dx and dW):
 *   PreAct w16  16x16 32x32: 0.90 / 0.99   32 16x16: 1.20 / 1.36   64 8x8: 1.44 / 1.77
 *               128 4x4: 1.41 / 1.89
 *   PreAct w64  64 32x32: 1.70 / 1.86   128 16x16: 1.85 / 1.91   256 8x8: 1.87 / 1.95
 *               512 4x4: 1.25 / 1.53
 *   WRN-28-10   16 to 160 32x32: 1.28 / 1.24   160: 2.05 / 2.07   320: 2.08 / 2.16
 *               640: 1.74 / 1.76
 * Only 16 in and 16 out channels, where the transforms weigh most against 16 products per
 * position, did not gain: the direct kernels keep those. */
static int wino_pays(const ConvPlan *pl)
{
    return pl->wf.c * pl->wf.k > 16 * 16;
}

static int plan_new(ConvPlan *pl, const ConvParams *p, int in_h, int in_w)
{
    memset(pl, 0, sizeof *pl);
    if (geom_new(&pl->f, p, in_h, in_w))
        return -1;
    const ConvGeom *g = &pl->f;
    /* conv_simd_geom fails without AVX-512 and unless 2 pad = window - 1 */
    pl->simd_y = p->stride_h == 1 && p->stride_w == 1 && p->kh * p->kw > 1 &&
                 !conv_simd_geom(&pl->sf, p->in_c, p->out_c, in_h, in_w, p->kh, p->kw,
                                 p->pad_h, p->pad_w, p->groups);
    /* dx: y = conv(x, W) with stride 1 and "same" padding gives dx[c][h][w] = sum over k, i, j
     * of dy[k][h + ph - i][w + pw - j] W[k][c][i][j], the same kind of convolution of dy with
     * W's in and out channels swapped and its window reversed. Its output has C / groups
     * channels per group: below a tile's CONV_SIMD_KB most of each tile would be wasted. */
    pl->simd_dx = pl->simd_y && p->in_c / p->groups >= CONV_SIMD_KB &&
                  (size_t)(p->out_c / p->groups * p->kh * p->kw) <= CONV_SIMD_DX_MAX_CRS &&
                  !conv_simd_geom(&pl->st, p->out_c, p->in_c, in_h, in_w, p->kh, p->kw,
                                  p->pad_h, p->pad_w, p->groups);
    pl->simd_dw = pl->simd_y && pl->sf.nv >= CONV_SIMD_WGRAD_MIN_VECS &&
                  g->crs <= CONV_SIMD_WGRAD_MAX_CRS;
    const int wino_ok = p->algo != CONV_ALGO_DIRECT && p->algo != CONV_ALGO_IM2COL &&
                        p->kh == 3 && p->kw == 3 && p->stride_h == 1 && p->stride_w == 1 &&
                        p->pad_h == 1 && p->pad_w == 1 && p->groups == 1 &&
                        !conv_wino_geom(&pl->wf, p->in_c, p->out_c, in_h, in_w) &&
                        !conv_wino_geom(&pl->wt, p->out_c, p->in_c, in_h, in_w);
    pl->wino = wino_ok && (p->algo == CONV_ALGO_WINOGRAD || wino_pays(pl));
    if (pl->wino || p->algo == CONV_ALGO_IM2COL)
        pl->simd_y = pl->simd_dx = pl->simd_dw = 0;
    const size_t n_cols = g->direct ? 0 : g->crs * (size_t)g->groups * g->block;
    const size_t n_buf = g->chunk > 1 ? (size_t)g->out_c * g->block : 0;
    const size_t n_dyt = g->dwt ? (size_t)g->out_c * g->block : 0;
    pl->off_buf = align_up(n_cols);
    pl->off_dyt = pl->off_buf + align_up(n_buf);
    pl->off_dwt = pl->off_dyt + align_up(n_dyt);
    pl->off_db = pl->off_dwt + align_up(g->w_size);
    pl->off_simd = pl->off_db + align_up(2 * (size_t)g->out_c); /* K doubles */
    const size_t wino_ws = pl->wino ? max_size(pl->wf.ws_floats, pl->wt.ws_floats) : 0;
    pl->off_wp = pl->off_simd + align_up(max_size(max_size(pl->simd_y ? pl->sf.ws_floats : 0,
                                                           pl->simd_dx ? pl->st.ws_floats : 0),
                                                  wino_ws));
    /* packed weights (conv_simd) or U (conv_wino, the same size for the layer and for dx) */
    pl->off_du = pl->off_wp + align_up(max_size(max_size(pl->simd_y ? pl->sf.pack_floats : 0,
                                                         pl->simd_dx ? pl->st.pack_floats : 0),
                                                pl->wino ? pl->wf.u_floats : 0));
    pl->ws_floats = pl->off_du + align_up(pl->wino ? pl->wf.u_floats : 0); /* dU */
    return 0;
}

int conv_out_h(const ConvParams *p, int in_h)
{
    return (p->stride_h < 1 || in_h + 2 * p->pad_h < p->kh)
               ? 0 : (in_h + 2 * p->pad_h - p->kh) / p->stride_h + 1;
}

int conv_out_w(const ConvParams *p, int in_w)
{
    return (p->stride_w < 1 || in_w + 2 * p->pad_w < p->kw)
               ? 0 : (in_w + 2 * p->pad_w - p->kw) / p->stride_w + 1;
}

size_t conv_ws_floats(const ConvParams *p, int in_h, int in_w)
{
    ConvPlan pl;
    return plan_new(&pl, p, in_h, in_w) ? 0 : pl.ws_floats;
}

int conv_uses_winograd(const ConvParams *p, int in_h, int in_w)
{
    ConvPlan pl;
    return !plan_new(&pl, p, in_h, in_w) && pl.wino;
}

const char *conv_algo_name(ConvAlgo a)
{
    static const char *const names[CONV_ALGO_COUNT] = {"default", "direct", "im2col",
                                                       "winograd"};
    return a >= 0 && a < CONV_ALGO_COUNT ? names[a] : NULL;
}

/* One block: images [i0, i0 + nb) and output rows [oh0, oh1) of each; nb > 1 only with all
 * rows. Its column matrix has ncols = nb (oh1 - oh0) Wo columns. */
typedef struct ConvBlock {
    int i0, nb, oh0, oh1;
    size_t ncols;
    const float *cols; /* (C kh kw, ncols) with leading dimension ldb */
    size_t ldb;
} ConvBlock;

/* Builds blk's column matrix in the thread's cols region (or points at x_n on the direct
 * path, whose leading dimension is Ho Wo). */
static void block_cols(ConvBlock *blk, float *cols, const float *x, const ConvGeom *g)
{
    const size_t per_image = (size_t)(blk->oh1 - blk->oh0) * (size_t)g->im.wo;
    blk->ncols = (size_t)blk->nb * per_image;
    if (g->direct) {
        blk->cols = x + (size_t)blk->i0 * g->x_size + (size_t)blk->oh0 * (size_t)g->im.wo;
        blk->ldb = g->hw;
        return;
    }
    for (int i = 0; i < blk->nb; i++)
        im2col(cols + (size_t)i * per_image, blk->ncols, x + (size_t)(blk->i0 + i) * g->x_size,
               &g->im, blk->oh0, blk->oh1);
    blk->cols = cols;
    blk->ldb = blk->ncols;
}

/* ---- forward -------------------------------------------------------------------------- */

/* y_g = W_g cols_g for one block: into y directly (one image) or into buf, then scattered. */
static void forward_block(float *y, const float *w, float *buf, const ConvBlock *blk,
                          const ConvGeom *g)
{
    const size_t col0 = (size_t)blk->oh0 * (size_t)g->im.wo;
    float *out = blk->nb == 1 ? y + (size_t)blk->i0 * g->y_size + col0 : buf;
    const size_t ldo = blk->nb == 1 ? g->hw : blk->ncols;
    for (int gr = 0; gr < g->groups; gr++)
        blas_gemm(0, 0, g->kg, (int)blk->ncols, (int)g->crs, 1.0f,
                  w + (size_t)gr * (size_t)g->kg * g->crs, (int)g->crs,
                  blk->cols + (size_t)gr * g->crs * blk->ldb, (int)blk->ldb, 0.0f,
                  out + (size_t)gr * (size_t)g->kg * ldo, (int)ldo);
    if (blk->nb == 1)
        return;
    for (int i = 0; i < blk->nb; i++)
        for (int k = 0; k < g->out_c; k++)
            memcpy(y + (size_t)(blk->i0 + i) * g->y_size + (size_t)k * g->hw,
                   buf + (size_t)k * ldo + (size_t)i * g->hw, g->hw * sizeof(float));
}

/* y += b over images [i0, i1). */
static void add_bias(float *y, const float *b, const ConvGeom *g, int i0, int i1)
{
    for (int i = i0; i < i1; i++) {
        for (int k = 0; k < g->out_c; k++) {
            float *row = y + (size_t)i * g->y_size + (size_t)k * g->hw;
            const float bk = b[k];
            for (size_t j = 0; j < g->hw; j++)
                row[j] += bk;
        }
    }
}

void conv_forward(float *y, const float *x, const float *w, const float *b, float *ws,
                  size_t ws_stride, const ConvParams *p, int n, int in_h, int in_w,
                  int nthreads)
{
    ConvPlan pl;
    if (plan_new(&pl, p, in_h, in_w))
        return;
    const ConvGeom *g = &pl.f;
    const int chunk = pl.wino ? pl.wf.chunk : pl.simd_y ? pl.sf.chunk : g->chunk;
    const int n_chunks = (n + chunk - 1) / chunk;
    float *wp = ws + pl.off_wp; /* packed weights: one copy, in thread 0's slice */
#pragma omp parallel num_threads(nthreads)
    {
        float *slice = ws + (size_t)omp_get_thread_num() * ws_stride;
        if (pl.wino) {
            /* U = G g G^T, one input channel per iteration */
#pragma omp for schedule(static)
            for (int q = 0; q < p->in_c; q++)
                conv_wino_pack(wp, w, &pl.wf, 0, q, q + 1);
        }
        if (pl.simd_y) {
#pragma omp for schedule(static)
            for (int blk = 0; blk < pl.sf.pack_blocks; blk++)
                conv_simd_pack(wp, w, &pl.sf, 0, blk, blk + 1);
            conv_simd_prepare(slice + pl.off_simd, &pl.sf);
        }
#pragma omp for schedule(static)
        for (int ch = 0; ch < n_chunks; ch++) {
            const int i0 = ch * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
            if (pl.wino) {
                conv_wino_forward(y + (size_t)i0 * g->y_size, x + (size_t)i0 * g->x_size, wp,
                                  slice + pl.off_simd, &pl.wf, i1 - i0);
            } else if (pl.simd_y) {
                conv_simd_forward(y + (size_t)i0 * g->y_size, x + (size_t)i0 * g->x_size, wp,
                                  slice + pl.off_simd, &pl.sf, i1 - i0);
            } else {
                ConvBlock blk = {i0, i1 - i0, 0, 0, 0, NULL, 0};
                for (blk.oh0 = 0; blk.oh0 < g->im.ho; blk.oh0 = blk.oh1) {
                    blk.oh1 = blk.oh0 + g->rows < g->im.ho ? blk.oh0 + g->rows : g->im.ho;
                    block_cols(&blk, slice, x, g);
                    forward_block(y, w, slice + pl.off_buf, &blk, g);
                }
            }
            if (b)
                add_bias(y, b, g, i0, i1);
        }
    }
}

/* ---- backward ------------------------------------------------------------------------- */

/* Gathers the block's dy as one (K, ncols) matrix laid out like forward's GEMM output (in buf
 * when the block spans several images) and returns it with its leading dimension. */
static const float *block_dy(size_t *ldd, float *buf, const float *dy, const ConvBlock *blk,
                             const ConvGeom *g)
{
    if (blk->nb == 1) {
        *ldd = g->hw;
        return dy + (size_t)blk->i0 * g->y_size + (size_t)blk->oh0 * (size_t)g->im.wo;
    }
    for (int i = 0; i < blk->nb; i++)
        for (int k = 0; k < g->out_c; k++)
            memcpy(buf + (size_t)k * blk->ncols + (size_t)i * g->hw,
                   dy + (size_t)(blk->i0 + i) * g->y_size + (size_t)k * g->hw,
                   g->hw * sizeof(float));
    *ldd = blk->ncols;
    return buf;
}

/* Weight gradient of one block into the thread's private dw_t: dW^T (C/groups kh kw, K) when
 * g->dwt, with dyt scratch for the block's dy transposed, (ncols, K); else dW (K, crs), with d
 * the block's dy as block_dy gives it. */
static void weight_grad_block(float *dw_t, float *dyt, const float *d, size_t ldd,
                              const ConvBlock *blk, const ConvGeom *g)
{
    const size_t k_all = (size_t)g->out_c;
    if (!g->dwt) {
        /* forward: y_g = W_g cols_g  =>  dW_g += dy_g cols_g^T */
        for (int gr = 0; gr < g->groups; gr++)
            blas_gemm(0, 1, g->kg, (int)g->crs, (int)blk->ncols, 1.0f,
                      d + (size_t)gr * (size_t)g->kg * ldd, (int)ldd,
                      blk->cols + (size_t)gr * g->crs * blk->ldb, (int)blk->ldb, 1.0f,
                      dw_t + (size_t)gr * (size_t)g->kg * g->crs, (int)g->crs);
        return;
    }
    for (size_t k = 0; k < k_all; k++) {
        const float *src = d + k * ldd;
        float *dst = dyt + k;
        for (size_t j = 0; j < blk->ncols; j++)
            dst[j * k_all] = src[j];
    }
    /* forward: y_g = W_g cols_g  =>  dW_g^T += cols_g dy_g^T */
    for (int gr = 0; gr < g->groups; gr++)
        blas_gemm(0, 0, (int)g->crs, g->kg, (int)blk->ncols, 1.0f,
                  blk->cols + (size_t)gr * g->crs * blk->ldb, (int)blk->ldb,
                  dyt + (size_t)gr * (size_t)g->kg, (int)k_all, 1.0f,
                  dw_t + (size_t)gr * (size_t)g->kg, (int)k_all);
}

/* Input gradient of one block: dcols_g = W_g^T dy_g, then col2im into dx (whose images the
 * caller zeroed). On the direct path cols is x_n, so dcols is dx_n itself; otherwise dcols
 * overwrites the cols region (the weight gradient is done with it). */
static void data_grad_block(float *dx, float *cols, const float *w, const float *d, size_t ldd,
                            const ConvBlock *blk, const ConvGeom *g)
{
    const size_t col0 = (size_t)blk->oh0 * (size_t)g->im.wo;
    const size_t per_image = (size_t)(blk->oh1 - blk->oh0) * (size_t)g->im.wo;
    float *dcols = g->direct ? dx + (size_t)blk->i0 * g->x_size + col0 : cols;
    const size_t ldc = g->direct ? g->hw : blk->ncols;
    /* forward: y_g = W_g cols_g  =>  dcols_g = W_g^T dy_g */
    for (int gr = 0; gr < g->groups; gr++)
        blas_gemm(1, 0, (int)g->crs, (int)blk->ncols, g->kg, 1.0f,
                  w + (size_t)gr * (size_t)g->kg * g->crs, (int)g->crs,
                  d + (size_t)gr * (size_t)g->kg * ldd, (int)ldd, 0.0f,
                  dcols + (size_t)gr * g->crs * ldc, (int)ldc);
    if (g->direct)
        return;
    /* forward: cols = im2col(x)  =>  dx += col2im(dcols) */
    for (int i = 0; i < blk->nb; i++)
        im2col_col2im(dx + (size_t)(blk->i0 + i) * g->x_size, cols + (size_t)i * per_image,
                      blk->ncols, &g->im, blk->oh0, blk->oh1);
}

/* The GEMM path of backward over images [i0, i1), one chunk of its layout, band by band: with
 * dw_t, the weight gradient (cols recomputed); with dx, the input gradient. */
static void gemm_backward_chunk(float *dx, float *dw_t, const float *dy, const float *x,
                                const float *w, float *slice, const ConvPlan *pl, int i0, int i1)
{
    const ConvGeom *g = &pl->f;
    ConvBlock blk = {i0, i1 - i0, 0, 0, 0, NULL, 0};
    /* col2im accumulates each row block into dx; direct GEMMs overwrite it */
    if (dx && !g->direct)
        memset(dx + (size_t)i0 * g->x_size, 0, (size_t)blk.nb * g->x_size * sizeof(float));
    for (blk.oh0 = 0; blk.oh0 < g->im.ho; blk.oh0 = blk.oh1) {
        blk.oh1 = blk.oh0 + g->rows < g->im.ho ? blk.oh0 + g->rows : g->im.ho;
        blk.ncols = (size_t)blk.nb * (size_t)(blk.oh1 - blk.oh0) * (size_t)g->im.wo;
        size_t ldd;
        const float *d = block_dy(&ldd, slice + pl->off_buf, dy, &blk, g);
        if (dw_t) {
            /* forward: cols = im2col(x), recomputed */
            block_cols(&blk, slice, x, g);
            weight_grad_block(dw_t, slice + pl->off_dyt, d, ldd, &blk, g);
        }
        if (dx)
            data_grad_block(dx, slice, w, d, ldd, &blk, g);
    }
}

/* db += sum of dy over the pixels of images [i0, i1), per channel, in double. */
static void bias_grad(double *db_t, const float *dy, const ConvGeom *g, int i0, int i1)
{
    for (int i = i0; i < i1; i++) {
        for (int k = 0; k < g->out_c; k++) {
            const float *row = dy + (size_t)i * g->y_size + (size_t)k * g->hw;
            double s = 0.0;
            for (size_t j = 0; j < g->hw; j++)
                s += (double)row[j];
            db_t[k] += s;
        }
    }
}

void conv_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                   const float *w, float *ws, size_t ws_stride, const ConvParams *p, int n,
                   int in_h, int in_w, int nthreads)
{
    ConvPlan pl;
    if (plan_new(&pl, p, in_h, in_w))
        return;
    const ConvGeom *g = &pl.f;
    const int dx_simd = dx && pl.simd_dx, dx_wino = dx && pl.wino;
    const int dx_gemm = dx && !pl.simd_dx && !pl.wino;
    /* the pass over the batch that computes dW (and, on the GEMM path, dx when it can) */
    const int chunk = pl.wino ? pl.wf.chunk : pl.simd_dw ? pl.sf.wchunk : g->chunk;
    const int n_chunks = (n + chunk - 1) / chunk;
    float *wtp = ws + pl.off_wp; /* packed flipped weights: one copy, in thread 0's slice */
    int team = 1; /* threads actually started; the reduction reads only their slices */
#pragma omp parallel num_threads(nthreads)
    {
        const int tid = omp_get_thread_num();
        float *slice = ws + (size_t)tid * ws_stride;
        float *dw_t = slice + pl.off_dwt;
        double *db_t = (double *)(void *)(slice + pl.off_db);
        if (tid == 0)
            team = omp_get_num_threads();
        memset(dw_t, 0, g->w_size * sizeof(float));
        memset(db_t, 0, (size_t)g->out_c * sizeof(double));
        if (pl.wino)
            memset(slice + pl.off_du, 0, pl.wf.u_floats * sizeof(float));
        if (pl.simd_dw)
            conv_simd_prepare(slice + pl.off_simd, &pl.sf);
#pragma omp for schedule(static)
        for (int ch = 0; ch < n_chunks; ch++) {
            const int i0 = ch * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
            /* forward: y = conv(x, W)  =>  dW += dy (x unfolded)^T */
            if (pl.wino)
                conv_wino_weight_grad(slice + pl.off_du, dy + (size_t)i0 * g->y_size,
                                      x + (size_t)i0 * g->x_size, slice + pl.off_simd, &pl.wf,
                                      i1 - i0);
            else if (pl.simd_dw)
                conv_simd_weight_grad(dw_t, dy + (size_t)i0 * g->y_size,
                                      x + (size_t)i0 * g->x_size, slice + pl.off_simd, &pl.sf,
                                      i1 - i0);
            else
                gemm_backward_chunk(dx_gemm ? dx : NULL, dw_t, dy, x, w, slice, &pl, i0, i1);
            /* forward: y += b per channel  =>  db += sum of dy over the pixels */
            if (db)
                bias_grad(db_t, dy, g, i0, i1);
        }
        /* this thread's dU into its dw_t (G^T dU G is linear: the threads' sum is the same) */
        if (pl.wino) {
            conv_wino_weight_finish(dw_t, slice + pl.off_du, &pl.wf);
#pragma omp barrier
        }
        if (pl.simd_dw && dx_gemm) {
            const int d_chunks = (n + g->chunk - 1) / g->chunk;
#pragma omp for schedule(static)
            for (int ch = 0; ch < d_chunks; ch++) {
                const int i0 = ch * g->chunk, i1 = i0 + g->chunk < n ? i0 + g->chunk : n;
                gemm_backward_chunk(dx, NULL, dy, x, w, slice, &pl, i0, i1);
            }
        }
        if (dx_wino) {
            /* forward: y = conv(x, W), 3x3, pad 1  =>  dx = conv(dy, flipped W) */
            const int d_chunks = (n + pl.wt.chunk - 1) / pl.wt.chunk;
#pragma omp for schedule(static)
            for (int q = 0; q < p->out_c; q++)
                conv_wino_pack(wtp, w, &pl.wt, 1, q, q + 1);
#pragma omp for schedule(static)
            for (int ch = 0; ch < d_chunks; ch++) {
                const int i0 = ch * pl.wt.chunk, i1 = i0 + pl.wt.chunk < n ? i0 + pl.wt.chunk : n;
                conv_wino_forward(dx + (size_t)i0 * g->x_size, dy + (size_t)i0 * g->y_size, wtp,
                                  slice + pl.off_simd, &pl.wt, i1 - i0);
            }
        }
        if (dx_simd) {
            /* forward: y = conv(x, W), stride 1, same size  =>  dx = conv(dy, flipped W) */
            const int d_chunks = (n + pl.st.chunk - 1) / pl.st.chunk;
#pragma omp for schedule(static)
            for (int blk = 0; blk < pl.st.pack_blocks; blk++)
                conv_simd_pack(wtp, w, &pl.st, 1, blk, blk + 1);
            conv_simd_prepare(slice + pl.off_simd, &pl.st);
#pragma omp for schedule(static)
            for (int ch = 0; ch < d_chunks; ch++) {
                const int i0 = ch * pl.st.chunk, i1 = i0 + pl.st.chunk < n ? i0 + pl.st.chunk : n;
                conv_simd_forward(dx + (size_t)i0 * g->x_size, dy + (size_t)i0 * g->y_size, wtp,
                                  slice + pl.off_simd, &pl.st, i1 - i0);
            }
        }
        /* the implicit barriers above make every thread's dw_t and db_t final. When it holds
         * dW^T, dW (K, crs) element (k, r) is its element (r, k). */
        const int transposed = !pl.simd_dw && !pl.wino && g->dwt;
#pragma omp for schedule(static)
        for (size_t j = 0; j < g->w_size; j++) {
            const size_t jt = transposed ? j % g->crs * (size_t)g->out_c + j / g->crs : j;
            double s = 0.0;
            for (int t = 0; t < team; t++)
                s += (double)ws[(size_t)t * ws_stride + pl.off_dwt + jt];
            dw[j] += (float)s;
        }
        if (db && tid == 0) {
            for (int k = 0; k < g->out_c; k++) {
                double s = 0.0;
                for (int t = 0; t < team; t++)
                    s += ((const double *)(const void *)(ws + (size_t)t * ws_stride +
                                                         pl.off_db))[k];
                db[k] += (float)s;
            }
        }
    }
}

/* ---- the module ----------------------------------------------------------------------- */

typedef struct ConvModule {
    Module base;
    ConvParams p;
} ConvModule;

static const ConvParams *conv_params(const Module *m) { return &((const ConvModule *)m)->p; }

int conv_module_winograd(const Module *m)
{
    return !strcmp(m->ops->kind, "conv") && conv_uses_winograd(conv_params(m), m->in.h, m->in.w);
}

/* Shape check shared by forward and backward (THNN's shapeCheck): x is (N, C, H, W) as set up;
 * dy, when given, is (N, K, Ho, Wo). */
static int conv_check(const Module *m, const Tensor *x, const Tensor *dy, const Ctx *ctx,
                      const char *fn, int *n, Err *err)
{
    const ConvParams *p = conv_params(m);
    char buf[64];
    if (x->ndim != 4 || x->shape[0] < 1)
        return err_set(err, "%s: input is %s, expected (N, %d, %d, %d)", fn,
                       tensor_shape_str(x, buf, sizeof buf), m->in.c, m->in.h, m->in.w);
    if (x->shape[1] != p->in_c)
        return err_set(err, "%s: input has %d channels, weight expects %d", fn, x->shape[1],
                       p->in_c);
    if (x->shape[2] != m->in.h || x->shape[3] != m->in.w)
        return err_set(err, "%s: input is %dx%d, the layer was set up for %dx%d", fn,
                       x->shape[2], x->shape[3], m->in.h, m->in.w);
    *n = x->shape[0];
    if (dy && (dy->ndim != 4 || dy->shape[0] != *n || dy->shape[1] != m->out.c ||
               dy->shape[2] != m->out.h || dy->shape[3] != m->out.w))
        return err_set(err, "%s: dy is %s, expected (%d, %d, %d, %d)", fn,
                       tensor_shape_str(dy, buf, sizeof buf), *n, m->out.c, m->out.h,
                       m->out.w);
    if (ctx->nthreads < 1 || (m->ws_floats && (!ctx->ws || ctx->ws_stride < m->ws_floats)))
        return err_set(err, "%s: workspace has %zu floats per thread for %d threads, the "
                            "layer needs %zu", fn, ctx->ws ? ctx->ws_stride : 0, ctx->nthreads,
                       m->ws_floats);
    return 0;
}

static int conv_setup(Module *m, Err *err)
{
    const ConvParams *p = conv_params(m);
    if (m->in.c != p->in_c)
        return err_set(err, "conv: input has %d channels, weight expects %d", m->in.c, p->in_c);
    int ho = conv_out_h(p, m->in.h), wo = conv_out_w(p, m->in.w);
    if (ho < 1 || wo < 1)
        return err_set(err, "conv: input is %dx%d, smaller than the %dx%d window with padding "
                            "%d, %d", m->in.h, m->in.w, p->kh, p->kw, p->pad_h, p->pad_w);
    size_t w_size = (size_t)p->out_c * (size_t)(p->in_c / p->groups) * (size_t)p->kh *
                    (size_t)p->kw;
    m->out = (Shape){p->out_c, ho, wo};
    m->n_params = w_size + (p->bias ? (size_t)p->out_c : 0);
    m->n_decay = w_size;
    m->n_buffers = 0;
    m->ws_floats = conv_ws_floats(p, m->in.h, m->in.w);
    return 0;
}

/* Fills m->w: weight then bias, each in element order, drawn from rng in that order. */
static void conv_init(Module *m, Rng *rng)
{
    const ConvParams *p = conv_params(m);
    const double fan_in = (double)(p->in_c / p->groups) * p->kh * p->kw;
    const double fan_out = (double)p->out_c * p->kh * p->kw;
    const size_t w_size = m->n_decay, b_size = m->n_params - m->n_decay;
    float *wt = m->w, *b = m->w + w_size;
    switch (p->init) {
    case INIT_TORCH_DEFAULT: {
        /* Conv2d.reset_parameters: kaiming_uniform_(a = sqrt 5) gives the bound
         * gain sqrt(3 / fan_in) with gain sqrt(2 / (1 + a^2)) = sqrt(1/3), i.e. 1 / sqrt(fan_in);
         * the bias uses the same bound. */
        const double bound = 1.0 / sqrt(fan_in);
        for (size_t i = 0; i < w_size; i++)
            wt[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * bound);
        for (size_t i = 0; i < b_size; i++)
            b[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * bound);
        break;
    }
    case INIT_HE_NORMAL:
    case INIT_HE_NORMAL_FAN_IN: {
        /* He et al. 2015; fan_out as in the official ResNet/DenseNet/WRN code */
        const double std = sqrt(2.0 / (p->init == INIT_HE_NORMAL ? fan_out : fan_in));
        for (size_t i = 0; i < w_size; i++)
            wt[i] = (float)(std * rng_normal(rng));
        memset(b, 0, b_size * sizeof(float));
        break;
    }
    case INIT_ZERO:
    default:
        memset(m->w, 0, m->n_params * sizeof(float));
        break;
    }
}

static int conv_module_forward(Module *m, const Tensor *x, Ctx *ctx, Err *err)
{
    const ConvParams *p = conv_params(m);
    int n;
    if (conv_check(m, x, NULL, ctx, "conv_forward", &n, err) || module_set_output(m, n, err))
        return -1;
    conv_forward(m->y.data, x->data, m->w, p->bias ? m->w + m->n_decay : NULL, ctx->ws,
                 ctx->ws_stride, p, n, m->in.h, m->in.w, ctx->nthreads);
    return 0;
}

static int conv_module_backward(Module *m, const Tensor *x, const Tensor *dy, Ctx *ctx,
                                Err *err)
{
    const ConvParams *p = conv_params(m);
    int n;
    if (conv_check(m, x, dy, ctx, "conv_backward", &n, err) || module_set_dx(m, n, err))
        return -1;
    conv_backward(ctx->no_dx ? NULL : m->dx.data, m->dw, p->bias ? m->dw + m->n_decay : NULL,
                  dy->data, x->data, m->w, ctx->ws, ctx->ws_stride, p, n, m->in.h, m->in.w,
                  ctx->nthreads);
    return 0;
}

static void conv_destroy(Module *m) { free(m); }

static const ModuleOps conv_ops = {"conv", conv_setup, conv_init, conv_module_forward,
                                   conv_module_backward, conv_destroy};

Module *conv_module_new(const ConvParams *p, Err *err)
{
    if (!p) {
        err_set(err, "conv_module_new: params are NULL");
        return NULL;
    }
    if (p->in_c < 1 || p->out_c < 1) {
        err_set(err, "conv_module_new: channels in %d, out %d, expected >= 1", p->in_c,
                p->out_c);
        return NULL;
    }
    if (p->kh < 1 || p->kw < 1) {
        err_set(err, "conv_module_new: kernel %dx%d, expected >= 1x1", p->kh, p->kw);
        return NULL;
    }
    if (p->stride_h < 1 || p->stride_w < 1) {
        err_set(err, "conv_module_new: stride %d, %d, expected >= 1", p->stride_h, p->stride_w);
        return NULL;
    }
    if (p->pad_h < 0 || p->pad_w < 0) {
        err_set(err, "conv_module_new: padding %d, %d, expected >= 0", p->pad_h, p->pad_w);
        return NULL;
    }
    if (p->groups < 1 || p->in_c % p->groups || p->out_c % p->groups) {
        err_set(err, "conv_module_new: groups %d must be >= 1 and divide in channels %d and "
                     "out channels %d", p->groups, p->in_c, p->out_c);
        return NULL;
    }
    if (p->bias != 0 && p->bias != 1) {
        err_set(err, "conv_module_new: bias is %d, expected 0 or 1", p->bias);
        return NULL;
    }
    if (!conv_algo_name(p->algo)) {
        err_set(err, "conv_module_new: algorithm %d, expected 0 to %d", (int)p->algo,
                CONV_ALGO_COUNT - 1);
        return NULL;
    }
    if ((int)p->init < INIT_TORCH_DEFAULT || (int)p->init > INIT_ZERO) {
        err_set(err, "%s: init scheme %s is not for this layer (torch_default, he_normal, "
                     "he_normal_fan_in, zero)", "conv_module_new",
                (int)p->init == INIT_NORMAL_001 ? init_scheme_name(p->init) : "(unknown)");
        return NULL;
    }
    ConvModule *cm = calloc(1, sizeof *cm);
    if (!cm) {
        err_set(err, "conv_module_new: out of memory");
        return NULL;
    }
    cm->base.ops = &conv_ops;
    cm->p = *p;
    return &cm->base;
}
