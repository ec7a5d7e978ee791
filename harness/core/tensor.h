/*
 * tensor.h: the engine's one data type, its error record and the names every file uses.
 *
 * Conventions (stated once here, used everywhere):
 *   - float32 only, row-major, activations NCHW: N batch, C channels, H height, W width.
 *     A per-example shape is a Shape {c, h, w}; a vector of F features is {F, 1, 1}.
 *   - Conv weights are (K out, C/groups in, kh, kw); linear weights are (out, in) as in PyTorch.
 *   - Gradients carry a d prefix: dx, dy, dw, db, and always mean dLoss/d(thing).
 *   - Backward OVERWRITES dx and ACCUMULATES (+=) into dw and db. Zeroing dw is the optimiser's
 *     job (THNN's updateGradInput / accGradParameters split).
 *   - A Tensor either owns its data (tensor_alloc) or is a view that never frees.
 *     tensor_free on a view or on a zeroed Tensor does nothing harmful.
 *   - Buffers are allocated with capacity: a tensor reserved for batch 128 runs batch 100
 *     without touching the allocator (a first touch of a fresh page costs ~12 us here).
 *
 * Errors: a function that can fail returns int (0 = success) and fills an Err, naming the
 * function, the argument, and actual versus expected values. Nothing here exits or prints.
 */
#ifndef TENSOR_H
#define TENSOR_H

#include <stddef.h>

#define TENSOR_MAX_DIM 4
#define ERR_MSG_MAX 512
#define TENSOR_ALIGN 64 /* one cache line; also AVX-512 vector width */

typedef struct Err {
    char msg[ERR_MSG_MAX];
} Err;

/* Formats into err (if non-NULL) and returns -1, so callers write `return err_set(err, ...)`. */
int err_set(Err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to an existing message (used to add a module path). Returns -1. */
int err_prefix(Err *err, const char *prefix);

typedef struct Shape {
    int c, h, w;
} Shape;

static inline size_t shape_size(Shape s) { return (size_t)s.c * (size_t)s.h * (size_t)s.w; }
static inline int shape_eq(Shape a, Shape b) { return a.c == b.c && a.h == b.h && a.w == b.w; }

typedef struct Tensor {
    float *data;
    int ndim;
    int shape[TENSOR_MAX_DIM];
    size_t size;  /* product of shape */
    size_t cap;   /* floats allocated; 0 for views */
    int owner;    /* 1 when data was allocated by this tensor */
} Tensor;

/* Allocates an owning tensor of the given shape, zero-filled. t must be zeroed or freed. */
int tensor_alloc(Tensor *t, int ndim, const int *shape, Err *err);
/* Ensures an owning tensor can hold cap floats. Growing reallocates (contents are lost, new
 * memory is zeroed); shrinking does nothing. The shape is left as it is. Fails on a view. */
int tensor_reserve(Tensor *t, size_t cap, Err *err);
/* Reshapes in place; fails when the new size exceeds the capacity (views: the current size). */
int tensor_reshape(Tensor *t, int ndim, const int *shape, Err *err);
/* Sets t to (n, s.c, s.h, s.w) within its capacity. */
int tensor_set_nchw(Tensor *t, int n, Shape s, Err *err);
/* Makes a non-owning view over data with the given shape. */
Tensor tensor_view(float *data, int ndim, const int *shape);
void tensor_free(Tensor *t);

/* Per-example shape of a 4-D NCHW tensor, or {size/shape[0], 1, 1} for 2-D. */
Shape tensor_example_shape(const Tensor *t);
/* Writes "(2, 3, 32, 32)" into buf. Returns buf. */
const char *tensor_shape_str(const Tensor *t, char *buf, size_t len);

/* 64-byte aligned allocation of n floats, zero-filled; NULL on failure. Free with free(). */
float *tensor_alloc_floats(size_t n);

#endif
