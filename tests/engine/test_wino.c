/*
 * test_wino.c: Winograd F(2x2, 3x3) convolution (harness/nn/conv_wino.c) on its own.
 *
 * Checks, on every 3x3 stride-1 layer shape of the Table 2 nets (PreAct ResNet-18 at widths 16
 * and 64, WRN-28-10) and on odd shapes (odd maps, maps of one pixel, K an odd multiple of 16):
 *   - y, dx (the same convolution of dy with the flipped weights, as conv.c runs it) and dW
 *     against the double-precision reference tests/engine/ref.c;
 *   - y of an image alone equals, bit for bit, its y inside a chunk of images (so y depends
 *     neither on the batch nor on the thread count);
 *   - the shapes it refuses (C or K not a multiple of 16).
 * Skips, counted as skips, on a build without AVX-512.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/conv_wino.h"
#include "ref.h"
#include "testlib.h"

/* The transforms add a few roundings to each float32 dot product (coefficients 0, +-1, +-1/2,
 * V up to 4x the input), and the element-wise stage sums C products per position, up to 640
 * here: twice the 1e-5 that test_conv holds the GEMM and direct paths to (sums of ~600
 * products). dW sums over every tile of the batch. */
#define WINO_RTOL 2e-5

typedef struct WinoCase {
    int n, c, k, h, w;
    const char *what;
} WinoCase;

static const WinoCase shapes[] = {
    {2, 16, 16, 32, 32, "PreAct w16 stage 1"},
    {3, 32, 32, 16, 16, "PreAct w16 stage 2"},
    {5, 64, 64, 8, 8, "PreAct w16 stage 3: chunks of 4 images, 4 + 1"},
    {17, 128, 128, 4, 4, "PreAct w16 stage 4: chunks of 16, 16 + 1"},
    {1, 64, 64, 32, 32, "PreAct w64 stage 1"},
    {2, 128, 128, 16, 16, "PreAct w64 stage 2"},
    {2, 256, 256, 8, 8, "PreAct w64 stage 3"},
    {2, 512, 512, 4, 4, "PreAct w64 stage 4"},
    {1, 16, 160, 32, 32, "WRN-28-10 block 1 entry"},
    {1, 160, 160, 32, 32, "WRN-28-10 stage 1"},
    {1, 320, 320, 16, 16, "WRN-28-10 stage 2"},
    {2, 640, 640, 8, 8, "WRN-28-10 stage 3"},
    {3, 16, 48, 7, 5, "odd map, K an odd multiple of 16 (16 x 16 register tiles)"},
    {2, 48, 16, 3, 9, "odd map, one tile row of 2"},
    {3, 32, 16, 1, 1, "one pixel"},
};

/* Runs y for n images through chunks of at most g->chunk. */
static void forward_all(float *y, const float *x, const float *u, float *ws,
                        const ConvWinoGeom *g, int n)
{
    for (int i0 = 0; i0 < n; i0 += g->chunk) {
        const int nb = n - i0 < g->chunk ? n - i0 : g->chunk;
        conv_wino_forward(y + (size_t)i0 * g->y_size, x + (size_t)i0 * g->x_size, u, ws, g, nb);
    }
}

static int close_to_ref(const char *what, const float *got, const double *want, size_t n)
{
    double *d = ref_to_double(got, n);
    if (!d)
        return tl_fail("%s: out of memory", what);
    const int rc = tl_close_d(what, d, want, n, WINO_RTOL);
    free(d);
    return rc;
}

static int check_shape(const WinoCase *s, Rng *r)
{
    ConvWinoGeom gf, gt;
    if (conv_wino_geom(&gf, s->c, s->k, s->h, s->w) || conv_wino_geom(&gt, s->k, s->c, s->h, s->w))
        return tl_fail("%s: conv_wino_geom refused c %d k %d %dx%d", s->what, s->c, s->k, s->h,
                       s->w);
    const RefConv2d rg = {s->n, s->c, s->h, s->w, s->k, 3, 3, 1, 1, 1, 1, 1};
    const size_t nx = (size_t)s->n * gf.x_size, ny = (size_t)s->n * gf.y_size;
    const size_t nw = (size_t)s->k * (size_t)s->c * 9;
    const size_t nws = gf.ws_floats > gt.ws_floats ? gf.ws_floats : gt.ws_floats;
    float *x = tensor_alloc_floats(nx), *w = tensor_alloc_floats(nw);
    float *dy = tensor_alloc_floats(ny), *y = tensor_alloc_floats(ny);
    float *dx = tensor_alloc_floats(nx), *dw = tensor_alloc_floats(nw);
    float *u = tensor_alloc_floats(gf.u_floats), *du = tensor_alloc_floats(gf.u_floats);
    float *ws = tensor_alloc_floats(nws), *y1 = tensor_alloc_floats(gf.y_size);
    double *y_ref = malloc(ny * sizeof *y_ref), *dx_ref = malloc(nx * sizeof *dx_ref);
    double *dw_ref = malloc(nw * sizeof *dw_ref);
    char what[160];
    int rc = 0;
    if (!x || !w || !dy || !y || !dx || !dw || !u || !du || !ws || !y1 || !y_ref || !dx_ref ||
        !dw_ref) {
        rc = tl_fail("%s: out of memory", s->what);
        goto done;
    }
    tl_fill_uniform(x, nx, -1.0f, 1.0f, r);
    tl_fill_uniform(w, nw, -0.5f, 0.5f, r);
    tl_fill_uniform(dy, ny, -1.0f, 1.0f, r);
    ref_conv2d_forward(y_ref, x, w, NULL, &rg);
    ref_conv2d_backward(dx_ref, dw_ref, NULL, dy, x, w, &rg);

    conv_wino_pack(u, w, &gf, 0, 0, s->c);
    forward_all(y, x, u, ws, &gf, s->n);
    snprintf(what, sizeof what, "%s (n %d c %d k %d %dx%d): y vs ref", s->what, s->n, s->c,
             s->k, s->h, s->w);
    rc = close_to_ref(what, y, y_ref, ny);

    /* the last image alone: the same bits as inside its chunk */
    conv_wino_forward(y1, x + (size_t)(s->n - 1) * gf.x_size, u, ws, &gf, 1);
    if (!rc && memcmp(y1, y + (size_t)(s->n - 1) * gf.y_size, gf.y_size * sizeof(float)))
        rc = tl_fail("%s: y of the last image alone differs from y inside its chunk", s->what);

    /* dx = conv(dy, flipped W): gt has K in and C out channels */
    conv_wino_pack(u, w, &gt, 1, 0, s->k);
    forward_all(dx, dy, u, ws, &gt, s->n);
    snprintf(what, sizeof what, "%s: dx vs ref", s->what);
    rc = rc || close_to_ref(what, dx, dx_ref, nx);

    memset(du, 0, gf.u_floats * sizeof(float));
    for (int i0 = 0; i0 < s->n; i0 += gf.chunk) {
        const int nb = s->n - i0 < gf.chunk ? s->n - i0 : gf.chunk;
        conv_wino_weight_grad(du, dy + (size_t)i0 * gf.y_size, x + (size_t)i0 * gf.x_size, ws,
                              &gf, nb);
    }
    /* finish accumulates: start from a known value and take it off again */
    for (size_t i = 0; i < nw; i++)
        dw[i] = 1.0f;
    conv_wino_weight_finish(dw, du, &gf);
    for (size_t i = 0; i < nw; i++)
        dw[i] -= 1.0f;
    snprintf(what, sizeof what, "%s: dw vs ref", s->what);
    rc = rc || close_to_ref(what, dw, dw_ref, nw);
done:
    free(x), free(w), free(dy), free(y), free(dx), free(dw), free(u), free(du), free(ws);
    free(y1), free(y_ref), free(dx_ref), free(dw_ref);
    return rc;
}

static int test_vs_reference(void)
{
    ConvWinoGeom g;
    if (conv_wino_geom(&g, 16, 16, 8, 8))
        return tl_skip("this build has no AVX-512 (conv_wino needs it)");
    Rng r;
    rng_seed(&r, tl_seed, 1);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (check_shape(&shapes[i], &r))
            return 1;
    return 0;
}

static int test_refused_shapes(void)
{
    ConvWinoGeom g;
    if (conv_wino_geom(&g, 16, 16, 8, 8))
        return tl_skip("this build has no AVX-512 (conv_wino needs it)");
    const int bad[][4] = {{3, 16, 32, 32}, {16, 12, 8, 8}, {24, 32, 8, 8}, {16, 16, 0, 8}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!conv_wino_geom(&g, bad[i][0], bad[i][1], bad[i][2], bad[i][3]))
            return tl_fail("conv_wino_geom accepted c %d k %d %dx%d", bad[i][0], bad[i][1],
                           bad[i][2], bad[i][3]);
    return 0;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"vs_reference", test_vs_reference},
        {"refused_shapes", test_refused_shapes},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
