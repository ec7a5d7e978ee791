/*
 * tensor.c: allocation, views and shapes of the float32 Tensor, and the Err record.
 * See tensor.h for the conventions. Memory is 64-byte aligned and zero-filled on allocation;
 * nothing here frees or reallocates behind the caller's back.
 */
#include "core/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int err_set(Err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int err_prefix(Err *err, const char *prefix)
{
    if (err && prefix && prefix[0]) {
        char tmp[ERR_MSG_MAX];
        size_t k = strlen(prefix);
        if (k > ERR_MSG_MAX / 2)
            k = ERR_MSG_MAX / 2;
        memcpy(tmp, prefix, k);
        memcpy(tmp + k, ": ", 2);
        size_t rest = strnlen(err->msg, ERR_MSG_MAX - k - 3);
        memcpy(tmp + k + 2, err->msg, rest);
        tmp[k + 2 + rest] = 0;
        memcpy(err->msg, tmp, sizeof tmp);
    }
    return -1;
}

float *tensor_alloc_floats(size_t n)
{
    size_t bytes = (n ? n : 1) * sizeof(float);
    bytes = (bytes + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN;
    float *p = aligned_alloc(TENSOR_ALIGN, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

static int shape_product(int ndim, const int *shape, size_t *out, Err *err)
{
    *out = 0;
    if (ndim < 1 || ndim > TENSOR_MAX_DIM)
        return err_set(err, "tensor: ndim is %d, expected 1..%d", ndim, TENSOR_MAX_DIM);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return err_set(err, "tensor: dimension %d is %d, expected >= 0", i + 1, shape[i]);
        n *= (size_t)shape[i];
    }
    *out = n;
    return 0;
}

int tensor_alloc(Tensor *t, int ndim, const int *shape, Err *err)
{
    size_t n;
    if (shape_product(ndim, shape, &n, err))
        return -1;
    float *p = tensor_alloc_floats(n);
    if (!p)
        return err_set(err, "tensor_alloc: out of memory for %zu floats", n);
    memset(t, 0, sizeof *t);
    t->data = p;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int));
    t->size = n;
    t->cap = n;
    t->owner = 1;
    return 0;
}

int tensor_reserve(Tensor *t, size_t cap, Err *err)
{
    if (t->data && !t->owner)
        return err_set(err, "tensor_reserve: tensor is a view and cannot grow");
    if (t->data && t->cap >= cap)
        return 0;
    float *p = tensor_alloc_floats(cap);
    if (!p)
        return err_set(err, "tensor_reserve: out of memory for %zu floats", cap);
    free(t->data);
    t->data = p;
    t->cap = cap;
    t->owner = 1;
    return 0;
}

int tensor_reshape(Tensor *t, int ndim, const int *shape, Err *err)
{
    size_t n;
    if (shape_product(ndim, shape, &n, err))
        return -1;
    size_t limit = t->owner ? t->cap : t->size;
    if (n > limit)
        return err_set(err, "tensor_reshape: %zu elements exceed the capacity %zu", n, limit);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int));
    t->size = n;
    return 0;
}

int tensor_set_nchw(Tensor *t, int n, Shape s, Err *err)
{
    int shape[4] = {n, s.c, s.h, s.w};
    return tensor_reshape(t, 4, shape, err);
}

Tensor tensor_view(float *data, int ndim, const int *shape)
{
    Tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.ndim = ndim;
    t.size = 1;
    for (int i = 0; i < ndim; i++) {
        t.shape[i] = shape[i];
        t.size *= (size_t)shape[i];
    }
    return t;
}

void tensor_free(Tensor *t)
{
    if (!t)
        return;
    if (t->owner)
        free(t->data);
    memset(t, 0, sizeof *t);
}

Shape tensor_example_shape(const Tensor *t)
{
    Shape s = {0, 1, 1};
    if (t->ndim == 4) {
        s.c = t->shape[1];
        s.h = t->shape[2];
        s.w = t->shape[3];
    } else if (t->ndim >= 1 && t->shape[0] > 0) {
        s.c = (int)(t->size / (size_t)t->shape[0]);
    }
    return s;
}

const char *tensor_shape_str(const Tensor *t, char *buf, size_t len)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, len - k, "(");
    for (int i = 0; i < t->ndim && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, i ? ", %d" : "%d", t->shape[i]);
    if (k < len)
        snprintf(buf + k, len - k, ")");
    return buf;
}
