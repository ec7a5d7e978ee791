/*
 * ref.c: naive double-precision reference kernels. See ref.h.
 */
#include "ref.h"

#include <stdlib.h>
#include <string.h>

double *ref_to_double(const float *p, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (d)
        for (size_t i = 0; i < n; i++)
            d[i] = (double)p[i];
    return d;
}

/* ---- 2-D convolution -------------------------------------------------------------------- */

int ref_conv2d_out_h(const RefConv2d *g) { return (g->h + 2 * g->ph - g->kh) / g->sh + 1; }

int ref_conv2d_out_w(const RefConv2d *g) { return (g->w + 2 * g->pw - g->kw) / g->sw + 1; }

/* Visits every (output pixel, weight, input pixel) triple of the convolution once, in a fixed
 * order, as flat indices; padding taps (input outside the image) are skipped. */
typedef void (*RefConvVisit)(void *ctx, size_t yi, size_t wi, size_t xi);

static void conv2d_visit(const RefConv2d *g, RefConvVisit visit, void *ctx)
{
    const int ho = ref_conv2d_out_h(g), wo = ref_conv2d_out_w(g);
    const int cg = g->c / g->groups, kg = g->k / g->groups;
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < g->k; k++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    size_t yi = (((size_t)i * g->k + k) * ho + oh) * wo + ow;
                    for (int c = 0; c < cg; c++) {
                        int ci = k / kg * cg + c; /* input channel within k's group */
                        for (int u = 0; u < g->kh; u++) {
                            int ih = oh * g->sh - g->ph + u;
                            if (ih < 0 || ih >= g->h)
                                continue;
                            for (int v = 0; v < g->kw; v++) {
                                int iw = ow * g->sw - g->pw + v;
                                if (iw < 0 || iw >= g->w)
                                    continue;
                                size_t xi = (((size_t)i * g->c + ci) * g->h + ih) * g->w + iw;
                                size_t wi = (((size_t)k * cg + c) * g->kh + u) * g->kw + v;
                                visit(ctx, yi, wi, xi);
                            }
                        }
                    }
                }
}

typedef struct ConvFwd {
    double *y;
    const float *x, *w;
} ConvFwd;

static void fwd_visit(void *ctx, size_t yi, size_t wi, size_t xi)
{
    ConvFwd *f = ctx;
    f->y[yi] += (double)f->w[wi] * (double)f->x[xi];
}

void ref_conv2d_forward(double *y, const float *x, const float *w, const float *b,
                        const RefConv2d *g)
{
    const size_t hw = (size_t)ref_conv2d_out_h(g) * (size_t)ref_conv2d_out_w(g);
    for (size_t i = 0; i < (size_t)g->n * g->k; i++)
        for (size_t j = 0; j < hw; j++)
            y[i * hw + j] = b ? (double)b[i % (size_t)g->k] : 0.0;
    ConvFwd f = {y, x, w};
    conv2d_visit(g, fwd_visit, &f);
}

typedef struct ConvBwd {
    double *dx, *dw;
    const float *dy, *x, *w;
} ConvBwd;

static void bwd_visit(void *ctx, size_t yi, size_t wi, size_t xi)
{
    ConvBwd *b = ctx;
    /* y[yi] += w[wi] x[xi] */
    b->dx[xi] += (double)b->dy[yi] * (double)b->w[wi];
    b->dw[wi] += (double)b->dy[yi] * (double)b->x[xi];
}

void ref_conv2d_backward(double *dx, double *dw, double *db, const float *dy, const float *x,
                         const float *w, const RefConv2d *g)
{
    const size_t hw = (size_t)ref_conv2d_out_h(g) * (size_t)ref_conv2d_out_w(g);
    memset(dx, 0, (size_t)g->n * g->c * g->h * g->w * sizeof *dx);
    memset(dw, 0, (size_t)g->k * (g->c / g->groups) * g->kh * g->kw * sizeof *dw);
    ConvBwd b = {dx, dw, dy, x, w};
    conv2d_visit(g, bwd_visit, &b);
    if (!db)
        return;
    /* y += b[k] on every pixel of channel k */
    for (int k = 0; k < g->k; k++) {
        double s = 0.0;
        for (int i = 0; i < g->n; i++)
            for (size_t j = 0; j < hw; j++)
                s += (double)dy[((size_t)i * g->k + k) * hw + j];
        db[k] = s;
    }
}
