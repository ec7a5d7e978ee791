/*
 * interp.c: Figure 2's two measurements between pairs of examples (see interp.h): one forward
 * in evaluation mode at the mixed inputs, the miss test on its logits, then one backward of the
 * mean cross-entropy to the input and a per-row norm.
 */
#include "metrics/interp.h"

#include <math.h>
#include <string.h>

#include "nn/loss.h"

static int same_shape(const Tensor *a, const Tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return 1;
}

int interp_eval(Net *net, Tensor *xm, Tensor *t, Tensor *dz, int *miss, double *gnorm,
                const Tensor *xi, const Tensor *xj, const int *yi, const int *yj, double lambda,
                int target, Err *err)
{
    char b1[64], b2[64], b3[64];
    if (!(lambda >= 0.0 && lambda <= 1.0))
        return err_set(err, "interp_eval: lambda is %g, expected a value in [0, 1]", lambda);
    if (target != INTERP_TARGET_MIXED && target != INTERP_TARGET_HEAVIER)
        return err_set(err, "interp_eval: target is %d, expected %d (mixed) or %d (heavier)",
                       target, INTERP_TARGET_MIXED, INTERP_TARGET_HEAVIER);
    if (xi->ndim < 2 || xi->shape[0] < 1 || !same_shape(xi, xj) || !same_shape(xi, xm))
        return err_set(err, "interp_eval: the ends are %s and %s and the output %s, expected "
                       "one shape (N, ...)", tensor_shape_str(xi, b1, sizeof b1),
                       tensor_shape_str(xj, b2, sizeof b2), tensor_shape_str(xm, b3, sizeof b3));
    const int n = xi->shape[0];
    if (t->ndim < 2 || t->shape[0] != n || dz->size != t->size)
        return err_set(err, "interp_eval: targets %s, expected (%d, K) and a gradient as large",
                       tensor_shape_str(t, b1, sizeof b1), n);
    const int k = t->shape[1];
    for (int i = 0; i < n; i++)
        if (yi[i] < 0 || yi[i] >= k || yj[i] < 0 || yj[i] >= k)
            return err_set(err, "interp_eval: pair %d has labels %d and %d, expected 0..%d", i,
                           yi[i], yj[i], k - 1);
    const size_t d = xi->size / (size_t)n;
    const float a = (float)lambda, b = (float)(1.0 - lambda);
    for (size_t j = 0; j < xi->size; j++)
        xm->data[j] = a * xi->data[j] + b * xj->data[j];
    memset(t->data, 0, t->size * sizeof(float));
    for (int i = 0; i < n; i++) {
        float *ti = t->data + (size_t)i * k;
        if (target == INTERP_TARGET_HEAVIER) {
            ti[lambda >= 0.5 ? yi[i] : yj[i]] = 1.0f;
        } else if (yi[i] == yj[i]) {
            ti[yi[i]] = 1.0f;
        } else {
            ti[yi[i]] = (float)lambda;
            ti[yj[i]] = (float)(1.0 - lambda);
        }
    }
    const Tensor *z, *dx;
    double loss;
    net_zero_grad(net);
    if (net_forward(net, xm, 0, NULL, &z, err))
        return -1;
    for (int i = 0; i < n; i++) {
        const float *zi = z->data + (size_t)i * k;
        int best = 0;
        for (int c = 1; c < k; c++)
            if (zi[c] > zi[best])
                best = c;
        miss[i] = best != yi[i] && best != yj[i];
    }
    if (loss_softmax_xent(&loss, dz, z, t, err) || net_backward(net, dz, &dx, err))
        return -1;
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        const float *g = dx->data + (size_t)i * d;
        for (size_t j = 0; j < d; j++)
            s += (double)g[j] * g[j];
        gnorm[i] = (double)n * sqrt(s);
    }
    return 0;
}
