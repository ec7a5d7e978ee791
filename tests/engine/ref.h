/*
 * ref.h: naive double-precision reference kernels for the C tests (llm.c's test_gpt2 and
 * doc/layernorm idea): plain loop nests over float32 inputs, summing and returning double, so
 * that a fast kernel's float32 result can be compared at a relative tolerance set by its own
 * rounding alone. They share nothing with harness/ beyond the NCHW layout conventions of
 * tensor.h, are single-threaded and slow, and are meant for small shapes only.
 *
 * Each layer kind adds its own section: a geometry struct Ref<Kind> and ref_<kind>_* functions.
 * Backward references return plain gradients (they overwrite, never accumulate).
 */
#ifndef REF_H
#define REF_H

#include <stddef.h>

/* Copies n floats into a new double array (malloc; NULL when out of memory). */
double *ref_to_double(const float *p, size_t n);

/* ---- 2-D convolution (torch.nn.Conv2d, zero padding, no dilation) ----------------------- */

typedef struct RefConv2d {
    int n, c, h, w;        /* input (n, c, h, w) */
    int k, kh, kw;         /* weight (k, c / groups, kh, kw) */
    int sh, sw, ph, pw;    /* stride and zero padding */
    int groups;
} RefConv2d;

int ref_conv2d_out_h(const RefConv2d *g);
int ref_conv2d_out_w(const RefConv2d *g);

/* y [OUT]: (n, k, Ho, Wo); x [IN]; w [IN]; b [IN, OPTIONAL: NULL for no bias]. */
void ref_conv2d_forward(double *y, const float *x, const float *w, const float *b,
                        const RefConv2d *g);
/* Gradients of L = <y, dy>: dx [OUT]: (n, c, h, w); dw [OUT]: (k, c / groups, kh, kw);
 * db [OUT, OPTIONAL]: (k); dy [IN]: (n, k, Ho, Wo); x, w [IN]. */
void ref_conv2d_backward(double *dx, double *dw, double *db, const float *dy, const float *x,
                         const float *w, const RefConv2d *g);

#endif
