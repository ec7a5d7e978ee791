/*
 * test_conv.c: the 2-D convolution layer (harness/nn/conv.c, conv_simd.c, im2col.c).
 *
 * Checks:
 *   - kernels: conv_forward (conv_simd or im2col + GEMM) against conv_forward_direct and the
 *     double reference tests/engine/ref.c, and conv_backward (dx, dw, db) against the double
 *     reference, on
 *     shapes covering odd sizes, stride 1-2, pad 0-2, kernels 1/3/5 and non-square, groups
 *     1/2/4, bias on/off, batch 1 and 3, 1 and 2 threads, each block layout of conv.c's GEMM
 *     path (multi-image blocks, row bands, the 1x1 direct path) and, on AVX-512 builds, each
 *     use of conv_simd (y, dx, dW; odd vectors per image, partial vectors, 5x5, 3x1, groups);
 *   - backward against central finite differences through the Module/Net (tl_fd_check);
 *   - forward and backward against PyTorch fixtures (fixtures/gen_conv.py), through the Net,
 *     plus the contract: backward overwrites dx and accumulates into dw and db;
 *   - threads: y and dx with 2 threads equal 1 thread bit for bit, dw and db agree within a
 *     tolerance; the same thread count twice gives identical bits;
 *   - errors: bad constructor params, wrong channels at setup and forward, bad dy;
 *   - initialisation: statistics of torch_default, he_normal, he_normal_fan_in and zero.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "nn/conv.h"
#include "ref.h"
#include "testlib.h"

/* float32 GEMM sums of up to ~600 products vs a double-accumulated loop nest: the error of a
 * float32 dot product grows like sqrt(terms) * 6e-8 relative to the output scale. */
#define CONV_REF_RTOL 1e-5
/* Same bound against PyTorch's float64 results rounded to float32. */
#define CONV_FIXTURE_RTOL 1e-5
/* Conv is linear in x and w, so central differences are exact but for the float32 rounding of
 * y, about 1e-7 |y| sqrt(#y) / (2 eps) on L = <y, R>: up to ~1e-5 relative seen over 30 seeds. */
#define CONV_FD_EPS 1e-2
#define CONV_FD_RTOL 2e-4
/* dw and db sum per-thread partials whose grouping differs with the thread count. */
#define CONV_THREADS_DW_RTOL 1e-5
/* Init statistics on 73728 draws: the sample std is within ~0.5% (3 sigma) of the true one;
 * 2% leaves margin while still telling fan_in from fan_out (a factor sqrt 2). */
#define CONV_INIT_STD_RTOL 0.02
/* |sample mean| below 5 standard errors (std / sqrt(count)). */
#define CONV_INIT_MEAN_SE 5.0

/* ---- helpers -------------------------------------------------------------------------- */

typedef struct Case {
    int n, c, k, h, w, kh, kw, sh, sw, ph, pw, groups, bias;
} Case;

/* The algorithm every case's params ask for (test_kernels_vs_reference runs them all). */
static ConvAlgo case_algo = CONV_ALGO_DEFAULT;

static ConvParams case_params(const Case *t)
{
    return (ConvParams){t->c, t->k, t->kh, t->kw, t->sh, t->sw, t->ph, t->pw, t->groups,
                        t->bias, INIT_TORCH_DEFAULT, case_algo};
}

static RefConv2d case_ref(const Case *t)
{
    return (RefConv2d){t->n, t->c, t->h, t->w, t->k, t->kh, t->kw, t->sh, t->sw, t->ph, t->pw,
                       t->groups};
}

static void case_str(const Case *t, char *buf, size_t len)
{
    snprintf(buf, len, "n%d c%d k%d %dx%d win %dx%d s%d,%d p%d,%d g%d b%d", t->n, t->c, t->k,
             t->h, t->w, t->kh, t->kw, t->sh, t->sw, t->ph, t->pw, t->groups, t->bias);
}

/* Inputs and outputs of one kernel-level case. */
typedef struct Bufs {
    size_t nx, ny, nw, nb;
    float *x, *w, *b, *dy;         /* inputs */
    float *y, *dx, *dw, *db;       /* outputs */
    float *ws;
    size_t ws_stride;
} Bufs;

static void bufs_free(Bufs *u)
{
    free(u->x);
    free(u->w);
    free(u->b);
    free(u->dy);
    free(u->y);
    free(u->dx);
    free(u->dw);
    free(u->db);
    free(u->ws);
    memset(u, 0, sizeof *u);
}

/* Allocates for t with a workspace for up to 2 threads and fills the inputs from r. */
static int bufs_new(Bufs *u, const Case *t, Rng *r)
{
    ConvParams p = case_params(t);
    memset(u, 0, sizeof *u);
    int ho = conv_out_h(&p, t->h), wo = conv_out_w(&p, t->w);
    u->nx = (size_t)t->n * t->c * t->h * t->w;
    u->ny = (size_t)t->n * t->k * ho * wo;
    u->nw = (size_t)t->k * (t->c / t->groups) * t->kh * t->kw;
    u->nb = (size_t)t->k;
    u->ws_stride = (conv_ws_floats(&p, t->h, t->w) + 15) / 16 * 16; /* as net.c aligns it */
    u->x = tensor_alloc_floats(u->nx);
    u->w = tensor_alloc_floats(u->nw);
    u->b = tensor_alloc_floats(u->nb);
    u->dy = tensor_alloc_floats(u->ny);
    u->y = tensor_alloc_floats(u->ny);
    u->dx = tensor_alloc_floats(u->nx);
    u->dw = tensor_alloc_floats(u->nw);
    u->db = tensor_alloc_floats(u->nb);
    u->ws = tensor_alloc_floats(2 * u->ws_stride);
    if (!u->x || !u->w || !u->b || !u->dy || !u->y || !u->dx || !u->dw || !u->db || !u->ws) {
        bufs_free(u);
        return tl_fail("out of memory");
    }
    tl_fill_uniform(u->x, u->nx, -1.0f, 1.0f, r);
    tl_fill_uniform(u->w, u->nw, -0.5f, 0.5f, r);
    tl_fill_uniform(u->b, u->nb, -0.5f, 0.5f, r);
    tl_fill_uniform(u->dy, u->ny, -1.0f, 1.0f, r);
    return 0;
}

/* Forward then backward with nthreads; dw and db start from zero. */
static void run_kernels(Bufs *u, const Case *t, int nthreads)
{
    ConvParams p = case_params(t);
    memset(u->dw, 0, u->nw * sizeof(float));
    memset(u->db, 0, u->nb * sizeof(float));
    conv_forward(u->y, u->x, u->w, t->bias ? u->b : NULL, u->ws, u->ws_stride, &p, t->n, t->h,
                 t->w, nthreads);
    conv_backward(u->dx, u->dw, t->bias ? u->db : NULL, u->dy, u->x, u->w, u->ws, u->ws_stride,
                  &p, t->n, t->h, t->w, nthreads);
}

/* Compares float results against a double reference. */
static int close_to_ref(const char *what, const float *got, const double *want, size_t n,
                        double rtol)
{
    double *g = ref_to_double(got, n);
    if (!g)
        return tl_fail("%s: out of memory", what);
    int rc = tl_close_d(what, g, want, n, rtol);
    free(g);
    return rc;
}

/* The kernel-level shape table. CONV_BLOCK_COLS in conv.c is 256 output pixels: maps below it
 * put several images in a block, maps at or above it split into row bands. */
static const Case kernel_cases[] = {
    /* n  c  k   h   w  kh kw sh sw ph pw g  b */
    {1, 3, 4, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1},   /* basic 3x3 same padding */
    {3, 3, 5, 9, 7, 3, 3, 2, 2, 1, 1, 1, 0},   /* stride 2, odd sizes, batch 3 */
    {3, 4, 6, 8, 9, 3, 3, 1, 1, 0, 0, 2, 1},   /* groups 2, no padding */
    {1, 8, 8, 6, 5, 3, 3, 1, 1, 2, 2, 4, 0},   /* groups 4, pad 2 (output larger than input) */
    {3, 4, 4, 11, 9, 5, 5, 2, 2, 2, 2, 4, 1},  /* 5x5 depthwise, stride 2 */
    {1, 2, 3, 9, 11, 5, 5, 1, 1, 0, 0, 1, 1},  /* 5x5 valid */
    {3, 3, 4, 7, 8, 3, 1, 1, 2, 1, 0, 1, 1},   /* 3x1 window, stride (1, 2), pad (1, 0) */
    {1, 4, 2, 8, 7, 2, 3, 2, 1, 0, 2, 2, 0},   /* 2x3 window, stride (2, 1), pad (0, 2) */
    {3, 6, 4, 5, 5, 1, 1, 1, 1, 0, 0, 2, 1},   /* 1x1 on a small map: im2col copy, groups */
    {3, 4, 8, 9, 9, 1, 1, 2, 2, 0, 0, 1, 0},   /* 1x1 stride 2 (projection shortcut) */
    {1, 1, 1, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1},   /* window equals the input: one pixel out */
    {1, 3, 2, 2, 3, 5, 5, 1, 1, 2, 2, 1, 1},   /* window larger than the input, padded */
    {13, 3, 4, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1},  /* 25 pixels: blocks of 11 images, 11 + 2 */
    {3, 4, 4, 4, 4, 3, 3, 1, 1, 1, 1, 2, 0},   /* 4x4 map as in the last CIFAR stage */
    {3, 4, 6, 17, 19, 3, 3, 1, 1, 1, 1, 2, 1}, /* 323 pixels: two row bands per image */
    {1, 3, 4, 33, 31, 3, 3, 2, 2, 2, 2, 1, 0}, /* stride 2 pad 2 on a large map: 2 bands */
    {3, 4, 6, 16, 17, 1, 1, 1, 1, 0, 0, 2, 1}, /* 1x1 stride 1 on 272 pixels: direct path */
    {1, 2, 3, 31, 33, 5, 3, 1, 2, 2, 1, 1, 1}, /* non-square window, bands, stride (1, 2) */
    /* conv_simd (AVX-512 builds): stride 1, 2 pad = window - 1. y always; dx when C/groups >= 8;
     * dW on >= 256 pixels with C/groups kh kw <= 576. */
    {3, 9, 10, 17, 19, 3, 3, 1, 1, 1, 1, 1, 1}, /* all three; 323 px: odd vectors, image pairs,
                                                   a partial last vector, K and C not 8k */
    {2, 16, 12, 16, 16, 3, 3, 1, 1, 1, 1, 2, 0}, /* all three, groups 2 (8 in, 6 out) */
    {2, 8, 8, 16, 17, 5, 5, 1, 1, 2, 2, 1, 1},   /* 5x5: two column groups in dW */
    {3, 8, 5, 20, 15, 3, 1, 1, 1, 1, 0, 1, 0},   /* 3x1 window, pad (1, 0) */
    {3, 8, 8, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1},     /* 4x4: y, dx by conv_simd, dW by GEMM */
    {2, 3, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 0},  /* stem-like: dx by GEMM, y and dW conv_simd */
    {1, 72, 8, 16, 16, 3, 3, 1, 1, 1, 1, 1, 0},  /* 648 weights per channel: dW by GEMM */
    {2, 4, 8, 7, 5, 1, 3, 1, 1, 0, 1, 1, 0},     /* 1x3 window on 35 px: y by conv_simd only */
    /* conv_wino (AVX-512 builds, CONV_ALGO_WINOGRAD): 3x3, stride 1, pad 1, groups 1, C and K
     * multiples of 16; test_wino checks the Table 2 shapes themselves */
    {2, 16, 32, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1}, /* with a bias */
    {5, 32, 16, 5, 7, 3, 3, 1, 1, 1, 1, 1, 0},   /* odd map, 2 chunks of 3 images: 3 + 2 */
};

/* ---- kernels against the references --------------------------------------------------- */

/* Every case under every ConvAlgo (the paths each one picks are conv.c's). */
static int test_kernels_vs_reference(void)
{
    Rng r;
    rng_seed(&r, tl_seed, 1);
    const size_t n_cases = sizeof kernel_cases / sizeof kernel_cases[0];
    const ConvParams w16 = {16, 16, 3, 3, 1, 1, 1, 1, 1, 0, INIT_TORCH_DEFAULT,
                            CONV_ALGO_WINOGRAD};
    const int wino_built = conv_uses_winograd(&w16, 8, 8); /* AVX-512 */
    for (size_t ci = 0; ci < CONV_ALGO_COUNT * n_cases; ci++) {
        const Case t = kernel_cases[ci % n_cases];
        char desc[96], name[128], what[192];
        case_algo = (ConvAlgo)(ci / n_cases);
        case_str(&t, desc, sizeof desc);
        snprintf(name, sizeof name, "%s, algo %s", desc, conv_algo_name(case_algo));
        ConvParams p = case_params(&t);
        RefConv2d g = case_ref(&t);
        /* the last two cases are conv_wino's: they must run it when asked to */
        if (case_algo == CONV_ALGO_WINOGRAD && ci % n_cases + 2 >= n_cases && wino_built &&
            !conv_uses_winograd(&p, t.h, t.w))
            return tl_fail("%s: conv_wino not used", name);
        Bufs u;
        if (bufs_new(&u, &t, &r))
            return 1;
        double *y_ref = malloc(u.ny * sizeof *y_ref), *dx_ref = malloc(u.nx * sizeof *dx_ref);
        double *dw_ref = malloc(u.nw * sizeof *dw_ref), *db_ref = malloc(u.nb * sizeof *db_ref);
        float *y_direct = tensor_alloc_floats(u.ny);
        int rc = 0;
        if (!y_ref || !dx_ref || !dw_ref || !db_ref || !y_direct) {
            rc = tl_fail("out of memory");
            goto next;
        }
        ref_conv2d_forward(y_ref, u.x, u.w, t.bias ? u.b : NULL, &g);
        ref_conv2d_backward(dx_ref, dw_ref, db_ref, u.dy, u.x, u.w, &g);
        conv_forward_direct(y_direct, u.x, u.w, t.bias ? u.b : NULL, &p, t.n, t.h, t.w);
        snprintf(what, sizeof what, "%s: direct y vs ref", name);
        rc = close_to_ref(what, y_direct, y_ref, u.ny, CONV_REF_RTOL);
        for (int nt = 1; nt <= 2 && !rc; nt++) {
            run_kernels(&u, &t, nt);
            snprintf(what, sizeof what, "%s, %d threads: y vs direct", name, nt);
            rc = tl_close(what, u.y, y_direct, u.ny, CONV_REF_RTOL);
            snprintf(what, sizeof what, "%s, %d threads: y vs ref", name, nt);
            rc = rc || close_to_ref(what, u.y, y_ref, u.ny, CONV_REF_RTOL);
            snprintf(what, sizeof what, "%s, %d threads: dx vs ref", name, nt);
            rc = rc || close_to_ref(what, u.dx, dx_ref, u.nx, CONV_REF_RTOL);
            snprintf(what, sizeof what, "%s, %d threads: dw vs ref", name, nt);
            rc = rc || close_to_ref(what, u.dw, dw_ref, u.nw, CONV_REF_RTOL);
            snprintf(what, sizeof what, "%s, %d threads: db vs ref", name, nt);
            rc = rc || (t.bias && close_to_ref(what, u.db, db_ref, u.nb, CONV_REF_RTOL));
        }
        if (!rc) {
            /* dx is optional: without it, dw and db come out the same, bit for bit */
            float *dw2 = malloc((u.nw + u.nb) * sizeof *dw2);
            if (!dw2) {
                rc = tl_fail("out of memory");
                goto next;
            }
            memcpy(dw2, u.dw, u.nw * sizeof(float));
            memcpy(dw2 + u.nw, u.db, u.nb * sizeof(float));
            memset(u.dw, 0, u.nw * sizeof(float));
            memset(u.db, 0, u.nb * sizeof(float));
            conv_backward(NULL, u.dw, t.bias ? u.db : NULL, u.dy, u.x, u.w, u.ws, u.ws_stride,
                          &p, t.n, t.h, t.w, 2);
            if (memcmp(dw2, u.dw, u.nw * sizeof(float)) ||
                memcmp(dw2 + u.nw, u.db, u.nb * sizeof(float)))
                rc = tl_fail("%s: dw or db changed when dx is not requested", name);
            free(dw2);
        }
    next:
        free(y_ref);
        free(dx_ref);
        free(dw_ref);
        free(db_ref);
        free(y_direct);
        bufs_free(&u);
        if (rc)
            return 1;
    }
    case_algo = CONV_ALGO_DEFAULT;
    return 0;
}

/* ---- finite differences through the module -------------------------------------------- */

static int fd_case(const Case *t, int max_checks)
{
    char name[128];
    Err err;
    ConvParams p = case_params(t);
    case_str(t, name, sizeof name);
    Module *m = conv_module_new(&p, &err);
    if (!m)
        return tl_fail("%s: %s", name, err.msg);
    FdOptions o = {t->n, {t->c, t->h, t->w}, 1, CONV_FD_EPS, CONV_FD_RTOL, max_checks,
                   NULL, NULL};
    return tl_fd_check(name, m, &o);
}

static int test_fd(void)
{
    static const Case cases[] = {
        /* n  c  k   h   w  kh kw sh sw ph pw g  b */
        {2, 3, 4, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1},   /* 3x3 same, batch 2 */
        {1, 4, 6, 9, 8, 3, 3, 2, 2, 1, 1, 2, 1},   /* stride 2, groups 2, batch 1 */
        {3, 4, 4, 7, 9, 5, 3, 2, 1, 2, 0, 4, 0},   /* non-square, depthwise, 3 images/block */
        {2, 3, 2, 5, 7, 1, 1, 2, 2, 0, 0, 1, 1},   /* 1x1 stride 2 */
        {2, 2, 3, 16, 16, 1, 1, 1, 1, 0, 0, 1, 1}, /* 1x1 stride 1 on 256 pixels: direct */
        {1, 2, 3, 33, 33, 3, 3, 2, 2, 2, 2, 1, 1}, /* row bands, pad 2 */
        {2, 8, 9, 16, 17, 3, 3, 1, 1, 1, 1, 1, 1}, /* conv_simd y, dx and dW */
        {3, 8, 8, 5, 3, 3, 3, 1, 1, 1, 1, 2, 0},   /* conv_simd, groups, vectors span rows */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (fd_case(&cases[i], 60))
            return 1;
    return 0;
}

/* ---- PyTorch fixtures ----------------------------------------------------------------- */

/* Builds a 2-thread Net around one conv for the fixture config and copies its parameters. */
static int fixture_net(Net **net, const Case *t, const Tensor *w, const Tensor *b, Err *err)
{
    ConvParams p = case_params(t);
    Module *m = conv_module_new(&p, err);
    if (!m || net_build(net, m, (Shape){t->c, t->h, t->w}, 2, t->n, err))
        return -1;
    memcpy((*net)->params, w->data, w->size * sizeof(float));
    if (b)
        memcpy((*net)->params + w->size, b->data, b->size * sizeof(float));
    return 0;
}

static int fixture_config(const Fixture *fx, int i)
{
    char key[64], name[128];
    Err err;
    Net *net = NULL;
#define FX(field) (snprintf(key, sizeof key, "c%d." field, i), fixture_get(fx, key))
    const Tensor *hyper = FX("hyper"), *x = FX("x"), *w = FX("w"), *dy = FX("dy"), *y = FX("y"),
                 *dx = FX("dx"), *dw = FX("dw");
    if (!hyper || !x || !w || !dy || !y || !dx || !dw || hyper->size != 13)
        return tl_fail("conv.h5: config c%d is incomplete", i);
    const float *h = hyper->data;
    Case t = {(int)h[0], (int)h[1], (int)h[2], (int)h[3], (int)h[4], (int)h[5], (int)h[6],
              (int)h[7], (int)h[8], (int)h[9], (int)h[10], (int)h[11], (int)h[12]};
    const Tensor *b = t.bias ? FX("b") : NULL, *db = t.bias ? FX("db") : NULL;
#undef FX
    if (t.bias && (!b || !db))
        return tl_fail("conv.h5: config c%d lacks its bias", i);
    case_str(&t, name, sizeof name);
    if (fixture_net(&net, &t, w, b, &err))
        return tl_fail("%s: %s", name, err.msg);
    const Tensor *yg, *dxg;
    int rc = 1;
    char what[192];
    net_zero_grad(net);
    if (net_forward(net, x, 1, NULL, &yg, &err) || net_backward(net, dy, &dxg, &err)) {
        tl_fail("%s: %s", name, err.msg);
        goto out;
    }
    snprintf(what, sizeof what, "%s: y", name);
    if (tl_close(what, yg->data, y->data, y->size, CONV_FIXTURE_RTOL))
        goto out;
    snprintf(what, sizeof what, "%s: dx", name);
    if (tl_close(what, dxg->data, dx->data, dx->size, CONV_FIXTURE_RTOL))
        goto out;
    snprintf(what, sizeof what, "%s: dw", name);
    if (tl_close(what, net->grads, dw->data, dw->size, CONV_FIXTURE_RTOL))
        goto out;
    snprintf(what, sizeof what, "%s: db", name);
    if (db && tl_close(what, net->grads + dw->size, db->data, db->size, CONV_FIXTURE_RTOL))
        goto out;

    /* Contract: a second backward overwrites dx (poisoned here) and adds to dw and db. */
    float *twice = malloc(net->n_params * sizeof(float));
    if (!twice) {
        tl_fail("out of memory");
        goto out;
    }
    for (size_t j = 0; j < net->n_params; j++)
        twice[j] = 2.0f * net->grads[j];
    for (size_t j = 0; j < dxg->size; j++)
        dxg->data[j] = NAN;
    if (net_backward(net, dy, &dxg, &err)) {
        free(twice);
        tl_fail("%s: %s", name, err.msg);
        goto out;
    }
    snprintf(what, sizeof what, "%s: dx after a second backward", name);
    int bad = tl_close(what, dxg->data, dx->data, dx->size, CONV_FIXTURE_RTOL);
    snprintf(what, sizeof what, "%s: dw, db accumulated over two backwards", name);
    bad = bad || tl_close(what, net->grads, twice, net->n_params, CONV_FIXTURE_RTOL);
    free(twice);
    rc = bad;
out:
    net_free(net);
    return rc;
}

static int test_fixtures(void)
{
    Fixture fx;
    Err err;
    if (fixture_load(&fx, "conv", &err))
        return tl_fail("%s", err.msg);
    int n_configs = 0;
    for (int i = 0; i < fx.n; i++)
        if (strstr(fx.e[i].name, ".hyper"))
            n_configs++;
    int rc = n_configs < 8 ? tl_fail("conv.h5 has %d configs, expected 8", n_configs) : 0;
    for (int i = 0; i < n_configs && !rc; i++)
        rc = fixture_config(&fx, i);
    fixture_free(&fx);
    return rc;
}

/* ---- threads and determinism ---------------------------------------------------------- */

/* Copies the four outputs of u into one array: y, dx, dw, db. */
static float *snapshot(const Bufs *u)
{
    size_t total = u->ny + u->nx + u->nw + u->nb;
    float *s = malloc(total * sizeof *s);
    if (!s)
        return NULL;
    memcpy(s, u->y, u->ny * sizeof(float));
    memcpy(s + u->ny, u->dx, u->nx * sizeof(float));
    memcpy(s + u->ny + u->nx, u->dw, u->nw * sizeof(float));
    memcpy(s + u->ny + u->nx + u->nw, u->db, u->nb * sizeof(float));
    return s;
}

static int threads_case(const Case *t, Rng *r)
{
    char name[128], what[192];
    case_str(t, name, sizeof name);
    Bufs u;
    if (bufs_new(&u, t, r))
        return 1;
    float *one = NULL, *two = NULL;
    int rc = 1;
    for (int nt = 1; nt <= 2; nt++) {
        run_kernels(&u, t, nt);
        float *first = snapshot(&u);
        run_kernels(&u, t, nt);
        float *again = snapshot(&u);
        size_t total = u.ny + u.nx + u.nw + u.nb;
        int same = first && again && !memcmp(first, again, total * sizeof(float));
        free(again);
        if (nt == 1)
            one = first;
        else
            two = first;
        if (!same) {
            tl_fail("%s: two runs with %d threads differ", name, nt);
            goto out;
        }
    }
    if (memcmp(one, two, u.ny * sizeof(float))) {
        tl_fail("%s: y with 2 threads differs from 1 thread", name);
        goto out;
    }
    if (memcmp(one + u.ny, two + u.ny, u.nx * sizeof(float))) {
        tl_fail("%s: dx with 2 threads differs from 1 thread", name);
        goto out;
    }
    snprintf(what, sizeof what, "%s: dw, db with 2 threads vs 1", name);
    rc = tl_close(what, two + u.ny + u.nx, one + u.ny + u.nx, u.nw + u.nb,
                  CONV_THREADS_DW_RTOL);
out:
    free(one);
    free(two);
    bufs_free(&u);
    return rc;
}

static int test_threads_and_determinism(void)
{
    static const Case cases[] = {
        /* n  c  k   h   w  kh kw sh sw ph pw g  b */
        {7, 3, 4, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1},    /* 72 pixels: blocks of 4 images, 4 + 3 */
        {37, 4, 6, 5, 5, 3, 3, 1, 1, 1, 1, 2, 1},   /* blocks of 11: 4 chunks over 2 threads */
        {5, 3, 8, 17, 19, 3, 3, 1, 1, 1, 1, 1, 1},  /* row bands, odd batch */
        {4, 8, 8, 16, 17, 1, 1, 1, 1, 0, 0, 4, 0},  /* direct 1x1, groups 4 */
        {1, 3, 4, 9, 9, 3, 3, 2, 2, 1, 1, 1, 1},    /* batch 1: one thread idle */
        {5, 9, 10, 17, 19, 3, 3, 1, 1, 1, 1, 1, 1}, /* conv_simd y, dx, dW: image pairs */
        {7, 8, 16, 4, 4, 3, 3, 1, 1, 1, 1, 1, 0},   /* conv_simd y and dx on 4x4 maps */
        {37, 16, 32, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1}, /* conv_wino (below): chunks of 16, 16 + 5 */
        {3, 32, 16, 9, 16, 3, 3, 1, 1, 1, 1, 1, 0}, /* conv_wino: one image per chunk */
    };
    Rng r;
    rng_seed(&r, tl_seed, 2);
    const size_t n_cases = sizeof cases / sizeof cases[0];
    int rc = 0;
    for (size_t i = 0; i < n_cases && !rc; i++) {
        case_algo = i + 2 >= n_cases ? CONV_ALGO_WINOGRAD : CONV_ALGO_DEFAULT;
        rc = threads_case(&cases[i], &r);
    }
    case_algo = CONV_ALGO_DEFAULT;
    return rc;
}

/* ---- errors --------------------------------------------------------------------------- */

static int expect_new_error(ConvParams p, const char *want)
{
    Err err = {{0}};
    Module *m = conv_module_new(&p, &err);
    int failed = m == NULL;
    module_free(m);
    return tl_expect_error("conv_module_new", failed, &err, want);
}

static int test_errors(void)
{
    ConvParams ok = {3, 4, 3, 3, 1, 1, 1, 1, 1, 1, INIT_TORCH_DEFAULT, CONV_ALGO_DEFAULT};
    ConvParams p;
    p = ok, p.in_c = 0;
    if (expect_new_error(p, "conv_module_new: channels in 0, out 4, expected >= 1"))
        return 1;
    p = ok, p.kw = 0;
    if (expect_new_error(p, "conv_module_new: kernel 3x0, expected >= 1x1"))
        return 1;
    p = ok, p.stride_h = 0;
    if (expect_new_error(p, "conv_module_new: stride 0, 1, expected >= 1"))
        return 1;
    p = ok, p.pad_w = -1;
    if (expect_new_error(p, "conv_module_new: padding 1, -1, expected >= 0"))
        return 1;
    p = ok, p.groups = 2;
    if (expect_new_error(p, "groups 2 must be >= 1 and divide in channels 3 and out channels 4"))
        return 1;
    p = ok, p.bias = 2;
    if (expect_new_error(p, "conv_module_new: bias is 2, expected 0 or 1"))
        return 1;

    /* setup: the Net's input has 16 channels */
    Err err = {{0}};
    Net *net = NULL;
    Module *m = conv_module_new(&ok, &err);
    if (!m)
        return tl_fail("%s", err.msg);
    if (!net_build(&net, m, (Shape){16, 8, 8}, 1, 2, &err)) {
        net_free(net);
        return tl_fail("net_build accepted 16 input channels for a 3-channel conv");
    }
    if (!strstr(err.msg, "conv: input has 16 channels, weight expects 3"))
        return tl_fail("setup message: '%s'", err.msg);
    /* setup: window larger than the padded input */
    ConvParams big = ok;
    big.kh = big.kw = 7;
    m = conv_module_new(&big, &err);
    if (!m)
        return tl_fail("%s", err.msg);
    if (!net_build(&net, m, (Shape){3, 4, 4}, 1, 2, &err)) {
        net_free(net);
        return tl_fail("net_build accepted a 7x7 window on a 4x4 input with padding 1");
    }
    if (!strstr(err.msg, "conv: input is 4x4, smaller than the 7x7 window with padding 1, 1"))
        return tl_fail("setup message: '%s'", err.msg);

    /* forward and backward called directly with mismatched tensors */
    m = conv_module_new(&ok, &err);
    if (!m || net_build(&net, m, (Shape){3, 8, 8}, 1, 2, &err))
        return tl_fail("%s", err.msg);
    Tensor x = {0}, dy = {0};
    int rc = 1;
    Ctx ctx = {1, NULL, net->ws, net->ws_stride, net->nthreads, 0, NULL, net->grad_pool, 0};
    if (tensor_alloc(&x, 4, (int[]){2, 16, 8, 8}, &err) ||
        tensor_alloc(&dy, 4, (int[]){2, 4, 8, 7}, &err)) {
        tl_fail("%s", err.msg);
        goto out;
    }
    err.msg[0] = 0;
    if (!m->ops->forward(m, &x, &ctx, &err) ||
        !strstr(err.msg, "conv_forward: input has 16 channels, weight expects 3")) {
        tl_fail("forward with 16 channels: '%s'", err.msg);
        goto out;
    }
    tensor_free(&x);
    if (tensor_alloc(&x, 4, (int[]){2, 3, 8, 9}, &err)) {
        tl_fail("%s", err.msg);
        goto out;
    }
    if (!m->ops->forward(m, &x, &ctx, &err) ||
        !strstr(err.msg, "conv_forward: input is 8x9, the layer was set up for 8x8")) {
        tl_fail("forward with 8x9: '%s'", err.msg);
        goto out;
    }
    x.shape[3] = 8;
    x.size = 2 * 3 * 8 * 8;
    if (!m->ops->backward(m, &x, &dy, &ctx, &err) ||
        !strstr(err.msg, "conv_backward: dy is (2, 4, 8, 7), expected (2, 4, 8, 8)")) {
        tl_fail("backward with a bad dy: '%s'", err.msg);
        goto out;
    }
    rc = 0;
out:
    tensor_free(&x);
    tensor_free(&dy);
    net_free(net);
    return rc;
}

/* ---- initialisation ------------------------------------------------------------------- */

typedef struct Stats {
    double mean, std, max_abs;
} Stats;

static Stats stats_of(const float *p, size_t n)
{
    double s = 0.0, s2 = 0.0, mx = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += p[i];
        s2 += (double)p[i] * p[i];
        if (fabs(p[i]) > mx)
            mx = fabs(p[i]);
    }
    double mean = s / (double)n;
    return (Stats){mean, sqrt(s2 / (double)n - mean * mean), mx};
}

/* Initialises a 64 -> 128 3x3 conv (groups as given, with bias) into a Net; returns it. */
static Net *init_net(InitScheme init, int groups, uint64_t seed, Err *err)
{
    ConvParams p = {64, 128, 3, 3, 1, 1, 1, 1, groups, 1, init, CONV_ALGO_DEFAULT};
    Net *net = NULL;
    Module *m = conv_module_new(&p, err);
    if (!m || net_build(&net, m, (Shape){64, 4, 4}, 1, 1, err))
        return NULL;
    Rng r;
    rng_seed(&r, seed, RNG_STREAM_INIT);
    net_init(net, &r);
    return net;
}

static int check_std(const char *what, Stats s, double want_std, size_t n)
{
    if (fabs(s.std - want_std) > CONV_INIT_STD_RTOL * want_std)
        return tl_fail("%s: std %.5g, expected %.5g", what, s.std, want_std);
    if (fabs(s.mean) > CONV_INIT_MEAN_SE * want_std / sqrt((double)n))
        return tl_fail("%s: mean %.3g is too far from 0 (std %.3g, %zu draws)", what, s.mean,
                       want_std, n);
    return 0;
}

static int test_init(void)
{
    Err err;
    const size_t nw = 128 * 64 * 9, nb = 128;
    int rc = 1;

    /* torch_default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias, fan_in = 576 */
    Net *net = init_net(INIT_TORCH_DEFAULT, 1, tl_seed, &err);
    if (!net)
        return tl_fail("%s", err.msg);
    double bound = 1.0 / sqrt(576.0);
    Stats sw = stats_of(net->params, nw), sb = stats_of(net->params + nw, nb);
    if (sw.max_abs > bound || sw.max_abs < 0.999 * bound || sb.max_abs > bound)
        rc = tl_fail("torch_default: max |w| %.6g, max |b| %.6g, bound %.6g", sw.max_abs,
                     sb.max_abs, bound);
    else
        rc = check_std("torch_default weight", sw, bound / sqrt(3.0), nw);
    /* draw order: weight then bias, element order, (2u - 1) bound from rng_uniform */
    Rng r;
    rng_seed(&r, tl_seed, RNG_STREAM_INIT);
    float first = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
    for (size_t i = 1; i < nw; i++)
        rng_uniform(&r);
    float first_b = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
    if (!rc && (net->params[0] != first || net->params[nw] != first_b))
        rc = tl_fail("torch_default: w[0] %.8g b[0] %.8g, expected %.8g %.8g from the stream",
                     net->params[0], net->params[nw], first, first_b);
    net_free(net);
    if (rc)
        return 1;

    /* he_normal: N(0, sqrt(2 / (3 * 3 * 128))) (fan_out), bias 0 */
    net = init_net(INIT_HE_NORMAL, 1, tl_seed, &err);
    if (!net)
        return tl_fail("%s", err.msg);
    rc = check_std("he_normal weight", stats_of(net->params, nw), sqrt(2.0 / (9.0 * 128)), nw);
    if (!rc && stats_of(net->params + nw, nb).max_abs != 0.0)
        rc = tl_fail("he_normal: bias is not zero");
    net_free(net);
    if (rc)
        return 1;

    /* he_normal_fan_in with groups 2: fan_in = 64 / 2 * 3 * 3 = 288 */
    net = init_net(INIT_HE_NORMAL_FAN_IN, 2, tl_seed, &err);
    if (!net)
        return tl_fail("%s", err.msg);
    rc = check_std("he_normal_fan_in weight", stats_of(net->params, nw / 2),
                   sqrt(2.0 / 288.0), nw / 2);
    if (!rc && stats_of(net->params + nw / 2, nb).max_abs != 0.0)
        rc = tl_fail("he_normal_fan_in: bias is not zero");
    net_free(net);
    if (rc)
        return 1;

    /* zero */
    net = init_net(INIT_ZERO, 1, tl_seed, &err);
    if (!net)
        return tl_fail("%s", err.msg);
    if (stats_of(net->params, net->n_params).max_abs != 0.0)
        rc = tl_fail("zero init left non-zero parameters");
    net_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    /* BLAS threads = 1, as a 1-thread run sets them: the 1-thread passes below then run
     * single-threaded GEMMs, and 2-thread passes call BLAS inside their parallel region. */
    blas_set_threads(1);
    static const TestCase tests[] = {
        {"kernels_vs_reference", test_kernels_vs_reference},
        {"fd", test_fd},
        {"fixtures", test_fixtures},
        {"threads_and_determinism", test_threads_and_determinism},
        {"errors", test_errors},
        {"init", test_init},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
