/*
 * conv_ref.c: conv_forward_direct, the reference path of conv.h: the plain seven-deep loop
 * nest, summing in double, single-threaded (the C tests compare the fast paths with it).
 */
#include "nn/conv.h"

void conv_forward_direct(float *y, const float *x, const float *w, const float *b,
                         const ConvParams *p, int n, int in_h, int in_w)
{
    const int ho = conv_out_h(p, in_h), wo = conv_out_w(p, in_w);
    const int cg = p->in_c / p->groups, kg = p->out_c / p->groups;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < p->out_c; k++) {
            const int c0 = k / kg * cg; /* first input channel of k's group */
            for (int oh = 0; oh < ho; oh++) {
                for (int ow = 0; ow < wo; ow++) {
                    double s = b ? (double)b[k] : 0.0;
                    for (int c = 0; c < cg; c++) {
                        for (int u = 0; u < p->kh; u++) {
                            const int ih = oh * p->stride_h - p->pad_h + u;
                            if (ih < 0 || ih >= in_h)
                                continue;
                            for (int v = 0; v < p->kw; v++) {
                                const int iw = ow * p->stride_w - p->pad_w + v;
                                if (iw < 0 || iw >= in_w)
                                    continue;
                                s += (double)x[(((size_t)i * (size_t)p->in_c + (size_t)(c0 + c))
                                                    * (size_t)in_h + (size_t)ih) * (size_t)in_w +
                                               (size_t)iw] *
                                     (double)w[(((size_t)k * (size_t)cg + (size_t)c) *
                                                    (size_t)p->kh + (size_t)u) * (size_t)p->kw +
                                               (size_t)v];
                            }
                        }
                    }
                    y[(((size_t)i * (size_t)p->out_c + (size_t)k) * (size_t)ho + (size_t)oh) *
                          (size_t)wo + (size_t)ow] = (float)s;
                }
            }
        }
    }
}
